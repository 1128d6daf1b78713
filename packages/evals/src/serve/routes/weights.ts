/**
 * The weight routes for RL trainers with an external generation server (weight-updates.ts):
 * SGLang's `GET /get_model_info` and `POST /update_weights_from_disk`, vLLM's dev-mode
 * `POST /collective_rpc {"method":"reload_weights"}` and `POST /reset_prefix_cache`. The three
 * POST routes are off unless `weightUpdates.enabled`, then need the bearer token (checked
 * before the body is read) and a model path inside the allowed root (weight-access.ts).
 */
import type { ServeContext } from "../context.js";
import { ServeError } from "../errors.js";
import { sendJson } from "../http-io.js";
import { parseCollectiveRpcRequest, parseUpdateWeightsRequest } from "../weight-updates.js";
import { type RouteTable, readJsonBody } from "./route.js";

export function weightRoutes(context: ServeContext): RouteTable {
  const { model, servedModelName, access, weights } = context;
  return {
    "/get_model_info": {
      method: "GET",
      handle: async (_, response) =>
        sendJson(response, 200, {
          model_path: model.directory ?? servedModelName,
          tokenizer_path: model.directory ?? servedModelName,
          is_generation: true,
          weight_version: weights.weightVersion,
          weight_updates_enabled: access.enabled,
        }),
    },
    "/update_weights_from_disk": {
      method: "POST",
      handle: async (request, response) => {
        // Authorised before the body is read: an unauthenticated caller costs no buffering.
        access.authorize(request);
        const body = parseUpdateWeightsRequest(await readJsonBody(context, request));
        const directory = await access.resolveModelDirectory({
          directory: body.model_path,
          param: "model_path",
        });
        if (directory === null) {
          sendJson(response, 400, {
            success: false,
            message: `Failed to load ${body.model_path}: no such folder`,
            num_paused_requests: 0,
          });
          return;
        }
        const answer = await weights.updateFromDisk({
          directory,
          ...(body.weight_version == null ? {} : { weightVersion: body.weight_version }),
        });
        sendJson(response, answer.success ? 200 : 400, answer);
      },
    },
    "/collective_rpc": {
      method: "POST",
      handle: async (request, response) => {
        access.authorize(request);
        const rpc = parseCollectiveRpcRequest({
          body: await readJsonBody(context, request),
          servedDirectory: model.directory,
        });
        const directory = await access.resolveModelDirectory({ directory: rpc.directory, param: "method" });
        if (directory === null)
          throw new ServeError({
            code: "serve_weight_update_failed",
            message: `the served folder ${rpc.directory} no longer exists`,
          });
        const answer = await weights.updateFromDisk({ directory });
        if (!answer.success)
          throw new ServeError({ code: "serve_weight_update_failed", message: answer.message });
        sendJson(response, 200, { results: [null] });
      },
    },
    "/reset_prefix_cache": {
      method: "POST",
      handle: async (request, response) => {
        access.authorize(request);
        response.writeHead(200);
        response.end();
      },
    },
  };
}
