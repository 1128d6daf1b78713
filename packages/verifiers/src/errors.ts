import { PosttrainError, type ValidationIssue } from "@posttrain/core";

/** No verifier is registered under the requested name (`unknown_verifier`). */
export class UnknownVerifierError extends PosttrainError {
  constructor(params: { name: string; known: string[] }) {
    super({
      code: "unknown_verifier",
      message: `unknown verifier "${params.name}"; known verifiers: ${params.known.join(", ")}`,
      details: { name: params.name, known: params.known },
    });
    this.name = "UnknownVerifierError";
  }
}

/** A remap entry is not of the form `alias=registered` (`invalid_verifier_remap`). */
export class InvalidRemapError extends PosttrainError {
  constructor(params: { remap: string; reason: string }) {
    super({
      code: "invalid_verifier_remap",
      message: `invalid verifier remap "${params.remap}": ${params.reason} (expected "alias=registered_name")`,
      details: { remap: params.remap },
    });
    this.name = "InvalidRemapError";
  }
}

/**
 * A row's ground truth does not match its verifier's label schema (`invalid_label`). `row`
 * is the 0-based input row index (undefined for a single `verifyOne` call).
 */
export class InvalidLabelError extends PosttrainError {
  readonly issues: ValidationIssue[];
  constructor(params: { verifier: string; row: number | undefined; issues: ValidationIssue[] }) {
    const where = params.row === undefined ? "ground_truth" : `rows[${params.row}].ground_truth`;
    const lines = params.issues.map(
      (issue) => `  - ${where}${issue.path === "(root)" ? "" : `.${issue.path}`}: ${issue.message}`,
    );
    super({
      code: "invalid_label",
      message: `invalid label for verifier "${params.verifier}" at ${where}:\n${lines.join("\n")}`,
      details: { verifier: params.verifier, row: params.row, issues: params.issues },
    });
    this.name = "InvalidLabelError";
    this.issues = params.issues;
  }
}

/** A check ran past its time bound (`verifier_timeout`). */
export class VerifierTimeoutError extends PosttrainError {
  constructor(params: { timeoutMilliseconds: number }) {
    super({
      code: "verifier_timeout",
      message: `verifier check exceeded its time bound of ${params.timeoutMilliseconds} ms`,
      details: { timeoutMilliseconds: params.timeoutMilliseconds },
    });
    this.name = "VerifierTimeoutError";
  }
}

/**
 * A reference normalisation hit a case its original raises on (`math_normalization_failed`),
 * e.g. Hendrycks `strip_string` on `\frac` with nothing after it. Callers that mirror the
 * reference catch it and fall back to raw string equality, as the reference does.
 */
export class MathNormalizationError extends PosttrainError {
  constructor(params: { input: string; reason: string }) {
    super({
      code: "math_normalization_failed",
      message: `cannot normalise ${JSON.stringify(params.input.slice(0, 80))}: ${params.reason}`,
      details: { reason: params.reason },
    });
    this.name = "MathNormalizationError";
  }
}

/** A worker thread crashed or could not start (`verifier_worker_failed`). */
export class VerifierWorkerError extends PosttrainError {
  constructor(params: { message: string; cause?: unknown }) {
    super({ code: "verifier_worker_failed", message: params.message, cause: params.cause });
    this.name = "VerifierWorkerError";
  }
}

/**
 * A length verifier ran without the policy's tokenizer (`tokenizer_required`): its reward is a
 * token count of the whole response, and a word count would be gameable.
 */
export class MissingTokenizerError extends PosttrainError {
  constructor(params: { verifier: string }) {
    super({
      code: "tokenizer_required",
      message: `verifier "${params.verifier}" counts the response in tokens of the policy's tokenizer: pass a tokenizer (CLI: --tokenizer <directory>; API: countTokens or responseTokenCount)`,
      details: { verifier: params.verifier },
    });
    this.name = "MissingTokenizerError";
  }
}
