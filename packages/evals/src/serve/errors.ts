/** Typed errors of `posttrain serve`. */
import { PosttrainError, type PosttrainErrorParams } from "@posttrain/core";

/** OpenAI's error `type` for a rejected request body or route. */
export type OpenAiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "server_error";

/**
 * A request the server refuses, answered as an OpenAI-style error body
 * `{ "error": { "message", "type", "param", "code" } }` with `status`.
 * Codes: `serve_invalid_request` (400: bad JSON, a malformed URI, a field that does not
 * validate — `param` names it — or a prompt longer than the context), `serve_too_many_rows`
 * (400: prompts × n over the admission limit), `serve_prompt_too_long` (400: a prompt over the
 * character limit, checked before tokenising, or token ids longer than the context),
 * `serve_unauthorized` (401: weight route without the right bearer token; `WWW-Authenticate`
 * is sent), `serve_weight_updates_disabled` (403), `serve_model_path_forbidden` (403: a model
 * path outside the weight-updates root), `serve_model_not_found` (404: unknown `model`),
 * `serve_route_not_found` (404), `serve_method_not_allowed` (405),
 * `serve_request_too_large` (413), `serve_unsupported_media_type` (415),
 * `serve_overloaded` (503: the rows or body bytes in flight are at their limit; `Retry-After`
 * is sent).
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
 * `serve_weight_update_token_invalid` / `serve_weight_update_root_invalid` (weight updates
 * enabled with a token that is too short or a root that is not a folder),
 * `serve_generation_failed` (the engine threw while decoding a batch; every request in that
 * batch is answered with a 500).
 */
export class ServeError extends PosttrainError {
  constructor(params: PosttrainErrorParams) {
    super(params);
    this.name = "ServeError";
  }
}
