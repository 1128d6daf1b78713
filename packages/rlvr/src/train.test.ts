import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext, readEvents } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { toyModelConfig, toyRlvrConfig, toyRlvrRows, toyTokenizer } from "./testing/toy.js";
import { train } from "./train.js";

const directory = (name: string) => mkdtempSync(join(tmpdir(), `rlvr-${name}-`));
const context = (path: string) =>
  createRunContext({ directory: path, seed: 1, streamName: "rlvr", progressMode: "silent" });

describe("rlvr (GRPO) train", () => {
  it("raises the mean verifier reward clearly above the starting policy within a fixed budget", async () => {
    const runDirectory = directory("learn");
    const result = await train({
      config: toyRlvrConfig({ monitor: { everySteps: 10, klBound: null } }),
      model: { kind: "initialize", config: toyModelConfig, seed: 3 },
      data: { train: toyRlvrRows(), evaluation: toyRlvrRows() },
      context: context(runDirectory),
      tokenizer: toyTokenizer,
    });
    expect(result.status).toBe("completed");
    const { events } = readEvents({ path: join(runDirectory, "events.jsonl") });
    const steps = events.filter((event) => event.type === "step-end");
    expect(steps).toHaveLength(20);
    const reward = (from: number, to: number) =>
      steps.slice(from, to).reduce((total, event) => total + (event["rewardMean"] as number), 0) /
      (to - from);
    const start = reward(0, 3);
    const end = reward(17, 20);
    expect(end).toBeGreaterThan(start + 3);
    // The PPO ratio's old log-probs come from the training graph; the sampler agrees with it.
    for (const event of steps) expect(event["logProbMismatch"] as number).toBeLessThan(1e-4);
    const last = steps.at(-1)!;
    for (const field of [
      "kl",
      "entropy",
      "clipFraction",
      "responseLength",
      "truncationRate",
      "accuracy",
      "rewardStd",
    ])
      expect(typeof last[field]).toBe("number");
    expect(last["perVerifier"]).toHaveProperty("gsm8k");
    expect(Object.keys(last["seconds"] as object)).toEqual(["generate", "verify", "train"]);
    const checks = result.metrics.checks;
    expect(checks.map((check) => check.step)).toEqual([0, 10, 20]);
    expect(checks.at(-1)!.heldOutAccuracy).toBeGreaterThan(checks[0]!.heldOutAccuracy);
  }, 120_000);
});
