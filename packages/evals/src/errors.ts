/** Typed errors of @posttrain/evals. Codes are stable (snake_case) once released. */
import { PosttrainError, type PosttrainErrorParams } from "@posttrain/core";

/**
 * Every evals failure. Codes:
 * - `eval_unknown_task`, `eval_unknown_suite`: a name not in the registry (details list the known ones);
 * - `eval_invalid_task_spec`: a task spec that does not validate;
 * - `eval_dataset_row_invalid`: a benchmark row lacks a field the task needs (names the row);
 * - `eval_dataset_unavailable`: no data (an unpinned Hub spec without a `--data` override, an empty file);
 * - `eval_row_verifier_missing`: a task that takes each row's verifier from its `dataset` column met a row without one;
 * - `eval_responses_invalid`: a `--responses` file that does not fit the task;
 * - `embedded_backend_unavailable`: `--model DIR` before the engine has a generation backend;
 * - `eval_backend_mismatch`: a backend returned the wrong number of completions;
 * - `eval_tools_unsupported`: a task allows tools but the backend cannot run tool use (only `--model`
 *   can), or its prompt is token ids.
 */
export class EvaluationError extends PosttrainError {
  constructor(params: PosttrainErrorParams) {
    super(params);
    this.name = "EvaluationError";
  }
}

/**
 * An OpenAI-compatible endpoint failed for good (after retries). Codes: `http_backend_status`
 * (a non-retryable 4xx, or a 5xx after all retries; details carry status and the server's
 * error body), `http_backend_timeout`, `http_backend_network`, `http_backend_invalid_response`.
 */
export class HttpBackendError extends PosttrainError {
  constructor(params: PosttrainErrorParams) {
    super(params);
    this.name = "HttpBackendError";
  }
}
