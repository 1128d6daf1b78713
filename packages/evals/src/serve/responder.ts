/**
 * The one place a generating route answers: as Server-Sent Events (`stream: true`) or as one
 * JSON body. A route describes its reply ({@link GenerationReply}: the chunk for a token, the
 * final chunk of a choice, the usage chunk, the complete body); {@link respondWithGeneration}
 * runs the rows and owns the protocol:
 *
 * - Streaming: 200 with `text/event-stream` headers at once, the route's opening chunks, one
 *   `data: {json}\n\n` per token that has new text (or log-probs), a final chunk per choice
 *   (none for a row the client aborted), the usage chunk when asked, then `data: [DONE]`. An
 *   engine failure after the headers went out becomes an `error` event before `[DONE]`.
 * - Not streaming: the complete body as JSON with status 200, unless the client went away.
 */
import type { ServerResponse } from "node:http";
import { PosttrainError } from "@posttrain/core";
import type { GenerationPlan, PlannedRow, ServeContext } from "./context.js";
import { sendJson } from "./http-io.js";
import type { SequenceResult, TokenEvent } from "./scheduler.js";

/** How one route shapes its reply; chunks are the JSON payloads of SSE events. */
export interface GenerationReply {
  /** Chunks sent before any token (e.g. chat's `role: assistant` delta per choice). */
  openingChunks?(rows: readonly PlannedRow[]): unknown[];
  /** The chunk for one generated token. */
  tokenChunk(row: PlannedRow, event: TokenEvent): unknown;
  /** The last chunk of a choice, with its `finish_reason`. */
  finishChunk(row: PlannedRow, result: SequenceResult): unknown;
  /** The usage chunk (`stream_options.include_usage`); undefined: none. */
  usageChunk?(results: readonly SequenceResult[]): unknown;
  /** The non-streaming body. */
  complete(results: readonly SequenceResult[]): unknown;
  /** Whether a token without new text still gets a chunk (it carries log-probs). */
  sendsEmptyTokens: boolean;
}

/** Opens an SSE stream; returns the function that sends one event (a no-op once closed). */
export function startEventStream(response: ServerResponse): (payload: unknown) => void {
  response.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  response.flushHeaders();
  return (payload) => {
    if (!response.writableEnded && !response.destroyed)
      response.write(`data: ${JSON.stringify(payload)}\n\n`);
  };
}

/** Ends an SSE stream with `[DONE]`, after an `error` event when `error` is given. */
export function endEventStream(params: {
  response: ServerResponse;
  send: (payload: unknown) => void;
  error?: unknown;
}): void {
  const { response, send, error } = params;
  if (error !== undefined) {
    const message = PosttrainError.isInstance(error) ? error.message : String(error);
    send({ error: { message, type: "server_error", param: null, code: "serve_generation_failed" } });
  }
  if (!response.writableEnded && !response.destroyed) response.end("data: [DONE]\n\n");
}

/** Generates a request's rows and answers with `reply`, streamed or not. */
export async function respondWithGeneration(params: {
  context: ServeContext;
  response: ServerResponse;
  signal: AbortSignal;
  plan: GenerationPlan;
  topLogProbs: number;
  stream: boolean;
  reply: GenerationReply;
}): Promise<void> {
  const { context, response, signal, plan, topLogProbs, reply } = params;
  if (!params.stream) {
    const results = await context.generate({ plan, topLogProbs, signal });
    if (signal.aborted) return;
    sendJson(response, 200, reply.complete(results));
    return;
  }
  const send = startEventStream(response);
  for (const chunk of reply.openingChunks?.(plan.rows) ?? []) send(chunk);
  try {
    const results = await context.generate({
      plan,
      topLogProbs,
      signal,
      onToken: (row, event) => {
        if (event.textDelta === "" && !reply.sendsEmptyTokens) return;
        send(reply.tokenChunk(row, event));
      },
      onFinish: (row, result) => {
        if (result.finishReason === "abort") return;
        send(reply.finishChunk(row, result));
      },
    });
    const usage = reply.usageChunk?.(results);
    if (usage !== undefined) send(usage);
    endEventStream({ response, send });
  } catch (error) {
    endEventStream({ response, send, error });
  }
}

/** Total generated tokens over a request's results. */
export const completionTokensOf = (results: readonly SequenceResult[]): number =>
  results.reduce((sum, result) => sum + result.tokenIds.length, 0);
