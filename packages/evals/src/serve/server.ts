/**
 * `posttrain serve`: an OpenAI-compatible HTTP server over the embedded engine, on Node's
 * built-in `node:http` (four routes and SSE need no framework).
 *
 * Routes: `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/chat/completions`,
 * `POST /v1/completions`, `POST /v1/responses` (basic, non-streaming; responses-api.ts),
 * `GET /health`, and `GET /stats` (not OpenAI: the scheduler's counters — active/pending rows,
 * decode steps, prefills, generated tokens, row-steps — so a load test can compute the mean
 * batch size). Every generated row (prompt × `n`) goes to one
 * {@link ContinuousBatchScheduler}, so concurrent clients share decode steps.
 * For RL trainers with an external generation server (native-generate.ts, weight-updates.ts):
 * SGLang's native `POST /generate` (token ids in and out, sampling log-probs),
 * `POST /update_weights_from_disk` and `GET /get_model_info`; vLLM's `return_token_ids`
 * extension and its dev-mode `POST /collective_rpc {"method":"reload_weights"}` and
 * `POST /reset_prefix_cache`. The three weight routes are off unless `weightUpdates.enabled`,
 * then need the bearer token and a model path inside the allowed root (weight-access.ts).
 *
 * - Admission (admission.ts): one set of limits for every generating route — body bytes
 *   (413), body bytes buffered at once (503), rows (prompts × n) per request (400) and in
 *   flight (503), prompt characters before tokenising (400) — so no body exhausts memory or
 *   holds the event loop.
 * - Bodies are validated with zod (request-schema.ts). Failures are OpenAI-style
 *   `{ "error": { message, type, param, code } }`: 400 (bad JSON, malformed URI, invalid
 *   field — `param` names it —, prompt + max_tokens beyond the context), 401/403 (weight
 *   routes), 404 (unknown route — the message lists the routes — or model), 405 (wrong
 *   method, `Allow` header sent), 413 (body over `maxBodyBytes`), 415 (not JSON), 503 +
 *   `Retry-After` (the server is full), 500 (engine failure).
 * - Streaming (`stream: true`): Server-Sent Events, one `data: {json}\n\n` chunk per token with
 *   new text (`chat.completion.chunk` / `text_completion`), a final chunk per choice with its
 *   `finish_reason`, a usage chunk when `stream_options.include_usage`, then `data: [DONE]`.
 * - A client that disconnects (the response closes before it ends) aborts its rows: they
 *   leave the batch before the next decode step.
 * - Sampling: `seed` given → choice j draws from `Random.fromSeed(seed).stream("choice j")`;
 *   no seed → from the server's `Random` (`seed` option) stream `request k` (k counts
 *   requests). `temperature` defaults to 1 (OpenAI), `max_tokens` to 16 for completions
 *   (OpenAI) and to the rest of the context for chat.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { PosttrainError, Random } from "@posttrain/core";
import type {
  ExecutionProvider,
  GenerationTokenizer,
  LoadedModel,
  SamplingParameters,
} from "@posttrain/engine";
import {
  chatMessageOverheadCharacters,
  createAdmission,
  defaultAdmissionLimits,
  measureRequest,
  type RequestMeasure,
} from "./admission.js";
import { ServeError, ServeRequestError } from "./errors.js";
import { bodyTooLarge, declaresTooLargeBody, parseJson, readBody, sendError, sendJson } from "./http-io.js";
import { createNativeGenerateHandler } from "./native-generate.js";
import { chatPromptTokenIds, completionPromptTokenIds } from "./prompts.js";
import {
  type ChatCompletionRequest,
  type CompletionRequest,
  chatCompletionRequestSchema,
  completionRequestSchema,
  parseRequestBody,
} from "./request-schema.js";
import { chatLogProbContent, completionLogProbs, finishReasonOf, usageOf } from "./responses.js";
import {
  type ResponsesRequest,
  responseObject,
  responsesRequestSchema,
  responsesToChatRequest,
} from "./responses-api.js";
import { ContinuousBatchScheduler, type SequenceResult, type TokenEvent } from "./scheduler.js";
import { createWeightUpdateAccess, type WeightUpdateAccessOptions } from "./weight-access.js";
import {
  createWeightUpdater,
  parseCollectiveRpcRequest,
  parseUpdateWeightsRequest,
} from "./weight-updates.js";

export interface ServeOptions {
  model: LoadedModel;
  tokenizer: GenerationTokenizer;
  /** The id clients pass as `model` (e.g. the folder name). */
  servedModelName: string;
  /** Rows decoded together at most (default 32). */
  maxBatchSize?: number;
  /** Intra-op threads (default: all cores). */
  threads?: number;
  executionProvider?: ExecutionProvider;
  /** Largest request body in bytes (default 2 MiB; 413 beyond). */
  maxBodyBytes?: number;
  /** Body bytes all requests may be buffering at once (default 64 MiB; 503 beyond). */
  maxBufferedBodyBytes?: number;
  /**
   * Rows (prompts × n) in flight — being tokenised, queued or decoding — across all requests
   * (default 4096): a request that would pass it gets 503, one that asks more on its own 400.
   */
  maxPendingRows?: number;
  /** Longest text prompt in characters, checked before tokenising (default 8 × the context length). */
  maxPromptCharacters?: number;
  /** The weight routes: off by default; on, they need a bearer token and a root for model paths. */
  weightUpdates?: WeightUpdateAccessOptions;
  /** Seed of the server's stream for requests without `seed` (default 0). */
  seed?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
}

export interface ServeServer {
  host: string;
  port: number;
  /** `http://host:port/v1`. */
  url: string;
  /** The served model id. */
  model: string;
  scheduler: ContinuousBatchScheduler;
  /** The served weights' label (`"default"` until an `/update_weights_from_disk`). */
  weightVersion(): string;
  /** Stops accepting connections, lets running requests finish, then stops the scheduler. */
  close(): Promise<void>;
}

/** One generated row of a request: prompt `prompt`, choice index `choice`. */
interface PlannedRow {
  prompt: number;
  choice: number;
  promptTokenIds: number[];
}

export async function startServeServer(options: ServeOptions): Promise<ServeServer> {
  const { model, tokenizer, servedModelName } = options;
  const contextLength = model.config.maxPositionEmbeddings;
  const admission = createAdmission({
    maxBodyBytes: options.maxBodyBytes ?? defaultAdmissionLimits.maxBodyBytes,
    maxBufferedBodyBytes: options.maxBufferedBodyBytes ?? defaultAdmissionLimits.maxBufferedBodyBytes,
    maxPendingRows: options.maxPendingRows ?? defaultAdmissionLimits.maxPendingRows,
    maxPromptCharacters:
      options.maxPromptCharacters ?? contextLength * defaultAdmissionLimits.promptCharactersPerToken,
  });
  const access = await createWeightUpdateAccess(options.weightUpdates ?? { enabled: false });
  /**
   * Arrays and objects a body may hold: 4 per admissible row (a prompt's id list, its sampling
   * object, its stop list, one spare) and 4 per chat message the prompt limit admits (the
   * message, its content parts). Checked by a byte scan before `JSON.parse`.
   */
  const maxJsonContainers =
    4 * admission.limits.maxPendingRows +
    4 * Math.ceil(admission.limits.maxPromptCharacters / chatMessageOverheadCharacters) +
    64;
  const vocabularySize = model.config.vocab_size;
  const serverRandom = Random.fromSeed(options.seed ?? 0);
  const created = Math.floor(Date.now() / 1000);
  let requestCounter = 0;
  const scheduler = await ContinuousBatchScheduler.create({
    model,
    tokenizer,
    ...(options.maxBatchSize === undefined ? {} : { maxBatchSize: options.maxBatchSize }),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.executionProvider === undefined ? {} : { executionProvider: options.executionProvider }),
  });

  const weights = createWeightUpdater({ model, scheduler });
  const handleNativeGenerate = createNativeGenerateHandler({
    scheduler,
    tokenizer,
    contextLength,
    vocabularySize,
    eosTokenIds: [...tokenizer.eosTokenIds, ...model.config.eosTokenIds],
    requestRandom: () => {
      requestCounter += 1;
      return serverRandom.stream(`request ${requestCounter}`);
    },
    weightVersion: () => weights.weightVersion,
  });

  const modelCard = () => ({
    id: servedModelName,
    object: "model",
    created,
    owned_by: "posttrain",
    root: model.directory ?? servedModelName,
    max_model_len: contextLength,
  });

  const checkModel = (name: string) => {
    if (name !== servedModelName)
      throw new ServeRequestError({
        code: "serve_model_not_found",
        status: 404,
        type: "not_found_error",
        param: "model",
        message: `The model \`${name}\` does not exist; this server serves \`${servedModelName}\``,
      });
  };

  /** Validates lengths and turns the shared sampling fields into engine settings. */
  const planSampling = (
    body: ChatCompletionRequest | CompletionRequest,
    prompts: number[][],
    defaultMaxTokens: number | null,
  ) => {
    const longest = Math.max(...prompts.map((prompt) => prompt.length));
    const requested =
      body.max_tokens ?? ("max_completion_tokens" in body ? body.max_completion_tokens : null);
    const maxNewTokens = requested ?? defaultMaxTokens ?? contextLength - longest;
    if (maxNewTokens < 1 || longest + maxNewTokens > contextLength)
      throw new ServeRequestError({
        code: "serve_invalid_request",
        status: 400,
        param: requested === null || requested === undefined ? "messages" : "max_tokens",
        message: `This model's maximum context length is ${contextLength} tokens. However, you requested ${longest + maxNewTokens} tokens (${longest} in the prompt, ${maxNewTokens} for the completion).`,
      });
    const sampling: SamplingParameters = {
      temperature: body.temperature ?? 1,
      ...(body.top_p === null || body.top_p === undefined ? {} : { topP: body.top_p }),
      ...(body.top_k === null || body.top_k === undefined || body.top_k <= 0 ? {} : { topK: body.top_k }),
    };
    const n = body.n ?? 1;
    const rows: PlannedRow[] = prompts.flatMap((promptTokenIds, prompt) =>
      Array.from({ length: n }, (_, index) => ({ prompt, choice: prompt * n + index, promptTokenIds })),
    );
    requestCounter += 1;
    const base =
      body.seed === null || body.seed === undefined
        ? serverRandom.stream(`request ${requestCounter}`)
        : Random.fromSeed(body.seed);
    return { maxNewTokens, sampling, rows, base, stop: body.stop };
  };

  /** Runs every row; streams through `onToken`; rejects on engine failure. */
  const generate = (params: {
    plan: ReturnType<typeof planSampling>;
    topLogProbs: number;
    signal: AbortSignal;
    onToken?: (row: PlannedRow, event: TokenEvent) => void;
    onFinish?: (row: PlannedRow, result: SequenceResult) => void;
  }) =>
    Promise.all(
      params.plan.rows.map(async (row) => {
        const result = await scheduler.submit({
          promptTokenIds: row.promptTokenIds,
          sampling: params.plan.sampling,
          maxNewTokens: params.plan.maxNewTokens,
          stop: params.plan.stop,
          random: params.plan.base.stream(`choice ${row.choice}`),
          topLogProbs: params.topLogProbs,
          signal: params.signal,
          ...(params.onToken === undefined
            ? {}
            : { onToken: (event: TokenEvent) => params.onToken!(row, event) }),
        });
        params.onFinish?.(row, result);
        return result;
      }),
    );

  const startStream = (response: ServerResponse) => {
    response.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    response.flushHeaders();
    return (payload: unknown) => {
      if (!response.writableEnded && !response.destroyed)
        response.write(`data: ${JSON.stringify(payload)}\n\n`);
    };
  };

  const endStream = (response: ServerResponse, send: (payload: unknown) => void, error?: unknown) => {
    if (error !== undefined) {
      const message = PosttrainError.isInstance(error) ? error.message : String(error);
      send({ error: { message, type: "server_error", param: null, code: "serve_generation_failed" } });
    }
    if (!response.writableEnded && !response.destroyed) response.end("data: [DONE]\n\n");
  };

  const handleChat = async (body: unknown, response: ServerResponse, signal: AbortSignal) => {
    const request = parseRequestBody({
      schema: chatCompletionRequestSchema,
      value: body,
      label: "chat completion request",
    });
    checkModel(request.model);
    const prompt = chatPromptTokenIds({
      request,
      tokenizer,
      checkRendered: (characters) => admission.checkRendered({ characters, promptParam: "messages" }),
    });
    const plan = planSampling(request, [prompt], null);
    const withLogProbs = request.logprobs === true;
    const topLogProbs = withLogProbs ? (request.top_logprobs ?? 0) : 0;
    const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
    const header = {
      id,
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model: servedModelName,
    };
    if (request.stream === true) {
      const send = startStream(response);
      for (const row of plan.rows)
        send({
          ...header,
          choices: [
            {
              index: row.choice,
              delta: { role: "assistant", content: "" },
              logprobs: null,
              finish_reason: null,
            },
          ],
        });
      try {
        const results = await generate({
          plan,
          topLogProbs,
          signal,
          onToken: (row, event) => {
            if (event.textDelta === "" && !withLogProbs) return;
            send({
              ...header,
              choices: [
                {
                  index: row.choice,
                  delta: { content: event.textDelta },
                  logprobs: withLogProbs
                    ? {
                        content: chatLogProbContent({
                          tokenizer,
                          tokenIds: [event.tokenId],
                          logProbs: [event.logProb],
                          alternatives: [event.alternatives],
                        }),
                      }
                    : null,
                  finish_reason: null,
                },
              ],
            });
          },
          onFinish: (row, result) => {
            if (result.finishReason === "abort") return;
            send({
              ...header,
              choices: [
                { index: row.choice, delta: {}, logprobs: null, finish_reason: finishReasonOf(result) },
              ],
            });
          },
        });
        if (request.stream_options?.include_usage === true)
          send({
            ...header,
            choices: [],
            usage: usageOf({
              promptTokens: prompt.length,
              completionTokens: results.reduce((sum, result) => sum + result.tokenIds.length, 0),
            }),
          });
        endStream(response, send);
      } catch (error) {
        endStream(response, send, error);
      }
      return;
    }
    const results = await generate({ plan, topLogProbs, signal });
    if (signal.aborted) return;
    sendJson(response, 200, {
      id,
      object: "chat.completion",
      created: header.created,
      model: servedModelName,
      choices: results.map((result, index) => ({
        index,
        message: { role: "assistant", content: result.text },
        ...(request.return_token_ids === true ? { token_ids: result.tokenIds } : {}),
        logprobs: withLogProbs
          ? {
              content: chatLogProbContent({
                tokenizer,
                tokenIds: result.tokenIds,
                logProbs: result.logProbs,
                alternatives: result.alternatives,
              }),
            }
          : null,
        finish_reason: finishReasonOf(result),
      })),
      usage: usageOf({
        promptTokens: prompt.length,
        completionTokens: results.reduce((sum, result) => sum + result.tokenIds.length, 0),
      }),
    });
  };

  const handleCompletion = async (body: unknown, response: ServerResponse, signal: AbortSignal) => {
    const request = parseRequestBody({
      schema: completionRequestSchema,
      value: body,
      label: "completion request",
    });
    checkModel(request.model);
    if (request.best_of !== null && request.best_of !== undefined && request.best_of !== (request.n ?? 1))
      throw new ServeRequestError({
        code: "serve_invalid_request",
        status: 400,
        param: "best_of",
        message: "best_of other than n is not supported",
      });
    const prompts = await completionPromptTokenIds({ request, tokenizer, vocabularySize });
    const plan = planSampling(request, prompts, 16);
    const withLogProbs = request.logprobs !== null && request.logprobs !== undefined;
    const topLogProbs = request.logprobs ?? 0;
    const promptTokens = prompts.reduce((sum, prompt) => sum + prompt.length, 0);
    const id = `cmpl-${randomUUID().replaceAll("-", "")}`;
    const header = {
      id,
      object: "text_completion",
      created: Math.floor(Date.now() / 1000),
      model: servedModelName,
    };
    if (request.stream === true) {
      const send = startStream(response);
      const offsets = new Map<number, number>();
      try {
        const results = await generate({
          plan,
          topLogProbs,
          signal,
          onToken: (row, event) => {
            if (event.textDelta === "" && !withLogProbs) return;
            const offset = offsets.get(row.choice) ?? 0;
            send({
              ...header,
              choices: [
                {
                  index: row.choice,
                  text: event.textDelta,
                  logprobs: withLogProbs
                    ? completionLogProbs({
                        tokenizer,
                        tokenIds: [event.tokenId],
                        logProbs: [event.logProb],
                        alternatives: [event.alternatives],
                        textOffset: offset,
                        withAlternatives: topLogProbs > 0,
                      })
                    : null,
                  finish_reason: null,
                },
              ],
            });
            offsets.set(row.choice, offset + event.textDelta.length);
          },
          onFinish: (row, result) => {
            if (result.finishReason === "abort") return;
            send({
              ...header,
              choices: [
                { index: row.choice, text: "", logprobs: null, finish_reason: finishReasonOf(result) },
              ],
            });
          },
        });
        if (request.stream_options?.include_usage === true)
          send({
            ...header,
            choices: [],
            usage: usageOf({
              promptTokens,
              completionTokens: results.reduce((sum, result) => sum + result.tokenIds.length, 0),
            }),
          });
        endStream(response, send);
      } catch (error) {
        endStream(response, send, error);
      }
      return;
    }
    const results = await generate({ plan, topLogProbs, signal });
    if (signal.aborted) return;
    sendJson(response, 200, {
      id,
      object: "text_completion",
      created: header.created,
      model: servedModelName,
      choices: results.map((result, index) => ({
        index,
        text: result.text,
        ...(request.return_token_ids === true
          ? { token_ids: result.tokenIds, prompt_token_ids: plan.rows[index]!.promptTokenIds }
          : {}),
        logprobs: withLogProbs
          ? completionLogProbs({
              tokenizer,
              tokenIds: result.tokenIds,
              logProbs: result.logProbs,
              alternatives: result.alternatives,
              textOffset: 0,
              withAlternatives: topLogProbs > 0,
            })
          : null,
        finish_reason: finishReasonOf(result),
      })),
      usage: usageOf({
        promptTokens,
        completionTokens: results.reduce((sum, result) => sum + result.tokenIds.length, 0),
      }),
    });
  };

  const handleResponses = async (body: unknown, response: ServerResponse, signal: AbortSignal) => {
    const request: ResponsesRequest = parseRequestBody({
      schema: responsesRequestSchema,
      value: body,
      label: "responses request",
    });
    checkModel(request.model);
    const chat = responsesToChatRequest(request);
    const prompt = chatPromptTokenIds({
      request: chat,
      tokenizer,
      checkRendered: (characters) => admission.checkRendered({ characters, promptParam: "input" }),
    });
    const plan = planSampling(chat, [prompt], null);
    const [result] = await generate({ plan, topLogProbs: 0, signal });
    if (signal.aborted || result === undefined) return;
    sendJson(
      response,
      200,
      responseObject({
        id: `resp_${randomUUID().replaceAll("-", "")}`,
        messageId: `msg_${randomUUID().replaceAll("-", "")}`,
        createdAt: Math.floor(Date.now() / 1000),
        model: servedModelName,
        request,
        text: result.text,
        truncated: result.finishReason === "length",
        inputTokens: prompt.length,
        outputTokens: result.tokenIds.length,
      }),
    );
  };

  type RouteHandler = (
    request: IncomingMessage,
    response: ServerResponse,
    signal: AbortSignal,
  ) => Promise<void>;

  /**
   * A generating route: the body is read within the byte limits, measured and checked against
   * the admission limits before any per-prompt work, and its rows are reserved until the
   * answer is sent (admission.ts).
   */
  const generating =
    (
      route: Parameters<typeof measureRequest>[0]["route"],
      promptParam: string | ((body: unknown) => string),
      handler: (body: unknown, response: ServerResponse, signal: AbortSignal) => Promise<void>,
    ): RouteHandler =>
    async (request, response, signal) => {
      const body = parseJson(await readBody(request, admission), request, maxJsonContainers);
      const measure: RequestMeasure = measureRequest({ route, body });
      admission.check({
        measure,
        contextLength,
        promptParam: typeof promptParam === "string" ? promptParam : promptParam(body),
      });
      const release = admission.reserveRows(Math.max(1, measure.rows));
      try {
        await handler(body, response, signal);
      } finally {
        release();
      }
    };

  const routes: Record<string, { method: "GET" | "POST"; handle: RouteHandler }> = {
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
    "/generate": {
      method: "POST",
      handle: generating(
        "generate",
        (body) =>
          typeof body === "object" && body !== null && "input_ids" in body && body.input_ids != null
            ? "input_ids"
            : "text",
        handleNativeGenerate,
      ),
    },
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
        const body = parseUpdateWeightsRequest(
          parseJson(await readBody(request, admission), request, maxJsonContainers),
        );
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
          body: parseJson(await readBody(request, admission), request, maxJsonContainers),
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
    "/v1/models": {
      method: "GET",
      handle: async (_, response) => sendJson(response, 200, { object: "list", data: [modelCard()] }),
    },
    "/v1/chat/completions": { method: "POST", handle: generating("chat", "messages", handleChat) },
    "/v1/completions": { method: "POST", handle: generating("completions", "prompt", handleCompletion) },
    "/v1/responses": { method: "POST", handle: generating("responses", "input", handleResponses) },
  };
  const routeList = [
    ...Object.entries(routes).map(([path, route]) => `${route.method} ${path}`),
    "GET /v1/models/{model}",
  ]
    .sort()
    .join(", ");

  const invalidUri = (cause: unknown) =>
    new ServeRequestError({
      code: "serve_invalid_request",
      status: 400,
      message: `the request URI is malformed: ${(cause as Error).message}`,
      cause,
    });

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const controller = new AbortController();
    response.on("close", () => {
      if (!response.writableFinished) controller.abort(new Error("client disconnected"));
    });
    try {
      let path: string;
      try {
        path = new URL(request.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "") || "/";
      } catch (error) {
        throw invalidUri(error);
      }
      const modelPath = /^\/v1\/models\/(.+)$/.exec(path);
      if (modelPath !== null) {
        if (request.method !== "GET")
          throw new ServeRequestError({
            code: "serve_method_not_allowed",
            status: 405,
            message: `${request.method} is not allowed on ${path}; use GET`,
            details: { allow: "GET" },
          });
        let name: string;
        try {
          name = decodeURIComponent(modelPath[1]!);
        } catch (error) {
          throw invalidUri(error);
        }
        checkModel(name);
        sendJson(response, 200, modelCard());
        return;
      }
      const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
      if (route === undefined)
        throw new ServeRequestError({
          code: "serve_route_not_found",
          status: 404,
          type: "not_found_error",
          message: `no route ${request.method} ${path}; this server serves ${routeList}`,
        });
      if (request.method !== route.method)
        throw new ServeRequestError({
          code: "serve_method_not_allowed",
          status: 405,
          message: `${request.method} is not allowed on ${path}; use ${route.method}`,
          details: { allow: route.method },
        });
      await route.handle(request, response, controller.signal);
    } catch (error) {
      if (!controller.signal.aborted) sendError(response, error);
    }
  };

  const serve = (request: IncomingMessage, response: ServerResponse) => {
    // handle() answers every error itself; this catch is the last line so that no request can
    // ever end as an unhandled rejection.
    handle(request, response).catch((error: unknown) => {
      process.stderr.write(
        `posttrain serve: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`,
      );
      if (!response.destroyed) response.destroy();
    });
  };
  const server: Server = createServer(serve);
  // `Expect: 100-continue` (curl's default for bodies over 1 MB): a body declared over the limit
  // is refused before the client sends it.
  server.on("checkContinue", (request: IncomingMessage, response: ServerResponse) => {
    if (declaresTooLargeBody(request, admission.limits.maxBodyBytes)) {
      sendError(response, bodyTooLarge(admission.limits.maxBodyBytes));
      return;
    }
    response.writeContinue();
    serve(request, response);
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(
        new ServeError({
          code: "serve_listen_failed",
          message: `cannot listen on ${host}:${options.port ?? 8000}: ${error.message}`,
          cause: error,
        }),
      ),
    );
    server.listen(options.port ?? 8000, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    host,
    port,
    url: `http://${urlHost}:${port}/v1`,
    model: servedModelName,
    scheduler,
    weightVersion: () => weights.weightVersion,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await scheduler.close();
      await closed;
    },
  };
}
