import type { RunContext } from "@posttrain/core";
import {
  type CausalLmTrainer,
  clipFactor,
  CausalLmTrainer as EngineTrainer,
  globalGradientNorm,
  type LearningRateSchedule,
  learningRateAt,
  type TokenBatch,
} from "@posttrain/engine";
import {
  type ModelSource,
  openEpochRun,
  openRunCheckpoints,
  runTrainingLoop,
  type TrainingRunResult,
} from "@posttrain/training";
import { type SftData, type SftRow, tokenBatchOf, validateSftRows } from "./batches.js";
import { Config, type ConfigInput } from "./config.js";
import { TokenScorer } from "./forward.js";

export interface TrainParams {
  config: ConfigInput;
  model: ModelSource;
  data: SftData;
  context: RunContext;
}

/** One optimizer step's figures (also the `step-end` event). */
export interface StepMetrics {
  step: number;
  epoch: number;
  /** The objective the gradient is of (sum: Σ token CE / accumulation; mean: mean of micro-batch means). */
  loss: number;
  /** Σ token CE / trained tokens over the whole step (comparable across reductions). */
  tokenLoss: number;
  trainedTokens: number;
  /** Non-padding input tokens of the step. */
  tokens: number;
  gradientNorm: number;
  learningRate: number;
  tokensPerSecond: number;
  seconds: { data: number; forwardBackward: number; optimizer: number };
}

/** What `train` returns (@posttrain/training's {@link TrainingRunResult} with this stage's metrics). */
export type TrainResult = TrainingRunResult<{ lastStep: StepMetrics | null; evaluationLoss: number | null }>;

function countTokens(batch: TokenBatch): { tokens: number; trained: number } {
  let tokens = 0;
  let trained = 0;
  for (let index = 0; index < batch.lossMask.length; index += 1) {
    if (batch.segmentIds === undefined || batch.segmentIds[index] !== 0n) tokens += 1;
    trained += batch.lossMask[index]!;
  }
  return { tokens, trained };
}

/**
 * One optimizer update with open-instruct's loss scaling. Each micro-batch b contributes
 * weight·∇(Σ token CE of b): `sum` → weight 1/accumulation, `mean` → 1/(tokens_b·accumulation).
 * Equal weights use one accumulated pass and fold the weight into AdamW's gradient scale. The
 * learning rate is the schedule's at `trainer.step`; the caller (the training loop) advances
 * the step counter.
 */
export async function sftOptimizerStep(params: {
  trainer: CausalLmTrainer;
  microBatches: readonly TokenBatch[];
  reduction: "sum" | "mean";
  gradientAccumulationSteps: number;
  schedule: LearningRateSchedule;
  maxGradientNorm: number | null;
}): Promise<{
  loss: number;
  tokenLoss: number;
  trained: number;
  gradientNorm: number;
  learningRate: number;
  seconds: { forwardBackward: number; optimizer: number };
}> {
  const { trainer, microBatches } = params;
  const started = performance.now();
  const trainedPerBatch = microBatches.map((batch) => countTokens(batch).trained);
  const weights = trainedPerBatch.map((trained) =>
    params.reduction === "sum"
      ? 1 / params.gradientAccumulationSteps
      : 1 / (Math.max(1, trained) * params.gradientAccumulationSteps),
  );
  let gradientScale: number;
  let crossEntropy = 0;
  let loss = 0;
  if (weights.every((weight) => weight === weights[0])) {
    const result = await trainer.accumulateGradients(microBatches);
    crossEntropy = result.loss;
    loss = result.loss * weights[0]!;
    gradientScale = weights[0]!;
  } else {
    const total = new Float32Array(trainer.gradients.length);
    for (const [index, batch] of microBatches.entries()) {
      const result = await trainer.accumulateGradients([batch]);
      crossEntropy += result.loss;
      loss += result.loss * weights[index]!;
      const weight = weights[index]!;
      const gradients = trainer.gradients;
      for (let position = 0; position < total.length; position += 1)
        total[position]! += weight * gradients[position]!;
    }
    trainer.gradients.set(total);
    gradientScale = 1;
  }
  const backwardDone = performance.now();
  const gradientNorm = globalGradientNorm(trainer.gradients) * gradientScale;
  const learningRate = learningRateAt({ schedule: params.schedule, step: trainer.step });
  trainer.optimizer.update({
    parameters: trainer.parameters,
    gradients: trainer.gradients,
    learningRate,
    gradientScale:
      gradientScale * clipFactor({ norm: gradientNorm, maxNorm: params.maxGradientNorm ?? undefined }),
  });
  const trained = trainedPerBatch.reduce((a, b) => a + b, 0);
  return {
    loss,
    tokenLoss: crossEntropy / Math.max(1, trained),
    trained,
    gradientNorm,
    learningRate,
    seconds: {
      forwardBackward: (backwardDone - started) / 1000,
      optimizer: (performance.now() - backwardDone) / 1000,
    },
  };
}

/** Held-out token-mean cross-entropy. */
export async function evaluationLoss(params: {
  scorer: TokenScorer;
  rows: readonly SftRow[];
  batchSize: number;
  parameters: Float32Array;
}): Promise<number> {
  let sum = 0;
  let tokens = 0;
  for (let start = 0; start < params.rows.length; start += params.batchSize) {
    const batch = tokenBatchOf(params.rows.slice(start, start + params.batchSize));
    const result = await params.scorer.crossEntropy({ batch, parameters: params.parameters });
    sum += result.sum;
    tokens += result.tokens;
  }
  return sum / Math.max(1, tokens);
}

/** Runs (or resumes) the SFT stage in `context.directory`. */
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
    stage: "sft",
    schema: Config,
    config: params.config,
    model: params.model,
    data: params.data,
    validateRows: validateSftRows,
    heldOutField: (config) => (config.evaluation === null ? null : "evaluation"),
  });
  const effectiveBatch = inputs.effectiveBatchSize;
  context.log(
    `sft: effective batch ${effectiveBatch} (1 device × ${config.batch.perDeviceBatchSize} × ${config.batch.gradientAccumulationSteps}), ${totalSteps} steps, reduction ${config.reduction}`,
  );

  const trainer = await EngineTrainer.create({
    model: loaded.model,
    options: { schedule, adamW: config.adamW, reduction: "sum", lossChunks: config.lossChunks },
    initialParameters: loaded.parameters,
    threads: config.threads,
  });
  const checkpoints = await openRunCheckpoints({ context, stage: "sft", trainer, configKey });
  const scorer =
    config.evaluation === null
      ? null
      : await TokenScorer.create({
          model: loaded.model,
          layout: trainer.layout,
          lossChunks: config.lossChunks,
          threads: config.threads,
        });
  let evaluation: number | null = null;

  return runTrainingLoop({
    context,
    label: "sft",
    trainer,
    model: loaded,
    totalSteps,
    checkpoints,
    checkpointEverySteps: config.checkpointEverySteps,
    runStep: async ({ step }) => {
      const started = performance.now();
      const { epoch, microBatches } = order.step(step);
      const batches = microBatches.map((indices) =>
        tokenBatchOf(indices.map((index) => params.data.train[index]!)),
      );
      const tokens = batches.reduce((total, batch) => total + countTokens(batch).tokens, 0);
      const dataSeconds = (performance.now() - started) / 1000;
      const result = await sftOptimizerStep({
        trainer,
        microBatches: batches,
        reduction: config.reduction,
        gradientAccumulationSteps: config.batch.gradientAccumulationSteps,
        schedule,
        maxGradientNorm: config.maxGradientNorm,
      });
      const seconds = (performance.now() - started) / 1000;
      const metrics: StepMetrics = {
        step: step + 1,
        epoch,
        loss: result.loss,
        tokenLoss: result.tokenLoss,
        trainedTokens: result.trained,
        tokens,
        gradientNorm: result.gradientNorm,
        learningRate: result.learningRate,
        tokensPerSecond: tokens / seconds,
        seconds: { data: dataSeconds, ...result.seconds },
      };
      return {
        metrics,
        progress: { loss: result.tokenLoss, "tok/s": Math.round(metrics.tokensPerSecond) },
      };
    },
    heldOut:
      scorer === null || config.evaluation === null
        ? null
        : {
            everySteps: config.evaluation.everySteps,
            atEnd: true,
            run: async ({ step }) => {
              evaluation = await evaluationLoss({
                scorer,
                rows: evaluationRows,
                batchSize: config.evaluation!.batchSize,
                parameters: trainer.parameters,
              });
              context.events.write({ type: "evaluation", step, loss: evaluation });
            },
          },
    metrics: (lastStep) => ({ lastStep, evaluationLoss: evaluation }),
    endEvent: (metrics) => ({ evaluationLoss: metrics.evaluationLoss }),
  });
}
