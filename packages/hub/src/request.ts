import { HubApiError } from "@huggingface/hub";
import { HubError, type RequestContext, toHubError } from "./errors.js";
import type { EffectiveHubSettings } from "./settings.js";
import {
  createTransport,
  type FailedResponse,
  isTransientError,
  RetriesExhaustedError,
  type Transport,
  withRetries,
} from "./transport.js";

/**
 * Runs one logical Hub request (which may be several HTTP calls, e.g. a paginated listing)
 * with retries on transient failures, and turns whatever fails into a {@link HubError}
 * worded for `context`.
 */
export async function hubRequest<T>(params: {
  settings: EffectiveHubSettings;
  context: RequestContext;
  operation: (fetch: typeof globalThis.fetch) => Promise<T>;
  /** Requests that must not be repeated (see {@link TransportParams.isIdempotent}). */
  isIdempotent?: (url: string, init: RequestInit | undefined) => boolean;
}): Promise<T> {
  const { settings, context } = params;
  const transport = transportFor(settings, params.isIdempotent);
  try {
    // Statuses and refused connections are retried per request inside the transport; what is
    // left for this loop is a response body cut short while the library read it.
    return await withRetries({
      policy: settings.retry,
      wait: settings.wait,
      isRetryable: (error) =>
        !(error instanceof HubApiError) &&
        !(error instanceof RetriesExhaustedError) &&
        isTransientError(error),
      operation: () => params.operation(transport.fetch),
    });
  } catch (error) {
    throw wrapFailure(error, context, transport.lastErrorCode(), transport.lastFailure());
  }
}

/** The retrying transport for one logical request, from the effective settings. */
export function transportFor(
  settings: EffectiveHubSettings,
  isIdempotent?: (url: string, init: RequestInit | undefined) => boolean,
): Transport {
  return createTransport({
    fetch: settings.fetch,
    policy: settings.retry,
    wait: settings.wait,
    maximumRateLimitWaitMilliseconds: settings.maximumRateLimitWaitMilliseconds,
    onRetry: settings.onRetry,
    isIdempotent,
  });
}

/** A HubError for a failure after retries: `hub_transfer_failed` when they were exhausted. */
export function wrapFailure(
  error: unknown,
  context: RequestContext,
  errorCode?: string,
  failure?: FailedResponse,
): HubError {
  if (error instanceof RetriesExhaustedError) {
    const inner = toHubError(error.cause, context, errorCode, failure);
    return new HubError({
      code: "hub_transfer_failed",
      message: `${inner.message} (gave up after ${error.attempts} attempts)`,
      cause: error.cause,
      details: { ...inner.details, attempts: error.attempts },
    });
  }
  return toHubError(error, context, errorCode, failure);
}

/** Refuses network access in offline mode, naming what would have been fetched. */
export function offlineMissing(params: { context: RequestContext; what: string }): HubError {
  const { context } = params;
  return new HubError({
    code: "hub_offline_missing",
    message: `offline mode (HF_HUB_OFFLINE=1) and ${params.what} of ${context.repo.type} ${context.repo.name} is not in the cache; run once online (unset HF_HUB_OFFLINE) to fetch it`,
    details: {
      repo: context.repo.name,
      repoType: context.repo.type,
      ...(context.revision === undefined ? {} : { revision: context.revision }),
      ...(context.path === undefined ? {} : { path: context.path }),
    },
  });
}
