/**
 * @posttrain/rlvr — reinforcement learning with verifiable rewards (GRPO family) on the
 * embedded engine (see README.md).
 */
export { adamWConfigSchema, batchConfigSchema, learningRateConfigSchema } from "./common-config.js";
export { Config, type ConfigInput } from "./config.js";
export { DataOrder } from "./data-order.js";
export { TrainError, type TrainErrorCode } from "./errors.js";
export {
  type LoadedModel,
  loadModel,
  type ModelSource,
  modelSourceSchema,
  parameterBytes,
  parseModelSource,
} from "./model-source.js";
export { type OverOptimizationCheck, OverOptimizationMonitor } from "./monitor.js";
export { buildPolicyGraph, type PolicyBatch, PolicyTrainer } from "./policy-trainer.js";
export { completionBatchOf, type RlvrData, type RlvrRow, readRlvrRows, validateRlvrRows } from "./prompts.js";
export { completionReward, type GroupAdvantages, groupAdvantages, klEstimate } from "./rewards.js";
export { effectiveBatchSize, engineSchedule, recordResolvedConfig } from "./run-support.js";
export { huggingFaceConfig, safetensorsBytes, writeModelDirectory } from "./safetensors.js";
export {
  mergePolicyBatches,
  type StepMetrics,
  type TrainParams,
  type TrainResult,
  train,
  type VerifierStatistics,
} from "./train.js";
