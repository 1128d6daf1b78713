/**
 * The plan of an epoch-based stage (SFT, DPO): the seeded data order over the training rows
 * (`context.random.stream("data")`), the total optimizer steps (`duration.steps`, or
 * epochs × steps per epoch), the engine schedule; then the resolved config is recorded
 * (`{ stage, config, model: { config, parameterHash }, data: { trainRows, evaluationRows },
 * effectiveBatchSize, stepsPerEpoch, totalSteps }`) and an `effective-batch` event written.
 */
import type { RunContext } from "@posttrain/core";
import type { LearningRateSchedule, LlamaConfig } from "@posttrain/engine";
import type { z } from "zod";
import type { batchConfigSchema, durationSchema, learningRateConfigSchema } from "./config-schemas.js";
import { DataOrder } from "./data-order.js";
import { engineSchedule, recordResolvedConfig } from "./run-support.js";
import { checkStageInputs, type StageInputs } from "./stage-inputs.js";

export interface EpochPlan {
  order: DataOrder;
  totalSteps: number;
  schedule: LearningRateSchedule;
  /** The resolved config's fingerprint (checkpoints carry it). */
  configKey: string;
}

export async function planEpochRun(params: {
  context: RunContext;
  /** `sft`, `dpo`: recorded as `stage` in the resolved config. */
  stage: string;
  /** The parsed stage config (recorded whole). */
  config: {
    batch: z.output<typeof batchConfigSchema>;
    duration: z.output<typeof durationSchema>;
    learningRate: z.output<typeof learningRateConfigSchema>;
  };
  model: { config: LlamaConfig; hash: string };
  trainRows: number;
  evaluationRows: number;
  /** From {@link effectiveBatchSize} (checked before the model is loaded). */
  effectiveBatchSize: number;
}): Promise<EpochPlan> {
  const { context, config } = params;
  const order = new DataOrder({
    random: context.random.stream("data"),
    rowCount: params.trainRows,
    perDeviceBatchSize: config.batch.perDeviceBatchSize,
    gradientAccumulationSteps: config.batch.gradientAccumulationSteps,
  });
  const totalSteps =
    "steps" in config.duration ? config.duration.steps : config.duration.epochs * order.stepsPerEpoch;
  const schedule = engineSchedule({ learningRate: config.learningRate, totalSteps });
  const configKey = await recordResolvedConfig({
    context,
    resolved: {
      stage: params.stage,
      config,
      model: { config: params.model.config, parameterHash: params.model.hash },
      data: { trainRows: params.trainRows, evaluationRows: params.evaluationRows },
      effectiveBatchSize: params.effectiveBatchSize,
      stepsPerEpoch: order.stepsPerEpoch,
      totalSteps,
    },
  });
  context.events.write({
    type: "effective-batch",
    devices: config.batch.devices,
    perDeviceBatchSize: config.batch.perDeviceBatchSize,
    gradientAccumulationSteps: config.batch.gradientAccumulationSteps,
    effectiveBatchSize: params.effectiveBatchSize,
  });
  return { order, totalSteps, schedule, configKey };
}

/**
 * The start of an epoch-based stage (SFT, DPO): {@link checkStageInputs}, then
 * {@link planEpochRun} over the checked rows.
 */
export async function openEpochRun<
  Schema extends z.ZodType<{
    batch: z.output<typeof batchConfigSchema>;
    duration: z.output<typeof durationSchema>;
    learningRate: z.output<typeof learningRateConfigSchema>;
  }>,
  Row,
>(
  params: Parameters<typeof checkStageInputs<Schema, Row>>[0] & { context: RunContext },
): Promise<StageInputs<z.output<Schema>, Row> & EpochPlan> {
  const inputs = await checkStageInputs(params);
  const plan = await planEpochRun({
    context: params.context,
    stage: params.stage,
    config: inputs.config,
    model: inputs.model,
    trainRows: params.data.train.length,
    evaluationRows: inputs.evaluationRows.length,
    effectiveBatchSize: inputs.effectiveBatchSize,
  });
  return { ...inputs, ...plan };
}
