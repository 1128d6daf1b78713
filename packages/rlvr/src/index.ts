/**
 * @posttrain/rlvr — reinforcement learning with verifiable rewards (GRPO family) on the
 * embedded engine (see README.md).
 */
export {
  adamWConfigSchema,
  batchConfigSchema,
  DataOrder,
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
export { Config, type ConfigInput, type GenerationConfig, generationConfigSchema } from "./config.js";
export {
  binomialDropPValue,
  driftSignificance,
  mcnemarOneSided,
  type OverOptimizationCheck,
  OverOptimizationMonitor,
} from "./monitor.js";
export { buildPolicyGraph, type PolicyBatch, PolicyTrainer } from "./policy-trainer.js";
export { completionBatchOf, type RlvrData, type RlvrRow, readRlvrRows, validateRlvrRows } from "./prompts.js";
export {
  canSyncWeights,
  createRemoteBackendFromConfig,
  createRemoteGenerationBackend,
  type GenerationEndpoint,
  generationApiKeyVariable,
  generationUrlVariable,
  type PolicyWeights,
  type RemoteGenerationBackendParams,
  RemoteGenerationError,
  type RemoteGenerationErrorCode,
  type WeightSyncingGenerationBackend,
  type WeightSyncReport,
  weightUpdateTokenVariable,
} from "./remote-generation/index.js";
export { completionReward, type GroupAdvantages, groupAdvantages, klEstimate } from "./rewards.js";
export {
  mergePolicyBatches,
  type StepMetrics,
  type TrainParams,
  type TrainResult,
  train,
  type VerifierStatistics,
} from "./train.js";
