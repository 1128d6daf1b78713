/**
 * @posttrain/rlvr — reinforcement learning with verifiable rewards (GRPO family) on the
 * embedded engine (see README.md). One step is four functions: `rollout` → `score` →
 * `optimize` → `stepMetrics`; the shared run machinery is @posttrain/training's.
 */
export { Config, type ConfigInput, type GenerationConfig, generationConfigSchema } from "./config.js";
export {
  binomialDropPValue,
  driftSignificance,
  mcnemarOneSided,
  type OverOptimizationCheck,
  OverOptimizationMonitor,
} from "./monitor.js";
export { mergePolicyBatches, type OptimizationStatistics, optimize } from "./optimize.js";
export { buildPolicyGraph, type PolicyBatch, PolicyTrainer } from "./policy-trainer.js";
export { completionBatchOf, type RlvrData, type RlvrRow, readRlvrRows, validateRlvrRows } from "./prompts.js";
export {
  canSyncWeights,
  createRemoteBackendFromConfig,
  createRemoteConversationGenerator,
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
export { type RolloutCompletion, rollout } from "./rollout.js";
export { type ScoredCompletion, score, verifyResponses } from "./score.js";
export { rlvrRowSchema, rlvrStage } from "./stage.js";
export {
  type StepMetrics,
  stepMetrics,
  toolMetricNames,
  toolStepMetrics,
  type VerifierStatistics,
} from "./step-metrics.js";
export {
  conversationRandom,
  createEmbeddedConversationGenerators,
  createToolUse,
  promptsMentionTools,
  type ToolRolloutCompletion,
  type ToolUse,
  toolRollout,
} from "./tool-rollout.js";
export { type TrainParams, type TrainResult, train } from "./train.js";
