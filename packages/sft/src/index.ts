/**
 * @posttrain/sft — supervised fine-tuning on the embedded engine (see README.md).
 */
export {
  adamWConfigSchema,
  batchConfigSchema,
  DataOrder,
  durationSchema,
  effectiveBatchSize,
  engineSchedule,
  huggingFaceConfig,
  learningRateConfigSchema,
  loadTrainingModel as loadModel,
  type ModelSource,
  modelSourceSchema,
  parameterBytes,
  parseModelSource,
  recordResolvedConfig,
  safetensorsBytes,
  TrainError,
  type TrainErrorCode,
  type TrainingModel as LoadedModel,
  writeModelDirectory,
} from "@posttrain/engine";
export {
  ignoredLabel,
  readSftRows,
  type SftData,
  type SftRow,
  tokenBatchOf,
  validateSftRows,
} from "./batches.js";
export { Config, type ConfigInput } from "./config.js";
export { TokenScorer } from "./forward.js";
export {
  evaluationLoss,
  type StepMetrics,
  sftOptimizerStep,
  type TrainParams,
  type TrainResult,
  train,
} from "./train.js";
