/**
 * RLVR step, part 3 — optimisation: the kept completions' old (rollout-policy) and reference
 * log-probs from the training graph's forward pass, then `epochs` passes over them in
 * optimizer mini-batches of the effective batch, shuffled per pass by the step's random
 * stream, each a clipped AdamW update at the step's learning rate. Only tokens whose loss
 * mask is 1 (the completion mask of each rollout) count in the loss, the KL term, the token
 * mean and every statistic returned. The trainer's step counter is the training loop's.
 */
import type { Random } from "@posttrain/core";
import { promptCompletionBatch } from "@posttrain/training";
import type { Config } from "./config.js";
import type { PolicyBatch, PolicyTrainer } from "./policy-trainer.js";
import { klEstimate } from "./rewards.js";
import type { ScoredCompletion } from "./score.js";

/** What the optimisation of one rollout batch measured (sums over trained tokens). */
export interface OptimizationStatistics {
  /** Trained (mask 1) tokens of the kept completions. */
  trainedTokens: number;
  /** Σ KL estimate (configured estimator) of the rollout policy to the reference over trained tokens. */
  klSum: number;
  /** Σ log π_old over trained tokens. */
  logProbSum: number;
  /** Max |sampling − training-graph log-prob| over trained tokens (temperature 1 only, else null). */
  logProbMismatch: number | null;
  /** Trained tokens (counted per pass) where the PPO clip was active, and all of them. */
  clippedTokens: number;
  clipTokens: number;
  optimizerSteps: number;
  lossSum: number;
  /** The last update's gradient norm. */
  gradientNorm: number;
}

export async function optimize(params: {
  trainer: PolicyTrainer;
  kept: readonly ScoredCompletion[];
  /** The frozen KL reference's parameters. */
  referenceParameters: Float32Array;
  config: Pick<Config, "batch" | "kl" | "clip" | "epochs" | "maxGradientNorm"> & {
    rollouts: Pick<Config["rollouts"], "temperature">;
  };
  effectiveBatchSize: number;
  learningRate: number;
  /** The step's random stream (`mini-batches` shuffles each pass). */
  random: Random;
}): Promise<OptimizationStatistics> {
  const { trainer, kept, config } = params;
  const microSize = config.batch.perDeviceBatchSize;
  const shuffles = params.random.stream("mini-batches");
  let klSum = 0;
  let logProbSum = 0;
  let trainedTokens = 0;
  let logProbMismatch: number | null = config.rollouts.temperature === 1 ? 0 : null;
  const prepared = new Map<ScoredCompletion, PolicyBatch>();
  for (const member of kept) {
    const batch = promptCompletionBatch({
      rows: [
        {
          promptIds: member.row.promptIds,
          completionIds: member.completionIds,
          completionMask: member.completionMask,
        },
      ],
    });
    const oldLogProbs = await trainer.score({ batch });
    const referenceLogProbs =
      config.kl.beta > 0
        ? await trainer.score({ batch, parameters: params.referenceParameters })
        : new Float32Array(oldLogProbs.length);
    const advantages = new Float32Array(oldLogProbs.length).fill(member.advantage);
    if (logProbMismatch !== null && member.samplingLogProbs !== null) {
      const offset = member.row.promptIds.length - 1;
      member.samplingLogProbs.forEach((value, index) => {
        if (member.completionMask[index] === 0) return;
        logProbMismatch = Math.max(logProbMismatch!, Math.abs(value - oldLogProbs[offset + index]!));
      });
    }
    batch.lossMask.forEach((value, index) => {
      if (value === 0) return;
      trainedTokens += 1;
      logProbSum += oldLogProbs[index]!;
      klSum += klEstimate({
        estimator: config.kl.estimator,
        logProb: oldLogProbs[index]!,
        referenceLogProb: referenceLogProbs[index]!,
      });
    });
    prepared.set(member, { ...batch, advantages, oldLogProbs, referenceLogProbs });
  }
  let optimizerSteps = 0;
  let lossSum = 0;
  let gradientNorm = 0;
  let clippedTokens = 0;
  let clipTokens = 0;
  for (let epoch = 0; epoch < config.epochs; epoch += 1) {
    const shuffled = shuffles
      .stream(`epoch-${epoch}`)
      .permutation(kept.length)
      .map((index) => kept[index]!);
    for (let start = 0; start < shuffled.length; start += params.effectiveBatchSize) {
      const chunk = shuffled.slice(start, start + params.effectiveBatchSize);
      const batches: PolicyBatch[] = [];
      for (let micro = 0; micro < chunk.length; micro += microSize)
        batches.push(
          mergePolicyBatches(chunk.slice(micro, micro + microSize).map((member) => prepared.get(member)!)),
        );
      const tokens = batches.reduce((total, batch) => total + batch.lossMask.reduce((a, b) => a + b, 0), 0);
      const result = await trainer.accumulate({ microBatches: batches, lossScale: 1 / Math.max(1, tokens) });
      batches.forEach((batch, index) => {
        const current = result.logProbs[index]!;
        batch.lossMask.forEach((value, position) => {
          if (value === 0) return;
          clipTokens += 1;
          const ratio = Math.exp(current[position]! - batch.oldLogProbs[position]!);
          const advantage = batch.advantages[position]!;
          if (
            (advantage > 0 && ratio > 1 + config.clip.high) ||
            (advantage < 0 && ratio < 1 - config.clip.low)
          )
            clippedTokens += 1;
        });
      });
      gradientNorm = trainer.update({
        learningRate: params.learningRate,
        maxGradientNorm: config.maxGradientNorm,
      }).gradientNorm;
      lossSum += result.loss;
      optimizerSteps += 1;
    }
  }
  return {
    trainedTokens,
    klSum,
    logProbSum,
    logProbMismatch,
    clippedTokens,
    clipTokens,
    optimizerSteps,
    lossSum,
    gradientNorm,
  };
}

/** Concatenates single-row policy batches into one micro-batch (right-padded to the longest). */
export function mergePolicyBatches(batches: readonly PolicyBatch[]): PolicyBatch {
  const sequenceLength = Math.max(...batches.map((batch) => batch.sequenceLength));
  const batchSize = batches.reduce((total, batch) => total + batch.batchSize, 0);
  const count = batchSize * sequenceLength;
  const merged: PolicyBatch = {
    batchSize,
    sequenceLength,
    inputIds: new BigInt64Array(count),
    labels: new BigInt64Array(count),
    lossMask: new Float32Array(count),
    positionIds: new BigInt64Array(count),
    segmentIds: new BigInt64Array(count),
    advantages: new Float32Array(count),
    oldLogProbs: new Float32Array(count),
    referenceLogProbs: new Float32Array(count),
  };
  let row = 0;
  for (const batch of batches) {
    for (let source = 0; source < batch.batchSize; source += 1, row += 1) {
      const from = source * batch.sequenceLength;
      const to = row * sequenceLength;
      const length = batch.sequenceLength;
      merged.inputIds.set(batch.inputIds.subarray(from, from + length), to);
      merged.labels.set(batch.labels.subarray(from, from + length), to);
      merged.lossMask.set(batch.lossMask.subarray(from, from + length), to);
      merged.positionIds!.set(batch.positionIds!.subarray(from, from + length), to);
      merged.segmentIds!.set(batch.segmentIds!.subarray(from, from + length), to);
      merged.advantages.set(batch.advantages.subarray(from, from + length), to);
      merged.oldLogProbs.set(batch.oldLogProbs.subarray(from, from + length), to);
      merged.referenceLogProbs.set(batch.referenceLogProbs.subarray(from, from + length), to);
    }
  }
  return merged;
}
