/**
 * The JSON-over-HTTP client of the remote generation backend: POST/GET with a per-request
 * timeout, retries with exponential backoff on network errors, timeouts, 408, 429 and 5xx
 * (generation requests carry seeds and weight loads are idempotent, so a retry is safe), a
 * bearer token when given, and zod validation of the answer that names the offending fields.
 */
import { safeParseWithSchema } from "@posttrain/core";
import type { z } from "zod";
import { RemoteGenerationError } from "./errors.js";

export interface HttpClientOptions {
  /** Base URL without a trailing slash, e.g. `http://host:30000`. */
  baseUrl: string;
  apiKey?: string;
  timeoutMilliseconds: number;
  retries: number;
  backoffMilliseconds: number;
  fetch: typeof fetch;
}

const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

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

/** The answer of one request: status and body text (JSON not yet parsed). */
export interface RawAnswer {
  status: number;
  text: string;
}

/** Sends one request with retries; any final status is returned (the caller decides). */
export async function request(params: {
  client: HttpClientOptions;
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  signal?: AbortSignal;
}): Promise<RawAnswer> {
  const { client } = params;
  const url = `${client.baseUrl}${params.path}`;
  let lastError: RemoteGenerationError | undefined;
  for (let attempt = 0; attempt <= client.retries; attempt += 1) {
    if (params.signal?.aborted) throw params.signal.reason;
    const timeout = AbortSignal.timeout(client.timeoutMilliseconds);
    const signal = params.signal === undefined ? timeout : AbortSignal.any([params.signal, timeout]);
    try {
      const response = await client.fetch(url, {
        method: params.method,
        headers: {
          ...(params.body === undefined ? {} : { "content-type": "application/json" }),
          ...(client.apiKey === undefined ? {} : { authorization: `Bearer ${client.apiKey}` }),
        },
        ...(params.body === undefined ? {} : { body: JSON.stringify(params.body) }),
        signal,
      });
      const text = await response.text();
      if (!retryable(response.status)) return { status: response.status, text };
      lastError = new RemoteGenerationError({
        code: "remote_generation_status",
        message: `${params.method} ${url}: HTTP ${response.status}: ${text.slice(0, 300)}`,
        details: { status: response.status, body: text.slice(0, 2000), attempts: attempt + 1 },
      });
    } catch (error) {
      if (params.signal?.aborted) throw params.signal.reason;
      const cause = (error as { cause?: Error }).cause;
      lastError = timeout.aborted
        ? new RemoteGenerationError({
            code: "remote_generation_timeout",
            message: `${params.method} ${url}: no answer within ${client.timeoutMilliseconds} ms`,
            cause: error,
            details: { attempts: attempt + 1 },
          })
        : new RemoteGenerationError({
            code: "remote_generation_network",
            message: `${params.method} ${url}: ${(error as Error).message}${cause ? ` (${cause.message})` : ""}`,
            cause: error,
            details: { attempts: attempt + 1 },
          });
    }
    if (attempt < client.retries)
      await sleep(Math.min(30_000, client.backoffMilliseconds * 2 ** attempt), params.signal);
  }
  throw lastError!;
}

/** Parses a JSON body against `schema`; failures name the endpoint and the offending fields. */
export function parseAnswer<Schema extends z.ZodType>(params: {
  answer: RawAnswer;
  schema: Schema;
  label: string;
}): z.output<Schema> {
  let value: unknown;
  try {
    value = JSON.parse(params.answer.text);
  } catch (error) {
    throw new RemoteGenerationError({
      code: "remote_generation_invalid_response",
      message: `${params.label}: the answer is not JSON: ${params.answer.text.slice(0, 200)}`,
      cause: error,
    });
  }
  const parsed = safeParseWithSchema({ schema: params.schema, value, label: params.label });
  if (parsed.success) return parsed.value;
  throw new RemoteGenerationError({
    code: "remote_generation_invalid_response",
    message: parsed.error.message,
    cause: parsed.error,
    details: { issues: parsed.error.issues },
  });
}

/** Throws `remote_generation_status` unless the status is 2xx. */
export function expectSuccess(params: { answer: RawAnswer; label: string }): void {
  const { status, text } = params.answer;
  if (status >= 200 && status < 300) return;
  throw new RemoteGenerationError({
    code: "remote_generation_status",
    message: `${params.label}: HTTP ${status}: ${text.slice(0, 300)}${authorizationHint(status)}`,
    details: { status, body: text.slice(0, 2000) },
  });
}

/**
 * A hint for a refused weight route: 401/403 mean the server wants a token (or has weight
 * updates off), e.g. `posttrain serve` without `--enable-weight-updates`.
 */
export function authorizationHint(status: number): string {
  if (status === 401)
    return " (the server wants a bearer token: set POSTTRAIN_GENERATION_API_KEY or POSTTRAIN_WEIGHT_UPDATE_TOKEN to its token)";
  if (status === 403)
    return " (the server refuses weight updates: start `posttrain serve` with --enable-weight-updates and a --weight-updates-root holding the weights folder)";
  return "";
}
