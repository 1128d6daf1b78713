import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext, readEvents } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { toyDpoConfig, toyModelConfig, toyPreferenceRows } from "./test/toy.js";
import { train } from "./train.js";

const directory = (name: string) => mkdtempSync(join(tmpdir(), `dpo-${name}-`));
const context = (path: string) =>
  createRunContext({ directory: path, seed: 1, streamName: "dpo", progressMode: "silent" });
const model = { kind: "initialize" as const, config: toyModelConfig, seed: 3 };
const data = {
  train: toyPreferenceRows({ count: 32, seed: 1, stream: "train" }),
  evaluation: toyPreferenceRows({ count: 24, seed: 1, stream: "held-out" }),
};

describe("dpo train", () => {
  it("raises preference accuracy on held-out pairs (dpo_norm, β = 5) and caches reference log-probs", async () => {
    const cache = directory("cache");
    const config = toyDpoConfig({
      duration: { epochs: 6 },
      evaluation: { everySteps: 1000, batchSize: 8 },
      referenceCacheDirectory: cache,
      checkpointEverySteps: 100,
    });
    const before = await train({
      config: { ...config, duration: { steps: 1 }, learningRate: { ...config.learningRate, peak: 0 } },
      model,
      data,
      context: context(directory("before")),
    });
    const runDirectory = directory("run");
    const result = await train({ config, model, data, context: context(runDirectory) });
    const start = before.metrics.evaluation!;
    const end = result.metrics.evaluation!;
    // At the reference every implicit reward is 0 (accuracy 0 by ties); the policy itself prefers
    // chosen at chance level before training and almost always after.
    expect(start.accuracy).toBe(0);
    expect(start.policyAccuracy).toBeGreaterThan(0.2);
    expect(start.policyAccuracy).toBeLessThan(0.8);
    expect(end.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(end.policyAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(end.margin).toBeGreaterThan(start.margin);
    expect(end.loss).toBeLessThan(start.loss);
    // The run scored the held-out pairs before its first update: the input model's numbers,
    // what a zero-learning-rate step leaves unchanged.
    expect(result.metrics.initialEvaluation).toEqual(start);
    expect(before.metrics.initialEvaluation).toEqual(start);
    const { events } = readEvents({ path: join(runDirectory, "events.jsonl") });
    const references = events.filter((event) => event.type === "reference-log-probs");
    // The first (peak 0) run computed and stored both splits; this run read them from the cache.
    expect(references.map((event) => [event["split"], event["cacheHit"]])).toEqual([
      ["train", true],
      ["evaluation", true],
    ]);
    expect(readdirSync(cache).filter((name) => name.endsWith(".bin"))).toHaveLength(2);
    const steps = events.filter((event) => event.type === "step-end");
    expect(steps).toHaveLength(24);
    for (const field of ["chosenReward", "rejectedReward", "margin", "accuracy", "loss", "tokensPerSecond"])
      expect(typeof steps[0]![field]).toBe("number");
    // With zero learning rate the policy is the reference: rewards 0, loss log 2.
    expect(before.metrics.lastStep!.loss).toBeCloseTo(Math.log(2), 5);
  }, 60_000);

  it("simpo needs no reference model and trains", async () => {
    const runDirectory = directory("simpo");
    const result = await train({
      config: toyDpoConfig({
        loss: { type: "simpo", beta: 2, labelSmoothing: 0, gammaBetaRatio: 0.5 },
        duration: { steps: 12 },
        evaluation: { everySteps: 12, batchSize: 8 },
        referenceCacheDirectory: directory("cache"),
      }),
      model,
      data,
      context: context(runDirectory),
    });
    const { events } = readEvents({ path: join(runDirectory, "events.jsonl") });
    expect(events.some((event) => event.type === "reference-log-probs")).toBe(false);
    const steps = events.filter((event) => event.type === "step-end");
    expect(steps.at(-1)!["loss"] as number).toBeLessThan(steps[0]!["loss"] as number);
    expect(result.metrics.evaluation!.accuracy).toBeGreaterThan(0.7);
  }, 60_000);
});
