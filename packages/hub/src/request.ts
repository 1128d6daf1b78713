import { HubError, type RequestContext, toHubError } from "./errors.js";
import type { EffectiveHubSettings } from "./settings.js";
import { createTransport, RetriesExhaustedError, withRetries } from "./transport.js";

/**
 * Runs one logical Hub request (which may be several HTTP calls, e.g. a paginated listing)
 * with retries on transient failures, and turns whatever fails into a {@link HubError}
 * worded for `context`.
 */
export async function hubRequest<T>(params: {
  settings: EffectiveHubSettings;
  context: RequestContext;
  operation: (fetch: typeof globalThis.fetch) => Promise<T>;
}): Promise<T> {
  const { settings, context } = params;
  const transport = createTransport(settings.fetch);
  try {
    return await withRetries({ policy: settings.retry, operation: () => params.operation(transport.fetch) });
  } catch (error) {
    throw wrapFailure(error, context, transport.lastErrorCode());
  }
}

/** A HubError for a failure after retries: `hub_transfer_failed` when they were exhausted. */
export function wrapFailure(error: unknown, context: RequestContext, errorCode?: string): HubError {
  if (error instanceof RetriesExhaustedError) {
    const inner = toHubError(error.cause, context, errorCode);
    return new HubError({
      code: "hub_transfer_failed",
      message: `${inner.message} (gave up after ${error.attempts} attempts)`,
      cause: error.cause,
      details: { ...inner.details, attempts: error.attempts },
    });
  }
  return toHubError(error, context, errorCode);
}

/** Refuses network access in offline mode, naming what would have been fetched. */
export function offlineMissing(params: { context: RequestContext; what: string }): HubError {
  const { context } = params;
  return new HubError({
    code: "hub_offline_missing",
    message: `HF_HUB_OFFLINE=1 and ${params.what} of ${context.repo.type} ${context.repo.name} is not in the cache; run once online (unset HF_HUB_OFFLINE) to fetch it`,
    details: {
      repo: context.repo.name,
      repoType: context.repo.type,
      ...(context.revision === undefined ? {} : { revision: context.revision }),
      ...(context.path === undefined ? {} : { path: context.path }),
    },
  });
}
