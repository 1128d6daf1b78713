/**
 * `posttrain serve`: an OpenAI-compatible HTTP server over the embedded engine, on Node's
 * built-in `node:http` (a dozen routes and SSE need no framework). This file listens,
 * dispatches and shuts down; the routes live in routes/*.ts (one module per family, each a
 * table of path → method + handler over the shared `ServeContext` of context.ts), and
 * every generating route answers through the one responder (responder.ts) that writes both
 * the SSE stream and the plain JSON reply.
 *
 * Routes: `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/chat/completions`,
 * `POST /v1/completions`, `POST /v1/responses` (basic, non-streaming; responses-api.ts),
 * `GET /health`, and `GET /stats` (not OpenAI: the scheduler's counters — active/pending rows,
 * decode steps, prefills, generated tokens, row-steps — so a load test can compute the mean
 * batch size). Every generated row (prompt × `n`) goes to one
 * {@link ContinuousBatchScheduler}, so concurrent clients share decode steps.
 * For RL trainers with an external generation server (routes/generate.ts, routes/weights.ts):
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
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExecutionProvider, GenerationTokenizer, PretrainedModel } from "@posttrain/engine";
import { createAdmission, defaultAdmissionLimits } from "./admission.js";
import { createServeContext } from "./context.js";
import { ServeError, ServeRequestError } from "./errors.js";
import { bodyTooLarge, declaresTooLargeBody, sendError } from "./http-io.js";
import { chatRoutes } from "./routes/chat.js";
import { completionRoutes } from "./routes/completions.js";
import { generateRoutes } from "./routes/generate.js";
import { describeModel, modelRoutes } from "./routes/models.js";
import { responsesRoutes } from "./routes/responses.js";
import type { RouteTable } from "./routes/route.js";
import { weightRoutes } from "./routes/weights.js";
import { ContinuousBatchScheduler } from "./scheduler.js";
import { createWeightUpdateAccess, type WeightUpdateAccessOptions } from "./weight-access.js";
import { createWeightUpdater } from "./weight-updates.js";

export interface ServeOptions {
  model: PretrainedModel;
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
  const scheduler = await ContinuousBatchScheduler.create({
    model,
    tokenizer,
    ...(options.maxBatchSize === undefined ? {} : { maxBatchSize: options.maxBatchSize }),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.executionProvider === undefined ? {} : { executionProvider: options.executionProvider }),
  });
  const weights = createWeightUpdater({ model, scheduler });
  const context = createServeContext({
    model,
    tokenizer,
    servedModelName,
    admission,
    access,
    scheduler,
    weights,
    seed: options.seed ?? 0,
  });

  // One module per family of routes (routes/*.ts); adding a route is adding a row there.
  const routes: RouteTable = {
    ...modelRoutes(context),
    ...generateRoutes(context),
    ...weightRoutes(context),
    ...chatRoutes(context),
    ...completionRoutes(context),
    ...responsesRoutes(context),
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
        describeModel({ context, response, name });
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
