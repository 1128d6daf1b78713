/**
 * @posttrain/dpo — preference optimisation (dpo, dpo_norm, simpo, wpo) on the embedded engine
 * (see README.md).
 */
export {
  adamWConfigSchema,
  batchConfigSchema,
  durationSchema,
  learningRateConfigSchema,
} from "./common-config.js";
export {
  Config,
  type ConfigInput,
  type LossConfig,
  lossConfigSchema,
  usesAveragedLogProbs,
  usesReference,
} from "./config.js";
export { DataOrder } from "./data-order.js";
export { TrainError, type TrainErrorCode } from "./errors.js";
export { preferenceLogit, preferenceLoss, softplus } from "./loss.js";
export {
  type PairLogProbs,
  type PreferenceMetrics,
  pairLoss,
  pairRewards,
  preferenceMetrics,
} from "./metrics.js";
export {
  type LoadedModel,
  loadModel,
  type ModelSource,
  modelSourceSchema,
  parameterBytes,
  parseModelSource,
} from "./model-source.js";
export {
  type DpoData,
  type PairBatch,
  type PreferenceRow,
  pairBatchOf,
  preferenceDataFingerprint,
  readPreferenceRows,
  validatePreferenceRows,
} from "./pairs.js";
export { buildPreferenceGraph, type PairScores, PreferenceTrainer } from "./preference-trainer.js";
export {
  cachedReferenceLogProbs,
  defaultReferenceCacheDirectory,
  referenceCacheFormat,
  referenceCacheKey,
} from "./reference-cache.js";
export { effectiveBatchSize, engineSchedule, recordResolvedConfig } from "./run-support.js";
export { huggingFaceConfig, safetensorsBytes, writeModelDirectory } from "./safetensors.js";
export { type StepMetrics, type TrainParams, type TrainResult, train } from "./train.js";
