/**
 * Remote generation with weight pushes: a GenerationBackend over an SGLang or vLLM server
 * (OpenAI-compatible API, via @posttrain/evals' HTTP backend) that can also load new
 * weights, so an RLVR trainer running elsewhere can generate with its current policy.
 *
 * - SGLang: `POST /update_weights_from_disk` `{ model_path }` loads a checkpoint folder of the
 *   same architecture and size (`{ success, message, num_paused_requests }`; 400 on failure).
 * - vLLM: no load-from-path endpoint outside LoRA; in dev mode (`VLLM_SERVER_DEV_MODE=1`)
 *   `POST /collective_rpc` `{ method: "reload_weights" }` re-reads the served folder, so the
 *   trainer overwrites that folder and asks for a reload (then `/reset_prefix_cache`).
 *
 * The weight routes are sent `Authorization: Bearer <weightUpdateToken>` (else `apiKey`, else
 * `POSTTRAIN_WEIGHT_UPDATE_TOKEN`, the variable `posttrain serve --enable-weight-updates`
 * reads its token from): `posttrain serve` refuses them without it.
 *
 * After each update `describe().modelHash` changes (the caller's weights hash, or the sha256
 * of path and update count), so eval response caches never mix two policies.
 */
import { type GenerationBackend, sha256Hex } from "@posttrain/core";
import { createOpenAiBackend, type OpenAiBackendParams } from "@posttrain/evals";
import { z } from "zod";
import { WeightSyncError } from "../errors.js";

export interface RemoteGenerationParams extends Omit<OpenAiBackendParams, "modelHash"> {
  /** `sglang` (update from any folder) or `vllm` (reload the served folder). */
  server: "sglang" | "vllm";
  /** vLLM: the folder the server was started on (the only one it can reload). */
  servedModelPath?: string;
  /**
   * Bearer token of the weight routes (default: `apiKey`, else the environment's
   * `POSTTRAIN_WEIGHT_UPDATE_TOKEN`).
   */
  weightUpdateToken?: string;
  /** Where `POSTTRAIN_WEIGHT_UPDATE_TOKEN` is read (default `process.env`). */
  environment?: NodeJS.ProcessEnv;
}

/** The environment variable `posttrain serve --enable-weight-updates` reads its token from. */
export const weightUpdateTokenVariable = "POSTTRAIN_WEIGHT_UPDATE_TOKEN";

/** A generation backend whose weights can be replaced between generate calls. */
export interface WeightUpdatingBackend extends GenerationBackend {
  /** Loads the weights in `modelPath` (same architecture); `weightsHash` identifies them in results. */
  updateWeights(params: { modelPath: string; weightsHash?: string }): Promise<{ message: string }>;
  /** Successful updates so far. */
  readonly updates: number;
}

const sglangAnswer = z.looseObject({ success: z.boolean(), message: z.string().optional() });

export async function createRemoteGenerationBackend(
  params: RemoteGenerationParams,
): Promise<WeightUpdatingBackend> {
  if (params.server === "vllm" && params.servedModelPath === undefined)
    throw new WeightSyncError({
      code: "weight_sync_failed",
      message: "a vLLM server reloads only the folder it serves: give servedModelPath",
    });
  const base = params.endpoint.replace(/\/+$/, "").replace(/\/v1$/, "");
  const fetchImplementation = params.fetch ?? fetch;
  const token =
    params.weightUpdateToken ??
    params.apiKey ??
    ((params.environment ?? process.env)[weightUpdateTokenVariable] || undefined);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
  let updates = 0;
  const { weightUpdateToken: _token, environment: _environment, ...openAiParams } = params;
  let inner = await createOpenAiBackend(openAiParams);

  async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
    try {
      const response = await fetchImplementation(`${base}${path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      throw new WeightSyncError({
        code: "weight_sync_failed",
        message: `POST ${base}${path} failed: ${(error as Error).message}`,
        cause: error,
      });
    }
  }

  /** 401/403 on a weight route: the token is missing or wrong, or the server has updates off. */
  const refusedAccess = (path: string, answer: { status: number; text: string }) => {
    if (answer.status !== 401 && answer.status !== 403) return;
    let message = answer.text.slice(0, 300);
    try {
      const body = JSON.parse(answer.text) as { error?: { message?: unknown } };
      if (typeof body.error?.message === "string") message = body.error.message;
    } catch {
      // Not JSON: the raw text is the message.
    }
    throw new WeightSyncError({
      code: "weight_sync_unauthorized",
      message: `POST ${base}${path} answered ${answer.status}: ${message} (${
        answer.status === 401
          ? `give weightUpdateToken or set ${weightUpdateTokenVariable} to the server's token`
          : "start `posttrain serve` with --enable-weight-updates and a --weight-updates-root holding the folder"
      })`,
      details: { status: answer.status, body: answer.text.slice(0, 2000) },
    });
  };

  const backend: WeightUpdatingBackend = {
    describe: () => inner.describe(),
    generate: (request) => inner.generate(request),
    get updates() {
      return updates;
    },
    async updateWeights({ modelPath, weightsHash }) {
      let message: string;
      if (params.server === "sglang") {
        const answer = await post("/update_weights_from_disk", { model_path: modelPath });
        refusedAccess("/update_weights_from_disk", answer);
        const { status, text } = answer;
        let parsed: z.infer<typeof sglangAnswer>;
        try {
          parsed = sglangAnswer.parse(JSON.parse(text));
        } catch (error) {
          throw new WeightSyncError({
            code: "weight_sync_invalid_response",
            message: `SGLang answered ${status} with an unexpected body: ${text.slice(0, 200)}`,
            cause: error,
            details: { status, body: text },
          });
        }
        if (status !== 200 || !parsed.success)
          throw new WeightSyncError({
            code: "weight_sync_failed",
            message: `SGLang refused ${modelPath}: ${parsed.message ?? `status ${status}`}`,
            details: { status, body: text, modelPath },
          });
        message = parsed.message ?? "updated";
      } else {
        if (modelPath !== params.servedModelPath)
          throw new WeightSyncError({
            code: "weight_sync_failed",
            message: `vLLM can only reload its served folder ${params.servedModelPath}; write the new weights there (got ${modelPath})`,
            details: { modelPath, servedModelPath: params.servedModelPath },
          });
        const reload = await post("/collective_rpc", { method: "reload_weights" });
        refusedAccess("/collective_rpc", reload);
        if (reload.status !== 200)
          throw new WeightSyncError({
            code: "weight_sync_failed",
            message: `vLLM reload_weights answered ${reload.status}: ${reload.text.slice(0, 200)} (is VLLM_SERVER_DEV_MODE=1 set?)`,
            details: { status: reload.status, body: reload.text },
          });
        const reset = await post("/reset_prefix_cache", {});
        if (reset.status !== 200)
          throw new WeightSyncError({
            code: "weight_sync_failed",
            message: `vLLM reset_prefix_cache answered ${reset.status}: ${reset.text.slice(0, 200)}`,
            details: { status: reset.status, body: reset.text },
          });
        message = "reloaded";
      }
      updates += 1;
      inner = await createOpenAiBackend({
        ...openAiParams,
        modelHash: weightsHash ?? sha256Hex(`${modelPath}\u0000${updates}`),
      });
      return { message };
    },
    close: () => inner.close?.() ?? Promise.resolve(),
  };
  return backend;
}
