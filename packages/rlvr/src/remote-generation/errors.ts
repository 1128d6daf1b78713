import { PosttrainError, type PosttrainErrorParams } from "@posttrain/core";

/**
 * Stable codes of the remote generation backend:
 * - `remote_generation_config_invalid`: no server URL (config, flag or
 *   `POSTTRAIN_GENERATION_URL`), or a vLLM server without the folder it serves;
 * - `remote_generation_network`: the server could not be reached (after the retries);
 * - `remote_generation_timeout`: no answer within the request timeout;
 * - `remote_generation_status`: an HTTP error status (`details.status`, `details.body`);
 * - `remote_generation_invalid_response`: an answer that does not have the documented shape
 *   (`details.issues` names the fields), e.g. a vLLM older than 0.10.2 without `token_ids`;
 * - `remote_generation_weight_update_failed`: the server refused the new weights (SGLang
 *   `success: false`, vLLM `reload_weights` failing).
 */
export type RemoteGenerationErrorCode =
  | "remote_generation_config_invalid"
  | "remote_generation_network"
  | "remote_generation_timeout"
  | "remote_generation_status"
  | "remote_generation_invalid_response"
  | "remote_generation_weight_update_failed";

export class RemoteGenerationError extends PosttrainError {
  constructor(params: Omit<PosttrainErrorParams, "code"> & { code: RemoteGenerationErrorCode }) {
    super(params);
    this.name = "RemoteGenerationError";
  }
}
