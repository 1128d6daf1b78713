import { setTimeout as sleep } from "node:timers/promises";
import { HubApiError } from "@huggingface/hub";
import { PosttrainError } from "@posttrain/core";
import { isRetryableStatus } from "./errors.js";
import type { RetryPolicy } from "./settings.js";

/**
 * A fetch wrapper handed to @huggingface/hub. The library turns a failed response into an
 * `HubApiError` that keeps the status and body but drops the headers; the Hub says *why* a
 * request failed in `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`,
 * `GatedRepo`), so the transport remembers the last one it saw.
 */
export interface Transport {
  fetch: typeof fetch;
  /** `X-Error-Code` of the most recent failed response, if it had one. */
  lastErrorCode(): string | undefined;
}

export function createTransport(base: typeof fetch): Transport {
  let lastErrorCode: string | undefined;
  const wrapped: typeof fetch = async (input, init) => {
    const response = await base(input, init);
    if (!response.ok) lastErrorCode = response.headers.get("x-error-code") ?? undefined;
    return response;
  };
  return { fetch: wrapped, lastErrorCode: () => lastErrorCode };
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
}): Promise<T> {
  const { policy, operation } = params;
  const attempts = Math.max(1, Math.floor(policy.attempts));
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    const delay = backoffDelay(policy, attempt);
    if (delay > 0) {
      params.onRetry?.({ attempt, delayMilliseconds: delay, error: lastError });
      await sleep(delay);
    }
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isTransientError(error)) throw error;
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
