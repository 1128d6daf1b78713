/**
 * A GenerationBackend over any OpenAI-compatible HTTP server (vLLM, SGLang, llama.cpp server,
 * Ollama, `posttrain serve`): chat and completions APIs, a concurrency limit, retries with
 * exponential backoff, per-request timeouts, and the response cache (response-cache.ts).
 *
 * How prompts travel:
 * - `text` prompts → `POST /v1/completions` with `prompt` as text.
 * - `tokens` prompts → `/v1/completions` with `prompt` as an array of ids (vLLM, SGLang).
 * - `chat` prompts with a `tokenizer` → rendered locally (the model's chat template with the
 *   generation prompt, then the raw assistant prefix: exactly OLMES's prompt) and sent to
 *   `/v1/completions`. This is the byte-exact path.
 * - `chat` prompts without a tokenizer → `POST /v1/chat/completions`. An assistant prefix is
 *   sent as a trailing assistant message with `continue_final_message: true` and
 *   `add_generation_prompt: false` (vLLM's extension: the template renders the final message
 *   open-ended and the model continues it; the response holds only the continuation). Servers
 *   without that extension may start a new turn instead: use the tokenizer path there.
 *
 * Every request asks for all missing samples of a prompt at once (`n`); a sample's seed is
 * `sampling.seed` (per request, as vLLM applies it). Stop strings are sent and also applied
 * locally (idempotent). Retried: network errors, timeouts, 408, 425, 429 and 5xx (Retry-After
 * honoured); other 4xx fail at once with the server's error message.
 */
import type {
  Completion,
  GenerationBackend,
  GenerationBackendDescription,
  GenerationPrompt,
  GenerationRequest,
} from "@posttrain/core";
import type { TextTokenizer } from "@posttrain/data";
import { EvaluationError, HttpBackendError } from "./errors.js";
import { openResponseCache, type ResponseCache, responseCacheKey } from "./response-cache.js";
import { cutAtStop } from "./scoring.js";

export interface OpenAiBackendParams {
  /** Base URL, with or without `/v1` (e.g. `http://localhost:8000` or `http://host/v1`). */
  endpoint: string;
  /** The served model id (`model` in each request body). */
  model: string;
  apiKey?: string;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Per-request timeout (default 600,000 ms). */
  timeoutMilliseconds?: number;
  /** Retries after the first attempt (default 5). */
  retries?: number;
  /** First backoff delay; doubles per retry, capped at 30 s (default 500 ms). */
  backoffMilliseconds?: number;
  /** Cache folder; omitted = no cache. */
  cacheDirectory?: string;
  /** Renders chat prompts locally for the completions API (see the module comment). */
  tokenizer?: TextTokenizer;
  /** `auto` (default) picks per prompt as described above; `chat` / `completions` force one. */
  api?: "auto" | "chat" | "completions";
  /** Recorded in results (e.g. a weights hash known to the caller). */
  modelHash?: string;
  /** Injected for tests. */
  fetch?: typeof fetch;
}

/** Normalises a base URL to end with `/v1`. */
export function apiBaseUrl(params: { endpoint: string }): string {
  const trimmed = params.endpoint.replace(/\/+$/, "");
  return trimmed.endsWith("/v1") ? trimmed : `${trimmed}/v1`;
}

function createLimiter(concurrency: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}

const sleep = (milliseconds: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, milliseconds);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

const retryableStatus = (status: number) =>
  status === 408 || status === 425 || status === 429 || status >= 500;

interface ChoiceShape {
  index?: number;
  text?: string;
  message?: { content?: string | null };
  finish_reason?: string | null;
  logprobs?: {
    token_logprobs?: Array<number | null>;
    content?: Array<{ logprob: number }> | null;
  } | null;
}

/** Creates the backend (opening its cache when a folder is given). */
export async function createOpenAiBackend(params: OpenAiBackendParams): Promise<GenerationBackend> {
  const base = apiBaseUrl({ endpoint: params.endpoint });
  const concurrency = params.concurrency ?? 8;
  const timeoutMilliseconds = params.timeoutMilliseconds ?? 600_000;
  const retries = params.retries ?? 5;
  const backoffMilliseconds = params.backoffMilliseconds ?? 500;
  const apiChoice = params.api ?? "auto";
  const doFetch = params.fetch ?? fetch;
  const cache: ResponseCache | undefined =
    params.cacheDirectory === undefined
      ? undefined
      : await openResponseCache({ directory: params.cacheDirectory });
  const limit = createLimiter(concurrency);

  const apiFor = (prompt: GenerationPrompt): "chat" | "completions" => {
    if (prompt.kind !== "chat") return "completions";
    if (apiChoice === "chat") return "chat";
    if (apiChoice === "completions" || params.tokenizer !== undefined) {
      if (params.tokenizer === undefined) {
        throw new EvaluationError({
          code: "eval_invalid_argument",
          message: "the completions API needs a tokenizer to render chat prompts (pass a tokenizer folder)",
        });
      }
      return "completions";
    }
    return "chat";
  };

  const requestBody = (request: GenerationRequest, api: "chat" | "completions", count: number) => {
    const { sampling, prompt } = request;
    const body: Record<string, unknown> = {
      model: params.model,
      max_tokens: sampling.maxNewTokens,
      temperature: sampling.temperature,
      n: count,
    };
    if (sampling.topP !== undefined) body["top_p"] = sampling.topP;
    if (sampling.topK !== undefined) body["top_k"] = sampling.topK;
    if (sampling.stop !== undefined && sampling.stop.length > 0) body["stop"] = sampling.stop;
    if (sampling.seed !== undefined && sampling.temperature > 0) body["seed"] = sampling.seed;
    if (api === "chat") {
      if (prompt.kind !== "chat")
        throw new EvaluationError({ code: "eval_invalid_argument", message: "chat API needs a chat prompt" });
      const messages: Array<{ role: string; content: string }> = prompt.messages.map((message) => ({
        ...message,
      }));
      if (prompt.assistantPrefix !== undefined) {
        messages.push({ role: "assistant", content: prompt.assistantPrefix });
        body["continue_final_message"] = true;
        body["add_generation_prompt"] = false;
      }
      body["messages"] = messages;
      if (sampling.logprobs === true) body["logprobs"] = true;
    } else {
      if (prompt.kind === "text") body["prompt"] = prompt.text;
      else if (prompt.kind === "tokens") body["prompt"] = prompt.tokenIds;
      else {
        const tokenizer = params.tokenizer as TextTokenizer;
        body["prompt"] =
          tokenizer.applyChatTemplate({
            // @posttrain/data's ChatMessage has no "tool" role; eval prompts never use it.
            messages: prompt.messages as Parameters<TextTokenizer["applyChatTemplate"]>[0]["messages"],
            addGenerationPrompt: true,
          }) + (prompt.assistantPrefix ?? "");
      }
      if (sampling.logprobs === true) body["logprobs"] = 1;
    }
    return body;
  };

  const post = async (path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> => {
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      if (signal?.aborted) throw signal.reason;
      const timeout = AbortSignal.timeout(timeoutMilliseconds);
      const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
      let retryAfterMilliseconds: number | undefined;
      try {
        const response = await doFetch(`${base}${path}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(params.apiKey === undefined ? {} : { authorization: `Bearer ${params.apiKey}` }),
          },
          body: JSON.stringify(body),
          signal: combined,
        });
        const text = await response.text();
        if (response.ok) {
          try {
            return JSON.parse(text);
          } catch (error) {
            throw new HttpBackendError({
              code: "http_backend_invalid_response",
              message: `${path}: the server's answer is not JSON: ${text.slice(0, 200)}`,
              cause: error,
            });
          }
        }
        let serverMessage = text.slice(0, 500);
        try {
          const parsed = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
          serverMessage =
            typeof parsed.error === "string"
              ? parsed.error
              : (parsed.error?.message ?? parsed.message ?? serverMessage);
        } catch {
          // Not JSON: keep the raw text.
        }
        const error = new HttpBackendError({
          code: "http_backend_status",
          message: `${path}: HTTP ${response.status}: ${serverMessage}`,
          details: { status: response.status, serverMessage, attempts: attempt + 1 },
        });
        if (!retryableStatus(response.status)) throw error;
        lastError = error;
        const retryAfter = Number(response.headers.get("retry-after"));
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMilliseconds = retryAfter * 1000;
      } catch (error) {
        if (error instanceof HttpBackendError && error.code !== "http_backend_status") throw error;
        if (error instanceof HttpBackendError && !retryableStatus(Number(error.details?.["status"])))
          throw error;
        if (signal?.aborted) throw signal.reason;
        if (!(error instanceof HttpBackendError)) {
          lastError = timeout.aborted
            ? new HttpBackendError({
                code: "http_backend_timeout",
                message: `${path}: no answer within ${timeoutMilliseconds} ms`,
                cause: error,
                details: { attempts: attempt + 1 },
              })
            : new HttpBackendError({
                code: "http_backend_network",
                message: `${path}: ${(error as Error).message}${(error as { cause?: Error }).cause ? ` (${(error as { cause?: Error }).cause?.message})` : ""}`,
                cause: error,
                details: { attempts: attempt + 1 },
              });
        }
      }
      if (attempt < retries) {
        const delay = retryAfterMilliseconds ?? Math.min(30_000, backoffMilliseconds * 2 ** attempt);
        await sleep(delay, signal);
      }
    }
    throw lastError;
  };

  const parseChoices = (
    answer: unknown,
    api: "chat" | "completions",
    expected: number,
    stop: readonly string[],
  ) => {
    const choices = (answer as { choices?: ChoiceShape[] }).choices;
    if (!Array.isArray(choices) || choices.length !== expected) {
      throw new HttpBackendError({
        code: "http_backend_invalid_response",
        message: `expected ${expected} choices, got ${Array.isArray(choices) ? choices.length : "none"}`,
      });
    }
    return [...choices]
      .sort((left, right) => (left.index ?? 0) - (right.index ?? 0))
      .map((choice): Completion => {
        const raw = api === "chat" ? (choice.message?.content ?? "") : (choice.text ?? "");
        const text = cutAtStop({ text: raw, stop });
        const logprobs =
          api === "chat"
            ? (choice.logprobs?.content?.map((entry) => entry.logprob) ?? null)
            : (choice.logprobs?.token_logprobs?.map((value) => value ?? 0) ?? null);
        return {
          text,
          tokenIds: null,
          logprobs,
          finishReason: choice.finish_reason === "length" && text === raw ? "length" : "stop",
        };
      });
  };

  const description: GenerationBackendDescription = {
    kind: "openai-http",
    model: `${params.model} @ ${base}`,
    ...(params.modelHash === undefined ? {} : { modelHash: params.modelHash }),
  };

  return {
    describe: () => description,
    async generate({ requests, signal, onProgress }) {
      const results: Completion[][] = requests.map(() => []);
      let completedRequests = 0;
      let generatedTokens = 0;
      await Promise.all(
        requests.map(async (request, requestIndex) => {
          const samples = request.samples ?? 1;
          const api = apiFor(request.prompt);
          const keys = Array.from({ length: samples }, (_, sampleIndex) =>
            responseCacheKey({
              model: params.model,
              api,
              prompt: request.prompt,
              sampling: request.sampling,
              sampleIndex,
            }),
          );
          const slots: Array<Completion | undefined> = keys.map((key) => cache?.get(key));
          const missing = slots.flatMap((slot, index) => (slot === undefined ? [index] : []));
          if (missing.length > 0) {
            const answer = await limit(() =>
              post(
                api === "chat" ? "/chat/completions" : "/completions",
                requestBody(request, api, missing.length),
                signal,
              ),
            );
            const completions = parseChoices(answer, api, missing.length, request.sampling.stop ?? []);
            const usage = (answer as { usage?: { completion_tokens?: number } }).usage;
            generatedTokens += usage?.completion_tokens ?? 0;
            missing.forEach((slotIndex, index) => {
              slots[slotIndex] = completions[index];
            });
            await cache?.put(
              missing.map((slotIndex) => ({
                key: keys[slotIndex] as string,
                completion: slots[slotIndex] as Completion,
              })),
            );
          }
          results[requestIndex] = slots as Completion[];
          completedRequests += 1;
          onProgress?.({ completedRequests, totalRequests: requests.length, generatedTokens });
        }),
      );
      return results;
    },
  };
}

/** The model ids an endpoint serves (`GET /v1/models`), e.g. to default `--served-model`. */
export async function listServedModels(params: {
  endpoint: string;
  apiKey?: string;
  timeoutMilliseconds?: number;
}): Promise<string[]> {
  const url = `${apiBaseUrl({ endpoint: params.endpoint })}/models`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: params.apiKey === undefined ? {} : { authorization: `Bearer ${params.apiKey}` },
      signal: AbortSignal.timeout(params.timeoutMilliseconds ?? 30_000),
    });
  } catch (error) {
    throw new HttpBackendError({
      code: "http_backend_network",
      message: `${url}: ${(error as Error).message}`,
      cause: error,
    });
  }
  const text = await response.text();
  if (!response.ok) {
    throw new HttpBackendError({
      code: "http_backend_status",
      message: `${url}: HTTP ${response.status}: ${text.slice(0, 300)}`,
      details: { status: response.status },
    });
  }
  try {
    const data = (JSON.parse(text) as { data?: Array<{ id?: unknown }> }).data ?? [];
    return data.flatMap((entry) => (typeof entry.id === "string" ? [entry.id] : []));
  } catch (error) {
    throw new HttpBackendError({
      code: "http_backend_invalid_response",
      message: `${url}: not JSON`,
      cause: error,
    });
  }
}
