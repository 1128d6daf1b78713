/**
 * Replacing the served weights while the server runs, for RLVR with an external generation
 * server (the trainer writes a model folder, then asks the server to load it):
 *
 * - SGLang's `POST /update_weights_from_disk` `{ model_path, load_format?, weight_version?,
 *   abort_all_requests? }` → `{ success, message, num_paused_requests }` (200, or 400 with
 *   `success: false`). The folder must hold a model of the same architecture and parameter
 *   shapes (config.json + model.safetensors, as `writeModelDirectory`/`savePretrainedModel` write);
 *   like SGLang, only the weights change, not the config.
 * - vLLM's dev-mode `POST /collective_rpc` `{ "method": "reload_weights" }` → `{ results: [null] }`:
 *   reloads the folder the server was started from (the trainer overwrote its files), and
 *   `POST /reset_prefix_cache` (accepted; this server keeps no prefix cache).
 *
 * The new weights are read and checked first, while generation goes on; then the scheduler's
 * {@link ContinuousBatchScheduler.exclusive} section waits for the running batch to finish,
 * copies them into the model's parameter buffer (the decode session reads views of it) and
 * resumes: a sequence never mixes two weight versions. `weight_version` (SGLang's label,
 * `"default"` at start) is reported by `/get_model_info` and every native `/generate` answer.
 */

import type { PretrainedModel } from "@posttrain/engine";
import { loadPretrainedModel } from "@posttrain/engine";
import { z } from "zod";
import { ServeRequestError } from "./errors.js";
import { parseRequestBody } from "./request-schema.js";
import type { ContinuousBatchScheduler } from "./scheduler.js";

/** `POST /update_weights_from_disk` (SGLang's `UpdateWeightFromDiskReqInput`, the fields it honours). */
export const updateWeightsFromDiskRequestSchema = z.object({
  model_path: z.string().min(1),
  /** Only the default loader exists here: `auto`, `safetensors` or absent. */
  load_format: z.enum(["auto", "safetensors"]).nullish(),
  /** The label reported afterwards (default: a counter). */
  weight_version: z.string().min(1).nullish(),
  /** Aborting running requests is not supported: the update waits for them (SGLang's default). */
  abort_all_requests: z
    .boolean()
    .nullish()
    .refine((value) => value !== true, { message: "abort_all_requests is not supported; the update waits" }),
  flush_cache: z.boolean().nullish(),
});

/** `POST /collective_rpc` (vLLM dev mode): only `reload_weights` is served. */
export const collectiveRpcRequestSchema = z.object({
  method: z.literal("reload_weights"),
  args: z.array(z.string()).max(0).nullish(),
  kwargs: z.record(z.string(), z.string()).nullish(),
  timeout: z.number().positive().nullish(),
});

/** SGLang's answer to `/update_weights_from_disk`. */
export interface UpdateWeightsAnswer {
  success: boolean;
  message: string;
  num_paused_requests: number;
}

export interface WeightUpdater {
  /** The current weights' label (`"default"` until the first update). */
  readonly weightVersion: string;
  /** How many updates succeeded. */
  readonly updates: number;
  /** Loads `directory` and swaps it in; a folder that does not fit is `success: false`. */
  updateFromDisk(params: { directory: string; weightVersion?: string }): Promise<UpdateWeightsAnswer>;
}

export function createWeightUpdater(params: {
  model: PretrainedModel;
  scheduler: ContinuousBatchScheduler;
}): WeightUpdater {
  const { model, scheduler } = params;
  const fingerprint = model.layout.fingerprint();
  let weightVersion = "default";
  let updates = 0;
  return {
    get weightVersion() {
      return weightVersion;
    },
    get updates() {
      return updates;
    },
    async updateFromDisk({ directory, weightVersion: label }) {
      let loaded: PretrainedModel;
      try {
        loaded = await loadPretrainedModel({ directory });
      } catch (error) {
        return {
          success: false,
          message: `Failed to load ${directory}: ${(error as Error).message}`,
          num_paused_requests: 0,
        };
      }
      if (loaded.layout.fingerprint() !== fingerprint)
        return {
          success: false,
          message: `${directory} holds a model with other parameter shapes than the served one`,
          num_paused_requests: 0,
        };
      await scheduler.exclusive(() => {
        model.parameters.set(loaded.parameters);
      });
      updates += 1;
      weightVersion = label ?? String(updates);
      return {
        success: true,
        message: `Succeeded to update model weights from ${directory}.`,
        num_paused_requests: 0,
      };
    },
  };
}

/** Parses an `/update_weights_from_disk` body (400 `serve_invalid_request` naming the field). */
export function parseUpdateWeightsRequest(body: unknown) {
  return parseRequestBody({
    schema: updateWeightsFromDiskRequestSchema,
    value: body,
    label: "update_weights_from_disk request",
  });
}

/** Parses a `/collective_rpc` body; the served folder must be known to reload it. */
export function parseCollectiveRpcRequest(params: { body: unknown; servedDirectory: string | null }) {
  const request = parseRequestBody({
    schema: collectiveRpcRequestSchema,
    value: params.body,
    label: "collective_rpc request",
  });
  if (params.servedDirectory === null)
    throw new ServeRequestError({
      code: "serve_invalid_request",
      status: 400,
      param: "method",
      message: "reload_weights needs a server started from a model folder",
    });
  return { ...request, directory: params.servedDirectory };
}
