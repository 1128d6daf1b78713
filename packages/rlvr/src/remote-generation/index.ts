/** RLVR rollouts on an external SGLang or vLLM server, with the policy pushed to it. */
export { createRemoteConversationGenerator } from "./conversations.js";
export { RemoteGenerationError, type RemoteGenerationErrorCode } from "./errors.js";
export {
  createRemoteBackendFromConfig,
  type GenerationEndpoint,
  generationApiKeyVariable,
  generationUrlVariable,
  weightUpdateTokenVariable,
} from "./from-config.js";
export { createRemoteGenerationBackend, type RemoteGenerationBackendParams } from "./remote-backend.js";
export {
  sglangGenerateAnswerSchema,
  sglangGenerateBody,
  sglangUpdateAnswerSchema,
} from "./sglang.js";
export { vllmCompletionAnswerSchema, vllmCompletionBody } from "./vllm.js";
export {
  canSyncWeights,
  type PolicyWeights,
  type WeightSyncingGenerationBackend,
  type WeightSyncReport,
} from "./weight-sync.js";
export { versionName } from "./weights-folder.js";
