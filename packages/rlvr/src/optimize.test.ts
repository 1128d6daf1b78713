import { Random } from "@posttrain/core";
import { DecoderModel, parseLlamaConfig } from "@posttrain/engine";
import { loadTrainingModel } from "@posttrain/training";
import { describe, expect, it } from "vitest";
import { optimize } from "./optimize.js";
import { PolicyTrainer } from "./policy-trainer.js";
import type { ScoredCompletion } from "./score.js";
import { toyModelConfig, toyRlvrConfig, toyRlvrRows } from "./test/toy.js";

const config = toyRlvrConfig({
  batch: { devices: 1, perDeviceBatchSize: 2, gradientAccumulationSteps: 1 },
  kl: { beta: 0.5, estimator: "k3" },
});

/** Optimises one rollout batch of two completions (fixed advantages) from the toy model. */
async function optimizeOnce(completions: readonly { ids: number[]; mask: number[]; advantage: number }[]) {
  const loaded = await loadTrainingModel({ source: { kind: "initialize", config: toyModelConfig, seed: 3 } });
  const trainer = await PolicyTrainer.create({
    model: new DecoderModel(parseLlamaConfig(toyModelConfig), { threadInvariantGemms: false }),
    kl: config.kl,
    clip: config.clip,
    lossChunks: 1,
    threads: 1,
    adamW: config.adamW,
    initialParameters: loaded.parameters,
  });
  // A reference away from the policy, so the KL term is not zero.
  const referenceParameters = loaded.parameters.map((value) => value * 0.5);
  const row = toyRlvrRows(1)[0]!;
  const kept: ScoredCompletion[] = completions.map((completion, group) => ({
    row,
    group,
    completionIds: completion.ids,
    completionMask: Uint8Array.from(completion.mask),
    samplingLogProbs: null,
    text: "",
    truncated: false,
    score: 0,
    reward: 0,
    advantage: completion.advantage,
  }));
  const statistics = await optimize({
    trainer,
    kept,
    referenceParameters,
    config,
    effectiveBatchSize: 2,
    learningRate: 1e-2,
    random: Random.fromSeed(1),
  });
  return { statistics, parameters: trainer.parameters };
}

describe("rlvr optimize: the completion mask", () => {
  it("a token with mask 0 adds nothing to the loss, the KL or the update (as if the completion ended before it)", async () => {
    // Causal attention: the tokens before a masked tail are scored the same with or without it.
    const masked = await optimizeOnce([
      { ids: [9, 2, 7, 7], mask: [1, 1, 0, 0], advantage: 1 },
      { ids: [6, 2], mask: [1, 1], advantage: -1 },
    ]);
    const truncated = await optimizeOnce([
      { ids: [9, 2], mask: [1, 1], advantage: 1 },
      { ids: [6, 2], mask: [1, 1], advantage: -1 },
    ]);
    const unmasked = await optimizeOnce([
      { ids: [9, 2, 7, 7], mask: [1, 1, 1, 1], advantage: 1 },
      { ids: [6, 2], mask: [1, 1], advantage: -1 },
    ]);
    expect(masked.statistics.trainedTokens).toBe(4);
    expect(unmasked.statistics.trainedTokens).toBe(6);
    expect(masked.statistics.klSum).toBeGreaterThan(0);
    expect(masked.statistics.klSum).toBeCloseTo(truncated.statistics.klSum, 5);
    expect(masked.statistics.lossSum).toBeCloseTo(truncated.statistics.lossSum, 5);
    expect(masked.statistics.gradientNorm).toBeCloseTo(truncated.statistics.gradientNorm, 5);
    const largestDifference = (a: Float32Array, b: Float32Array) =>
      a.reduce((largest, value, index) => Math.max(largest, Math.abs(value - b[index]!)), 0);
    expect(largestDifference(masked.parameters, truncated.parameters)).toBeLessThan(1e-6);
    // The same tokens unmasked do train differently.
    expect(unmasked.statistics.klSum).not.toBeCloseTo(masked.statistics.klSum, 3);
    expect(largestDifference(unmasked.parameters, masked.parameters)).toBeGreaterThan(1e-4);
  }, 60_000);
});
