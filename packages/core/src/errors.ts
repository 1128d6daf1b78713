/**
 * The error base class of every posttrain package.
 *
 * Each error carries a stable, machine-readable `code` (snake_case, never renamed once
 * published), an optional `cause`, and optional structured `details`. `isInstance` checks a
 * global symbol rather than the prototype chain, so it answers correctly even when two
 * copies of @posttrain/core are installed side by side.
 */
const marker = Symbol.for("posttrain.error");

export interface PosttrainErrorParams {
  code: string;
  message: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class PosttrainError extends Error {
  readonly [marker] = true;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor({ code, message, cause, details }: PosttrainErrorParams) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "PosttrainError";
    this.code = code;
    this.details = details;
  }

  /** True for any PosttrainError (or subclass), from any copy of this package. */
  static isInstance(error: unknown): error is PosttrainError {
    return (
      typeof error === "object" &&
      error !== null &&
      (error as Record<symbol, unknown>)[marker] === true &&
      typeof (error as { code?: unknown }).code === "string"
    );
  }

  /** True when `error` is a PosttrainError with the given code. */
  static hasCode(error: unknown, code: string): error is PosttrainError {
    return PosttrainError.isInstance(error) && error.code === code;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** Raised when a file's content does not match the hash recorded for it. */
export class IntegrityError extends PosttrainError {
  constructor(
    params: Omit<PosttrainErrorParams, "code"> & { code?: "integrity_mismatch" | "integrity_missing" },
  ) {
    super({ ...params, code: params.code ?? "integrity_mismatch" });
    this.name = "IntegrityError";
  }
}
