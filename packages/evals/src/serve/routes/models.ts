/**
 * `GET /v1/models`, `GET /v1/models/{model}`, `GET /health`, and `GET /stats` (not OpenAI: the
 * scheduler's counters — active/pending rows, decode steps, prefills, generated tokens,
 * row-steps — so a load test can compute the mean batch size).
 */
import type { ServerResponse } from "node:http";
import type { ServeContext } from "../context.js";
import { sendJson } from "../http-io.js";
import type { RouteTable } from "./route.js";

export function modelRoutes(context: ServeContext): RouteTable {
  const { scheduler, admission } = context;
  return {
    "/health": { method: "GET", handle: async (_, response) => sendJson(response, 200, { status: "ok" }) },
    "/stats": {
      method: "GET",
      handle: async (_, response) =>
        sendJson(response, 200, {
          active_rows: scheduler.activeRows,
          pending_rows: scheduler.pendingRows,
          rows_in_flight: admission.rowsInFlight,
          max_pending_rows: admission.limits.maxPendingRows,
          max_batch_size: scheduler.maxBatchSize,
          decode_steps: scheduler.statistics.decodeSteps,
          prefills: scheduler.statistics.prefills,
          admitted_rows: scheduler.statistics.admittedRows,
          generated_tokens: scheduler.statistics.generatedTokens,
          row_steps: scheduler.statistics.rowSteps,
        }),
    },
    "/v1/models": {
      method: "GET",
      handle: async (_, response) => sendJson(response, 200, { object: "list", data: [context.modelCard()] }),
    },
  };
}

/** The parameterised route `GET /v1/models/{model}` (its name already URI-decoded). */
export function describeModel(params: {
  context: ServeContext;
  response: ServerResponse;
  name: string;
}): void {
  params.context.checkModel(params.name);
  sendJson(params.response, 200, params.context.modelCard());
}
