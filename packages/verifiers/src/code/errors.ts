import { PosttrainError } from "@posttrain/core";

/** Stable codes of {@link CodeSandboxError}. */
export type CodeSandboxErrorCode =
  | "sandbox_interpreter_missing"
  | "sandbox_spawn_failed"
  | "sandbox_aborted"
  | "sandbox_typescript_unavailable";

/**
 * The sandbox itself could not do its job (no interpreter, a spawn failure, cancellation).
 * A program that fails its tests is *not* an error: it is a score of 0 with reasons.
 */
export class CodeSandboxError extends PosttrainError {
  constructor(params: {
    code: CodeSandboxErrorCode;
    message: string;
    cause?: unknown;
    details?: Record<string, unknown>;
  }) {
    super(params);
    this.name = "CodeSandboxError";
  }
}
