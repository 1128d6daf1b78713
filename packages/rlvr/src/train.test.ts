import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext, readEvents } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { toyModelConfig, toyRlvrConfig, toyRlvrRows, toyTokenizer } from "./test/toy.js";
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

  it("scores length rewards on the generated token ids (max_length: open-instruct's len(tokenized_prediction))", async () => {
    const runDirectory = directory("length");
    const rows = toyRlvrRows(4).map((row) => ({ ...row, groundTruth: ["2"], dataset: ["max_length"] }));
    const result = await train({
      config: toyRlvrConfig({
        steps: 1,
        rollouts: { promptsPerStep: 4, samplesPerPrompt: 4, temperature: 1, maxNewTokens: 1 },
      }),
      model: { kind: "initialize", config: toyModelConfig, seed: 3 },
      data: { train: rows },
      context: context(runDirectory),
      tokenizer: toyTokenizer,
    });
    expect(result.status).toBe("completed");
    const { events } = readEvents({ path: join(runDirectory, "events.jsonl") });
    const step = events.find((event) => event.type === "step-end")!;
    // Every completion is exactly one generated token: score 1 − |1 − 2| / 32768 for each.
    expect(step["rewardMean"] as number).toBeCloseTo(10 * (1 - 1 / 32_768), 9);
  }, 120_000);
});
