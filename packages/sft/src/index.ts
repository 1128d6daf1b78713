/**
 * @posttrain/sft — supervised fine-tuning on the embedded engine (see README.md).
 */
export {
  DataOrder,
  ignoredLabel,
  readSftRows,
  type SftData,
  type SftRow,
  tokenBatchOf,
  validateSftRows,
} from "./batches.js";
export {
  adamWConfigSchema,
  batchConfigSchema,
  Config,
  type ConfigInput,
  durationSchema,
  learningRateConfigSchema,
} from "./config.js";
export { TrainError, type TrainErrorCode } from "./errors.js";
export { LogitsRunner, TokenScorer } from "./forward.js";
export {
  type LoadedModel,
  loadModel,
  type ModelSource,
  modelSourceSchema,
  parameterBytes,
  parseModelSource,
} from "./model-source.js";
export { effectiveBatchSize, engineSchedule, recordResolvedConfig } from "./run-support.js";
export { huggingFaceConfig, safetensorsBytes, writeModelDirectory } from "./safetensors.js";
export {
  evaluationLoss,
  type StepMetrics,
  sftOptimizerStep,
  type TrainParams,
  type TrainResult,
  train,
} from "./train.js";
