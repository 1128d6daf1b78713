/**
 * @posttrain/dpo — preference optimisation (dpo, dpo_norm, simpo, wpo) on the embedded engine
 * (see README.md).
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
  Config,
  type ConfigInput,
  type LossConfig,
  lossConfigSchema,
  usesAveragedLogProbs,
  usesReference,
} from "./config.js";
export { preferenceLogit, preferenceLoss, softplus } from "./loss.js";
export {
  type PairLogProbs,
  type PreferenceMetrics,
  pairLoss,
  pairRewards,
  preferenceMetrics,
} from "./metrics.js";
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
export { type StepMetrics, type TrainParams, type TrainResult, train } from "./train.js";
