/** Typed errors of `posttrain serve`. */
import { PosttrainError, type PosttrainErrorParams } from "@posttrain/core";

/** OpenAI's error `type` for a rejected request body or route. */
export type OpenAiErrorType = "invalid_request_error" | "not_found_error" | "server_error";

/**
 * A request the server refuses, answered as an OpenAI-style error body
 * `{ "error": { "message", "type", "param", "code" } }` with `status`.
 * Codes: `serve_invalid_request` (400: bad JSON, a field that does not validate — `param` names
 * it — or a prompt longer than the context), `serve_model_not_found` (404: unknown `model`),
 * `serve_route_not_found` (404), `serve_method_not_allowed` (405),
 * `serve_request_too_large` (413), `serve_unsupported_media_type` (415),
 * `serve_overloaded` (503: the queue is full; `Retry-After` is sent).
 */
export class ServeRequestError extends PosttrainError {
  readonly status: number;
  readonly param: string | null;
  readonly type: OpenAiErrorType;

  constructor(
    params: PosttrainErrorParams & { status: number; param?: string | null; type?: OpenAiErrorType },
  ) {
    super(params);
    this.name = "ServeRequestError";
    this.status = params.status;
    this.param = params.param ?? null;
    this.type = params.type ?? (params.status >= 500 ? "server_error" : "invalid_request_error");
  }

  /** The OpenAI-style JSON body. */
  body(): { error: { message: string; type: OpenAiErrorType; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/**
 * The server itself failed: `serve_listen_failed` (the port could not be bound),
 * `serve_generation_failed` (the engine threw while decoding a batch; every request in that
 * batch is answered with a 500).
 */
export class ServeError extends PosttrainError {
  constructor(params: PosttrainErrorParams) {
    super(params);
    this.name = "ServeError";
  }
}
