import type { RunContext } from "@posttrain/core";
import {
  type ModelSource,
  openEpochRun,
  openRunCheckpoints,
  runTrainingLoop,
  type TrainingRunResult,
} from "@posttrain/training";
import { Config, type ConfigInput, type LossConfig, usesReference } from "./config.js";
import { type PairLogProbs, type PreferenceMetrics, preferenceMetrics } from "./metrics.js";
import {
  type DpoData,
  type PreferenceRow,
  pairBatchOf,
  preferenceDataFingerprint,
  validatePreferenceRows,
} from "./pairs.js";
import { type PairScores, PreferenceTrainer } from "./preference-trainer.js";
import {
  cachedReferenceLogProbs,
  defaultReferenceCacheDirectory,
  referenceCacheKey,
} from "./reference-cache.js";

export interface TrainParams {
  config: ConfigInput;
  /** The initial policy; also the frozen reference model (its weights as loaded). */
  model: ModelSource;
  data: DpoData;
  context: RunContext;
}

export interface StepMetrics extends Omit<PreferenceMetrics, "loss" | "pairs"> {
  step: number;
  epoch: number;
  /** The objective (mean over the step's pairs). */
  loss: number;
  pairs: number;
  tokens: number;
  gradientNorm: number;
  learningRate: number;
  tokensPerSecond: number;
  seconds: { data: number; forwardBackward: number; optimizer: number };
}

/** What `train` returns (@posttrain/training's {@link TrainingRunResult} with this stage's metrics). */
export type TrainResult = TrainingRunResult<{
  lastStep: StepMetrics | null;
  /** Held-out pairs under the input model before the first update (null on a resumed stage). */
  initialEvaluation: PreferenceMetrics | null;
  evaluation: PreferenceMetrics | null;
}>;

function pairsOf(
  scores: PairScores,
  reference: { chosen: Float32Array; rejected: Float32Array },
): PairLogProbs[] {
  return Array.from(scores.chosen, (_, index) => ({
    policyChosen: scores.chosen[index]!,
    policyRejected: scores.rejected[index]!,
    referenceChosen: reference.chosen[index]!,
    referenceRejected: reference.rejected[index]!,
    policyChosenMean: scores.chosenMean[index]!,
    policyRejectedMean: scores.rejectedMean[index]!,
  }));
}

/** Reference values of `indices` from the flat cache (`[2·rows]`). */
function referenceOf(
  values: Float32Array,
  indices: readonly number[],
): { chosen: Float32Array; rejected: Float32Array } {
  return {
    chosen: Float32Array.from(indices, (index) => values[2 * index]!),
    rejected: Float32Array.from(indices, (index) => values[2 * index + 1]!),
  };
}

/** Reference log-probs of every row (batches of `batchSize`, in row order), cached. */
async function referenceLogProbs(params: {
  trainer: PreferenceTrainer;
  referenceParameters: Float32Array;
  referenceHash: string;
  rows: readonly PreferenceRow[];
  loss: LossConfig;
  lossChunks: number;
  batchSize: number;
  cacheDirectory: string;
  context: RunContext;
  split: string;
}): Promise<Float32Array> {
  if (!usesReference(params.loss.type)) return new Float32Array(params.rows.length * 2);
  const key = referenceCacheKey({
    referenceModelHash: params.referenceHash,
    dataFingerprint: preferenceDataFingerprint(params.rows),
    lossType: params.loss.type,
    lossChunks: params.lossChunks,
  });
  const started = performance.now();
  const result = await cachedReferenceLogProbs({
    directory: params.cacheDirectory,
    key,
    rows: params.rows.length,
    compute: async () => {
      const values = new Float32Array(params.rows.length * 2);
      for (let start = 0; start < params.rows.length; start += params.batchSize) {
        const rows = params.rows.slice(start, start + params.batchSize);
        const scores = await params.trainer.score({
          batch: pairBatchOf(rows),
          parameters: params.referenceParameters,
        });
        rows.forEach((_, offset) => {
          values[2 * (start + offset)] = scores.chosen[offset]!;
          values[2 * (start + offset) + 1] = scores.rejected[offset]!;
        });
      }
      return values;
    },
  });
  params.context.events.write({
    type: "reference-log-probs",
    split: params.split,
    cacheHit: result.hit,
    key,
    path: result.path,
    seconds: (performance.now() - started) / 1000,
  });
  return result.values;
}

/** Scores held-out pairs under the current policy. */
async function evaluate(params: {
  trainer: PreferenceTrainer;
  rows: readonly PreferenceRow[];
  reference: Float32Array;
  loss: LossConfig;
  batchSize: number;
}): Promise<PreferenceMetrics> {
  const pairs: PairLogProbs[] = [];
  for (let start = 0; start < params.rows.length; start += params.batchSize) {
    const indices = Array.from(
      { length: Math.min(params.batchSize, params.rows.length - start) },
      (_, offset) => start + offset,
    );
    const scores = await params.trainer.score({
      batch: pairBatchOf(indices.map((index) => params.rows[index]!)),
    });
    pairs.push(...pairsOf(scores, referenceOf(params.reference, indices)));
  }
  return preferenceMetrics(params.loss, pairs);
}

/** Runs (or resumes) the DPO stage in `context.directory`. */
export async function train(params: TrainParams): Promise<TrainResult> {
  const { context } = params;
  const {
    config,
    model: loaded,
    evaluationRows,
    order,
    totalSteps,
    schedule,
    configKey,
    ...inputs
  } = await openEpochRun({
    context,
    stage: "dpo",
    schema: Config,
    config: params.config,
    model: params.model,
    data: params.data,
    validateRows: validatePreferenceRows,
    heldOutField: (config) => (config.evaluation === null ? null : "evaluation"),
  });
  const effectiveBatch = inputs.effectiveBatchSize;
  context.log(
    `dpo: ${config.loss.type} β=${config.loss.beta}, effective batch ${effectiveBatch} (1 device × ${config.batch.perDeviceBatchSize} × ${config.batch.gradientAccumulationSteps}), ${totalSteps} steps`,
  );

  const trainer = await PreferenceTrainer.create({
    model: loaded.model,
    loss: config.loss,
    lossChunks: config.lossChunks,
    threads: config.threads,
    adamW: config.adamW,
    initialParameters: loaded.parameters,
  });
  const cacheDirectory = config.referenceCacheDirectory ?? defaultReferenceCacheDirectory();
  const referenceFor = (rows: readonly PreferenceRow[], split: string, batchSize: number) =>
    referenceLogProbs({
      trainer,
      referenceParameters: loaded.parameters,
      referenceHash: loaded.hash,
      rows,
      loss: config.loss,
      lossChunks: config.lossChunks,
      batchSize,
      cacheDirectory,
      context,
      split,
    });
  const trainReference = await referenceFor(params.data.train, "train", config.batch.perDeviceBatchSize);
  const evaluationReference =
    config.evaluation === null
      ? null
      : await referenceFor(evaluationRows, "evaluation", config.evaluation.batchSize);

  const checkpoints = await openRunCheckpoints({
    context,
    stage: "dpo",
    trainer: trainer.asCheckpointTarget(),
    configKey,
  });
  let evaluation: PreferenceMetrics | null = null;
  let initialEvaluation: PreferenceMetrics | null = null;
  const runEvaluation = async () => {
    if (config.evaluation === null || evaluationReference === null) return;
    evaluation = await evaluate({
      trainer,
      rows: evaluationRows,
      reference: evaluationReference,
      loss: config.loss,
      batchSize: config.evaluation.batchSize,
    });
    context.events.write({ type: "evaluation", step: trainer.step, ...evaluation });
  };

  return runTrainingLoop({
    context,
    label: `dpo (${config.loss.type})`,
    trainer,
    model: loaded,
    totalSteps,
    checkpoints,
    checkpointEverySteps: config.checkpointEverySteps,
    // The held-out pairs under the input model (the reference) before the first update: the
    // baseline DPO's gain is measured against (its reference-free `policyAccuracy` is the SFT
    // model's). Only a fresh stage has it; a resumed one starts past step 0.
    beforeFirstStep: async () => {
      if (trainer.step !== 0) return;
      await runEvaluation();
      initialEvaluation = evaluation;
    },
    runStep: async ({ step }) => {
      const started = performance.now();
      const { epoch, microBatches } = order.step(step);
      const batches = microBatches.map((indices) =>
        pairBatchOf(indices.map((index) => params.data.train[index]!)),
      );
      const references = microBatches.map((indices) => referenceOf(trainReference, indices));
      const lossScales = microBatches.map(
        (indices) => 1 / (indices.length * config.batch.gradientAccumulationSteps),
      );
      let tokens = 0;
      for (const batch of batches)
        for (const side of [batch.chosen, batch.rejected])
          for (const segment of side.segmentIds!) tokens += segment === 0n ? 0 : 1;
      const dataDone = performance.now();
      const { loss, scores } = await trainer.accumulate({ microBatches: batches, references, lossScales });
      const backwardDone = performance.now();
      const { gradientNorm, learningRate } = trainer.update({
        schedule,
        maxGradientNorm: config.maxGradientNorm,
      });
      const finished = performance.now();
      const pairs = scores.flatMap((score, index) => pairsOf(score, references[index]!));
      const { loss: _pairLoss, pairs: pairCount, ...preference } = preferenceMetrics(config.loss, pairs);
      const metrics: StepMetrics = {
        step: step + 1,
        epoch,
        loss,
        pairs: pairCount,
        ...preference,
        tokens,
        gradientNorm,
        learningRate,
        tokensPerSecond: tokens / ((finished - started) / 1000),
        seconds: {
          data: (dataDone - started) / 1000,
          forwardBackward: (backwardDone - dataDone) / 1000,
          optimizer: (finished - backwardDone) / 1000,
        },
      };
      return {
        metrics,
        progress: { loss, accuracy: preference.accuracy, "tok/s": Math.round(metrics.tokensPerSecond) },
      };
    },
    heldOut:
      config.evaluation === null
        ? null
        : { everySteps: config.evaluation.everySteps, atEnd: true, run: runEvaluation },
    metrics: (lastStep) => ({ lastStep, initialEvaluation, evaluation }),
  });
}
