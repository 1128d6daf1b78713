import { HubApiError } from "@huggingface/hub";
import { PosttrainError } from "@posttrain/core";
import { connectionFailureReason, type FailedResponse } from "./transport.js";

/**
 * Stable error codes of this package:
 * - `hub_unauthorized`: HTTP 401. The repo is private (set `HF_TOKEN`) — the Hub also answers
 *   401 for a repo that does not exist when no token is sent — or the token is invalid.
 * - `hub_gated`: a `GatedRepo` answer (`X-Error-Code`, or the Hub's gated-repo message): the
 *   repo is gated and this token has not been granted access (accept the conditions on the
 *   repo page). Only that: other 403s are `hub_forbidden`.
 * - `hub_forbidden`: any other HTTP 403: a token without read access to the repo (a
 *   fine-grained token lacking the scope), or a repo whose access is disabled.
 * - `hub_rate_limited`: HTTP 429 persisted after every retry, or waiting out the Hub's
 *   rate-limit window would pass the bound on waiting.
 * - `hub_file_too_large`: a single file above 50 GB, which the Hub serves only through the
 *   Xet protocol (huggingface_hub refuses plain HTTP for it too).
 * - `hub_not_found`: HTTP 404 for the repo itself (wrong name or type).
 * - `hub_revision_not_found`: the branch, tag or commit does not exist in the repo.
 * - `hub_file_not_found`: the file does not exist at that revision.
 * - `hub_hash_mismatch`: the downloaded content does not match the Hub's hash (sha256 = LFS
 *   oid, or the git blob oid for non-LFS files), even after one fresh download.
 * - `hub_offline_missing`: `HF_HUB_OFFLINE=1` and what was asked for is not in the cache.
 * - `hub_transfer_failed`: a transient failure (5xx, 429, connection reset, cut transfer)
 *   persisted after every retry, or the Hub answered something this client cannot use.
 * - `hub_invalid_argument`: a repo name, revision or path this package refuses before any
 *   request is made.
 * - `hub_upload_failed`: the Hub refused a commit.
 */
export type HubErrorCode =
  | "hub_unauthorized"
  | "hub_gated"
  | "hub_forbidden"
  | "hub_rate_limited"
  | "hub_file_too_large"
  | "hub_not_found"
  | "hub_revision_not_found"
  | "hub_file_not_found"
  | "hub_hash_mismatch"
  | "hub_offline_missing"
  | "hub_transfer_failed"
  | "hub_invalid_argument"
  | "hub_upload_failed";

/** Every failure of a Hub transfer. `details` always names the repo (and revision/path when known). */
export class HubError extends PosttrainError {
  declare readonly code: HubErrorCode;

  constructor(params: {
    code: HubErrorCode;
    message: string;
    cause?: unknown;
    details?: Record<string, unknown>;
  }) {
    super(params);
    this.name = "HubError";
  }
}

/** What a request was about, used to word errors. */
export interface RequestContext {
  repo: { type: string; name: string };
  revision?: string | undefined;
  path?: string | undefined;
}

function describe(context: RequestContext): string {
  return `${context.repo.type} ${context.repo.name}`;
}

function contextDetails(context: RequestContext): Record<string, unknown> {
  return {
    repo: context.repo.name,
    repoType: context.repo.type,
    ...(context.revision === undefined ? {} : { revision: context.revision }),
    ...(context.path === undefined ? {} : { path: context.path }),
  };
}

/**
 * The Hub's error code for a failed request: the `X-Error-Code` header when the transport
 * recorded it, else inferred from the message the Hub wrote in the body.
 */
function hubErrorCodeOf(error: HubApiError, recorded: string | undefined): string | undefined {
  if (recorded !== undefined) return recorded;
  // The library appends ". URL: <request url>", which must not be mistaken for the message.
  const text = error.message.split(". URL: ")[0] ?? "";
  if (/revision not found|invalid rev id/i.test(text)) return "RevisionNotFound";
  if (/entry not found/i.test(text)) return "EntryNotFound";
  if (/gated|access to .* is restricted/i.test(text)) return "GatedRepo";
  if (/repository not found/i.test(text)) return "RepoNotFound";
  return undefined;
}

export { isRetryableStatus } from "./retryable-status.js";

/**
 * Converts an `HubApiError` (or any HTTP status plus optional Hub error code) into the
 * {@link HubError} a user can act on. `errorCode` is the Hub's `X-Error-Code` header
 * (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`, `GatedRepo`) when it is known.
 */
export function hubErrorFromStatus(params: {
  status: number;
  errorCode?: string | undefined;
  message?: string | undefined;
  context: RequestContext;
  cause?: unknown;
  /** What the transport recorded of the last failed response (headers, attempts). */
  failure?: FailedResponse | undefined;
}): HubError {
  const { status, errorCode, context, cause, failure } = params;
  const where = describe(context);
  const details = {
    ...contextDetails(context),
    status,
    ...(errorCode === undefined ? {} : { hubErrorCode: errorCode }),
    ...(failure?.errorMessage === undefined ? {} : { hubErrorMessage: failure.errorMessage }),
    ...(failure?.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: failure.retryAfterSeconds }),
    ...(failure === undefined ? {} : { attempts: failure.attempts }),
  };
  const heard = [
    `HTTP ${status}`,
    ...(errorCode === undefined ? [] : [`X-Error-Code ${errorCode}`]),
    ...(failure?.errorMessage === undefined ? [] : [`X-Error-Message "${failure.errorMessage}"`]),
    ...(failure?.retryAfterSeconds === undefined ? [] : [`Retry-After ${failure.retryAfterSeconds} s`]),
  ].join(", ");
  const serverMessage = ` (Hub: ${heard}${params.message === undefined ? "" : `; ${params.message}`})`;
  const base = { cause, details };
  if (errorCode === "GatedRepo") {
    return new HubError({
      code: "hub_gated",
      message: `${where} is gated and this token has no access: request access on the repo page, then set HF_TOKEN to a token of the account that was granted it${serverMessage}`,
      ...base,
    });
  }
  if (status === 403) {
    const disabled = /access to this resource is disabled/i.test(
      `${failure?.errorMessage ?? ""} ${params.message ?? ""}`,
    );
    return new HubError({
      code: "hub_forbidden",
      message: disabled
        ? `${where}: access to this repo is disabled by the Hub (403); no token can read it${serverMessage}`
        : `${where}: forbidden (403): the token has no read access to this repo (a fine-grained token needs the "read" scope for it, or use a token of an account that can read it)${serverMessage}`,
      ...base,
    });
  }
  if (status === 429) {
    return new HubError({
      code: "hub_rate_limited",
      message: `${where}: rate limited by the Hub (429)${failure?.waitBudgetExceeded === true ? "; waiting out the window would pass the bound on waiting" : ""}${failure === undefined ? "" : ` after ${failure.attempts} attempts`}: wait${failure?.retryAfterSeconds === undefined ? "" : ` ${failure.retryAfterSeconds} s`} and run again, or log in (HF_TOKEN) for a higher limit${serverMessage}`,
      ...base,
    });
  }
  if (status === 401) {
    return new HubError({
      code: "hub_unauthorized",
      message: `${where}: unauthorized (401). The repo is private (set HF_TOKEN to a token with read access) or does not exist, or the token is invalid${serverMessage}`,
      ...base,
    });
  }
  if (status === 404) {
    if (errorCode === "RevisionNotFound") {
      return new HubError({
        code: "hub_revision_not_found",
        message: `${where} has no revision ${JSON.stringify(context.revision ?? "main")}${serverMessage}`,
        ...base,
      });
    }
    if (errorCode === "EntryNotFound") {
      return new HubError({
        code: "hub_file_not_found",
        message: `${where} has no file ${JSON.stringify(context.path ?? "")} at revision ${context.revision ?? "main"}${serverMessage}`,
        ...base,
      });
    }
    return new HubError({
      code: "hub_not_found",
      message: `${where} not found (404): check the repo name and type (dataset or model)${serverMessage}`,
      ...base,
    });
  }
  return new HubError({
    code: "hub_transfer_failed",
    message: `${where}: the Hub answered HTTP ${status}${failure === undefined ? "" : ` (gave up after ${failure.attempts} attempts)`}${status >= 500 ? "; the Hub may be down: set HF_HUB_OFFLINE=1 to use what is cached" : ""}${serverMessage}`,
    ...base,
    details: { ...details, unreachable: status >= 500 },
  });
}

/**
 * Wraps anything a request threw into a {@link HubError}; HubErrors pass through unchanged.
 * `errorCode` is the `X-Error-Code` header of the failed response, when known.
 */
export function toHubError(
  error: unknown,
  context: RequestContext,
  errorCode?: string,
  failure?: FailedResponse,
): HubError {
  if (error instanceof HubError) return error;
  if (error instanceof HubApiError) {
    const matches = failure !== undefined && failure.status === error.statusCode;
    return hubErrorFromStatus({
      status: error.statusCode,
      errorCode: hubErrorCodeOf(error, matches ? failure.errorCode : errorCode),
      message: error.message,
      context,
      cause: error,
      ...(matches ? { failure } : {}),
    });
  }
  const connection = connectionFailureReason(error);
  if (connection !== undefined) {
    return new HubError({
      code: "hub_transfer_failed",
      message: `${describe(context)}: could not reach the Hub (${connection}); check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use what is cached`,
      cause: error,
      details: { ...contextDetails(context), unreachable: true, connection },
    });
  }
  let reason = error instanceof Error ? error.message : String(error);
  // `fetch failed` alone says nothing: add what undici put underneath it.
  const inner = (error as { cause?: unknown } | null)?.cause;
  if (inner instanceof Error && inner.message !== "" && !reason.includes(inner.message)) {
    reason = `${reason} (${inner.message})`;
  }
  if (error instanceof TypeError && /access token must start with/i.test(reason)) {
    return new HubError({
      code: "hub_unauthorized",
      message: `${describe(context)}: the access token (HF_TOKEN) is malformed: Hub tokens start with "hf_"`,
      cause: error,
      details: contextDetails(context),
    });
  }
  return new HubError({
    code: "hub_transfer_failed",
    message: `${describe(context)}: request failed: ${reason}`,
    cause: error,
    details: contextDetails(context),
  });
}
