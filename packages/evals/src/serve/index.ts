/** `posttrain serve`: an OpenAI-compatible server with continuous batching over the embedded engine. */
export type { Admission, AdmissionLimits, RequestMeasure } from "./admission.js";
export { createAdmission, defaultAdmissionLimits, measureRequest } from "./admission.js";
export { ServeError, ServeRequestError } from "./errors.js";
export { chatPromptTokenIds, completionPromptTokenIds } from "./prompts.js";
export type { ChatCompletionRequest, CompletionRequest } from "./request-schema.js";
export { chatCompletionRequestSchema, completionRequestSchema, parseRequestBody } from "./request-schema.js";
export type {
  SchedulerOptions,
  SchedulerStatistics,
  SequenceRequest,
  SequenceResult,
  TokenAlternative,
  TokenEvent,
} from "./scheduler.js";
export { ContinuousBatchScheduler } from "./scheduler.js";
export type { ServeOptions, ServeServer } from "./server.js";
export { startServeServer } from "./server.js";
export type { WeightUpdateAccess, WeightUpdateAccessOptions } from "./weight-access.js";
export {
  createWeightUpdateAccess,
  minimumWeightUpdateTokenLength,
  weightUpdateTokenVariable,
} from "./weight-access.js";
