/**
 * @posttrain/dpo — preference optimisation (dpo, dpo_norm, simpo, wpo) on the embedded engine
 * (see README.md). The shared run machinery (model sources, run folders, `TrainError`) is
 * @posttrain/training's.
 */
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
export { dpoStage, preferenceRowSchema } from "./stage.js";
export { type StepMetrics, type TrainParams, type TrainResult, train } from "./train.js";
