/**
 * @posttrain/training — the layer between the engine and the stages (see README.md): the
 * `StageDefinition` seam, the one training loop, run folders (resolved config, checkpoints,
 * model folder, metrics) and the config fragments every stage shares.
 */

export {
  collectRows,
  emptyTokenBatch,
  type PromptCompletionRow,
  promptCompletionBatch,
} from "./completion-batch.js";
export {
  adamWConfigSchema,
  batchConfigSchema,
  durationSchema,
  learningRateConfigSchema,
} from "./config-schemas.js";
export { DataOrder } from "./data-order.js";
export { type EpochPlan, openEpochRun, planEpochRun } from "./epoch-plan.js";
export { TrainError, type TrainErrorCode } from "./errors.js";
export { GraphTrainer, tokenBatchFeeds } from "./graph-trainer.js";
export { huggingFaceConfig, safetensorsBytes, writeModelDirectory } from "./model-directory.js";
export {
  loadTrainingModel,
  type ModelSource,
  modelSourceSchema,
  parameterBytes,
  parseModelSource,
  type TrainingModel,
} from "./model-source.js";
export { openRunCheckpoints, type RunCheckpoints } from "./run-checkpoints.js";
export { completeTrainingRun, interruptTrainingRun, type TrainingRunResult } from "./run-result.js";
export { effectiveBatchSize, engineSchedule, recordResolvedConfig } from "./run-support.js";
export {
  type AnyStageDefinition,
  numericFields,
  type PreparedRows,
  type StageData,
  type StageDefinition,
  type StageRows,
  type StageTrainParams,
} from "./stage.js";
export { checkStageInputs, type StageInputs } from "./stage-inputs.js";
export {
  type HeldOutCheck,
  type LoopTrainer,
  runTrainingLoop,
  type StepReport,
  type TrainingLoopParams,
} from "./training-loop.js";
