export type { FileContent, WriteFileAtomicParams, WrittenFile } from "./atomic-file.js";
export {
  atomicTemporaryPrefix,
  isTemporaryFile,
  readFileVerified,
  writeFileAtomic,
  writeJsonAtomic,
} from "./atomic-file.js";
export type { CanonicalValue } from "./canonical-json.js";
export { CanonicalJsonError, canonicalJson, fingerprint, hashFile, sha256Hex } from "./canonical-json.js";
export type { PosttrainErrorParams } from "./errors.js";
export { IntegrityError, PosttrainError } from "./errors.js";
export type { EventLog, RunEvent } from "./events.js";
export { createEventLog, readEvents } from "./events.js";
export type {
  ChatMessage,
  Completion,
  Continuation,
  ContinuationRequest,
  ContinuationScore,
  GenerationBackend,
  GenerationBackendDescription,
  GenerationPrompt,
  GenerationRequest,
  SamplingSettings,
} from "./generation.js";
export type { ProgressParams, ProgressReporter, ProgressUpdate } from "./progress.js";
export { createProgress, formatDuration } from "./progress.js";
export type { RandomState } from "./random.js";
export { Random } from "./random.js";
export type { CreateRunContextParams, RunContext } from "./run-context.js";
export { createRunContext, interruptExitCodes, interruptSignal } from "./run-context.js";
export type { SafeParseResult, ValidationIssue } from "./validation.js";
export { formatPath, parseWithSchema, safeParseWithSchema, ValidationError } from "./validation.js";
