import { setTimeout as sleep } from "node:timers/promises";
import { HubApiError } from "@huggingface/hub";
import { PosttrainError } from "@posttrain/core";
import { isRetryableStatus } from "./retryable-status.js";
import type { RetryEvent, RetryPolicy } from "./settings.js";

/** What the last failed response of a request said, kept for the error message. */
export interface FailedResponse {
  url: string;
  status: number;
  /** `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`, `GatedRepo`, …). */
  errorCode?: string | undefined;
  /** `X-Error-Message`, e.g. "Access to this resource is disabled." */
  errorMessage?: string | undefined;
  /** Seconds the Hub asked to wait (`RateLimit` t= with r=0, or `Retry-After`). */
  retryAfterSeconds?: number | undefined;
  /** `X-Repo-Commit`: the commit a resolve request was answered for. */
  repoCommit?: string | undefined;
  /** Requests sent for this one call, retries included. */
  attempts: number;
  /** True when a rate-limit wait was not made because it would pass the bound on waiting. */
  waitBudgetExceeded?: boolean | undefined;
}

/** The Hub's `RateLimit` header (IETF draft 09), e.g. `"resolvers";r=0;t=60`. */
export interface RateLimitInfo {
  resourceType: string;
  remaining: number;
  resetInSeconds: number;
  /** From `RateLimit-Policy` `q=`, when sent. */
  limit?: number | undefined;
  /** From `RateLimit-Policy` `w=`, when sent. */
  windowSeconds?: number | undefined;
}

/** Parses `RateLimit` / `RateLimit-Policy` as huggingface_hub's `parse_ratelimit_headers` does. */
export function parseRateLimitHeaders(headers: Headers): RateLimitInfo | undefined {
  const value = headers.get("ratelimit");
  if (value === null || value === "") return undefined;
  const match = /"(\w+)"\s*;\s*r\s*=\s*(\d+)\s*;\s*t\s*=\s*(\d+)/.exec(value);
  if (match === null) return undefined;
  const info: RateLimitInfo = {
    resourceType: match[1]!,
    remaining: Number(match[2]),
    resetInSeconds: Number(match[3]),
  };
  const policy = /q\s*=\s*(\d+).*?w\s*=\s*(\d+)/.exec(headers.get("ratelimit-policy") ?? "");
  if (policy !== null) {
    info.limit = Number(policy[1]);
    info.windowSeconds = Number(policy[2]);
  }
  return info;
}

/** `Retry-After` in seconds; only the delay-seconds form (an HTTP date is ignored, as in huggingface_hub). */
export function parseRetryAfter(headers: Headers): number | undefined {
  const value = headers.get("retry-after")?.trim();
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * How long the Hub asked to wait before the next try, in seconds: for a 429 whose `RateLimit`
 * says no requests remain, its `t=`; else `Retry-After` when present (huggingface_hub's
 * `_http_backoff_base`). Undefined: plain exponential backoff.
 */
export function requestedWaitSeconds(response: Response): number | undefined {
  if (response.status === 429) {
    const info = parseRateLimitHeaders(response.headers);
    if (info !== undefined && info.remaining === 0) return info.resetInSeconds;
  }
  return parseRetryAfter(response.headers);
}

/**
 * A fetch wrapper handed to @huggingface/hub and used for our own GETs. Every request is
 * retried on its own, like huggingface_hub's `http_backoff`: HTTP 408, 429 and 5xx and
 * reset/refused connections, up to `policy.attempts` requests. A 429 (or any retryable
 * answer) that says how long to wait is waited out — that many seconds plus one — within
 * a bound on the total wait; otherwise the wait grows exponentially. The library turns a
 * failed response into an `HubApiError` that drops the headers, so the transport keeps the
 * last failure ({@link FailedResponse}) for the error message.
 */
export interface Transport {
  fetch: typeof fetch;
  /** The last non-2xx/3xx response this transport saw, if any. */
  lastFailure(): FailedResponse | undefined;
  /** `X-Error-Code` of the most recent failed response, if it had one. */
  lastErrorCode(): string | undefined;
}

export interface TransportParams {
  fetch: typeof fetch;
  policy: RetryPolicy;
  wait: (milliseconds: number) => Promise<void>;
  maximumRateLimitWaitMilliseconds: number;
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** False for requests that must not be sent twice (a commit): only a 429 or a refused connection is retried. */
  isIdempotent?: ((url: string, init: RequestInit | undefined) => boolean) | undefined;
}

export function createTransport(params: TransportParams | typeof fetch): Transport {
  const options: TransportParams =
    typeof params === "function"
      ? {
          fetch: params,
          policy: { attempts: 1, initialDelayMilliseconds: 0, maximumDelayMilliseconds: 0 },
          wait: async () => {},
          maximumRateLimitWaitMilliseconds: 0,
        }
      : params;
  let lastFailure: FailedResponse | undefined;
  const wrapped: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    const request = `${method} ${url}`;
    const attempts = Math.max(1, Math.floor(options.policy.attempts));
    // A streamed body cannot be sent twice.
    const replayable = !(init?.body instanceof ReadableStream);
    const idempotent = replayable && (options.isIdempotent?.(url, init) ?? true);
    let rateLimitWaited = 0;
    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      try {
        response = await options.fetch(input, init);
      } catch (error) {
        const refused = connectionRefused(error);
        if (!isTransientError(error) || !(idempotent || (replayable && refused))) throw error;
        if (attempt >= attempts) throw new RetriesExhaustedError(attempt, error);
        const delay = backoffDelay(options.policy, attempt + 1);
        options.onRetry?.({ reason: "connection", attempt: attempt + 1, delayMilliseconds: delay, request });
        await options.wait(delay);
        continue;
      }
      if (response.ok || (response.status >= 300 && response.status < 400)) return response;
      const waitSeconds = requestedWaitSeconds(response);
      lastFailure = {
        url,
        status: response.status,
        errorCode: response.headers.get("x-error-code") ?? undefined,
        errorMessage: response.headers.get("x-error-message") ?? undefined,
        retryAfterSeconds: waitSeconds,
        repoCommit: response.headers.get("x-repo-commit") ?? undefined,
        attempts: attempt,
      };
      const retryable =
        isRetryableStatus(response.status) && (idempotent || (replayable && response.status === 429));
      if (!retryable || attempt >= attempts) return response;
      let delay: number;
      let reason: RetryEvent["reason"];
      if (waitSeconds !== undefined) {
        // huggingface_hub: the reset time plus one second "to avoid rounding issues".
        delay = (waitSeconds + 1) * 1000;
        reason = response.status === 429 ? "rate-limited" : "server";
        if (rateLimitWaited + delay > options.maximumRateLimitWaitMilliseconds) {
          lastFailure.waitBudgetExceeded = true;
          return response;
        }
        rateLimitWaited += delay;
      } else {
        delay = backoffDelay(options.policy, attempt + 1);
        reason = response.status === 429 ? "rate-limited" : "server";
      }
      await response.body?.cancel().catch(() => {});
      options.onRetry?.({
        reason,
        attempt: attempt + 1,
        delayMilliseconds: delay,
        status: response.status,
        request,
      });
      await options.wait(delay);
    }
  };
  return { fetch: wrapped, lastFailure: () => lastFailure, lastErrorCode: () => lastFailure?.errorCode };
}

function connectionRefused(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth += 1) {
    if ((current as { code?: unknown }).code === "ECONNREFUSED") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The socket-level reason under a `fetch failed`, e.g. `ECONNREFUSED 127.0.0.1:9`. */
export function connectionFailureReason(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && transientSocketCodes.has(code)) {
      const message = current instanceof Error ? current.message : "";
      return message.includes(code) ? message : `${code}${message === "" ? "" : ` ${message}`}`;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A body shorter than announced, or a connection cut mid-transfer: always worth a retry. */
export class TransientTransferError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransientTransferError";
  }
}

const transientSocketCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  "ENOTFOUND",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

/**
 * True when an error is a transient transport failure: HTTP 5xx/429/408, a reset or refused
 * connection, or a body cut short (undici reports `TypeError: terminated` / `fetch failed`).
 * Looks through `cause` chains, since fetch and atomic writes wrap the socket error.
 */
export function isTransientError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth += 1) {
    if (current instanceof TransientTransferError) return true;
    if (current instanceof HubApiError) return isRetryableStatus(current.statusCode);
    if (current instanceof PosttrainError && current.code !== "atomic_write_failed") return false;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && transientSocketCodes.has(code)) return true;
    if (current instanceof TypeError && /fetch failed|terminated|other side closed/i.test(current.message)) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Delay before attempt `attempt` (1-based; attempt 1 has none): exponential, capped. */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  if (attempt <= 1) return 0;
  return Math.min(policy.maximumDelayMilliseconds, policy.initialDelayMilliseconds * 2 ** (attempt - 2));
}

/**
 * Runs `operation` until it succeeds, retrying transient failures ({@link isTransientError})
 * with exponential backoff. Non-transient errors are thrown at once; after the last attempt
 * the last transient error is thrown, with `attempts` recorded on it for the caller's message.
 */
export async function withRetries<T>(params: {
  policy: RetryPolicy;
  operation: (attempt: number) => Promise<T>;
  onRetry?: (event: { attempt: number; delayMilliseconds: number; error: unknown }) => void;
  /** Which failures are worth another attempt (default {@link isTransientError}). */
  isRetryable?: (error: unknown) => boolean;
  /** How a wait is carried out (default: a timer). */
  wait?: (milliseconds: number) => Promise<void>;
}): Promise<T> {
  const isRetryable = params.isRetryable ?? isTransientError;
  const wait = params.wait ?? ((milliseconds: number) => sleep(milliseconds));
  const { policy, operation } = params;
  const attempts = Math.max(1, Math.floor(policy.attempts));
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const delay = backoffDelay(policy, attempt);
    if (delay > 0) {
      params.onRetry?.({ attempt, delayMilliseconds: delay, error: lastError });
      await wait(delay);
    }
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isRetryable(error)) throw error;
      lastError = error;
    }
  }
  throw new RetriesExhaustedError(attempts, lastError);
}

/** Thrown by {@link withRetries} once every attempt failed transiently. */
export class RetriesExhaustedError extends Error {
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`gave up after ${attempts} attempts: ${reason}`, { cause });
    this.name = "RetriesExhaustedError";
    this.attempts = attempts;
  }
}
