import { closeSync, openSync, readSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The public Hugging Face Hub, used when `HF_ENDPOINT` is not set. */
export const defaultHubEndpoint = "https://huggingface.co";

/**
 * Where and how this process talks to the Hub. Every public function of this package takes
 * optional overrides ({@link HubOverrides}); whatever is not overridden comes from
 * {@link hubSettingsFromEnvironment}.
 */
export interface HubSettings {
  /** Base URL of the Hub, without a trailing slash (`HF_ENDPOINT`). */
  endpoint: string;
  /**
   * Token sent as `Authorization: Bearer ...`: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else
   * the file `hf auth login` writes (`HF_TOKEN_PATH`, default `$HF_HOME/token`); undefined
   * sends none (also when `HF_HUB_DISABLE_IMPLICIT_TOKEN` is set).
   */
  accessToken: string | undefined;
  /** Where the token came from, for error messages: an environment variable, a file path, or undefined. */
  accessTokenSource?: string | undefined;
  /** The hub cache root holding `datasets--owner--name/` folders (`HF_HUB_CACHE`). */
  cacheDirectory: string;
  /** `HF_HUB_OFFLINE=1`: never touch the network, serve from the cache only. */
  offline: boolean;
}

/** Backoff policy for transient failures (HTTP 5xx/429, connection reset, cut transfer). */
export interface RetryPolicy {
  /** Total attempts, the first one included. */
  attempts: number;
  /** Delay before the second attempt; doubled for each further one. */
  initialDelayMilliseconds: number;
  /** Upper bound of one delay. */
  maximumDelayMilliseconds: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attempts: 5,
  initialDelayMilliseconds: 500,
  maximumDelayMilliseconds: 8_000,
};

/**
 * Upper bound of all rate-limit waits of one request (HTTP 429 with `RateLimit` or
 * `Retry-After`): huggingface_hub waits as long as the Hub says, 5 times at most; the Hub's
 * windows are 5 minutes, so 5 full windows is the most a call will ever sit waiting.
 */
export const defaultMaximumRateLimitWaitMilliseconds = 5 * 5 * 60_000;

/** One wait before a request is sent again, reported through {@link HubOverrides.onRetry}. */
export interface RetryEvent {
  /** `rate-limited`: HTTP 429 with a reset time; `server`: another retryable status; `connection`: a reset, refused or cut connection. */
  reason: "rate-limited" | "server" | "connection";
  /** The attempt about to be made (2 = first retry). */
  attempt: number;
  delayMilliseconds: number;
  /** HTTP status that caused the wait, when there was one. */
  status?: number | undefined;
  /** What the request was (`GET https://…`), for progress lines. */
  request: string;
}

/** Per-call overrides of the environment-derived {@link HubSettings}. */
export interface HubOverrides {
  hubUrl?: string | undefined;
  /** A token, or `null` to send none even when `HF_TOKEN` is set; undefined: from the environment. */
  accessToken?: string | null | undefined;
  fetch?: typeof fetch | undefined;
  cacheDirectory?: string | undefined;
  offline?: boolean | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** Told before every wait between attempts (rate-limit windows included), e.g. to show it in progress output. */
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /**
   * How a wait is carried out (default: a timer). Tests pass one that records the delay and
   * returns at once, so no test depends on wall-clock time.
   */
  wait?: ((milliseconds: number) => Promise<void>) | undefined;
  /** Bound on the sum of rate-limit waits of one request (default {@link defaultMaximumRateLimitWaitMilliseconds}). */
  maximumRateLimitWaitMilliseconds?: number | undefined;
}

/** Settings after overrides are applied, plus the transport pieces every call needs. */
export interface EffectiveHubSettings extends HubSettings {
  fetch: typeof fetch;
  retry: RetryPolicy;
  onRetry: ((event: RetryEvent) => void) | undefined;
  wait: (milliseconds: number) => Promise<void>;
  maximumRateLimitWaitMilliseconds: number;
}

/** huggingface_hub's `_is_true`: 1, ON, YES, TRUE in any case. */
function truthy(value: string | undefined): boolean {
  return value !== undefined && ["1", "true", "yes", "on"].includes(value.trim().toLowerCase());
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/**
 * Python's `os.path.expandvars(os.path.expanduser(path))`: a leading `~` becomes the home
 * folder, `$NAME` and `${NAME}` the variable's value; unknown variables stay as written.
 */
export function expandPath(path: string, environment: NodeJS.ProcessEnv = process.env): string {
  let expanded = path;
  if (expanded === "~" || expanded.startsWith("~/")) {
    expanded = (nonEmpty(environment["HOME"]) ?? homedir()) + expanded.slice(1);
  }
  return expanded.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (whole, braced, bare) => {
      const value = environment[(braced ?? bare) as string];
      return value === undefined ? whole : value;
    },
  );
}

/** huggingface_hub's `_clean_token`: line breaks removed, surrounding space trimmed, empty = none. */
function cleanToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  const cleaned = token.replace(/[\r\n]/g, "").trim();
  return cleaned === "" ? undefined : cleaned;
}

/** A token file is a few dozen bytes; anything past 64 KiB is not a token file. */
const maximumTokenFileBytes = 64 * 1024;

function readTokenFile(path: string): string | undefined {
  let descriptor: number;
  try {
    descriptor = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.alloc(maximumTokenFileBytes);
    const length = readSync(descriptor, buffer, 0, buffer.length, 0);
    return cleanToken(buffer.subarray(0, length).toString("utf8"));
  } catch {
    return undefined;
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Reads the same variables as Python's `huggingface_hub` (constants.py, utils/_auth.py), with
 * the same precedence, so a cache filled here is found by Python tools and vice versa:
 * - endpoint: `HF_ENDPOINT`, else https://huggingface.co
 * - token: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN` (legacy name), else the file written by
 *   `hf auth login`: `HF_TOKEN_PATH`, default `$HF_HOME/token`. None at all when
 *   `HF_HUB_DISABLE_IMPLICIT_TOKEN` is set (a per-call `accessToken` is still sent).
 * - cache: `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE` (legacy), else `$HF_HOME/hub`,
 *   else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`; `~` and
 *   `$VARIABLES` in these paths are expanded as Python expands them.
 * - offline: `HF_HUB_OFFLINE`, else `TRANSFORMERS_OFFLINE`, set to 1/true/yes/on
 */
export function hubSettingsFromEnvironment(environment: NodeJS.ProcessEnv = process.env): HubSettings {
  const expand = (path: string) => expandPath(path, environment);
  const home = expand(
    nonEmpty(environment["HF_HOME"]) ??
      join(nonEmpty(environment["XDG_CACHE_HOME"]) ?? join(homedir(), ".cache"), "huggingface"),
  );
  const cacheDirectory = expand(
    nonEmpty(environment["HF_HUB_CACHE"]) ??
      nonEmpty(environment["HUGGINGFACE_HUB_CACHE"]) ??
      join(home, "hub"),
  );
  const endpoint = (nonEmpty(environment["HF_ENDPOINT"]) ?? defaultHubEndpoint).replace(/\/+$/, "");
  const token = resolveToken(environment, home);
  return {
    endpoint,
    accessToken: token?.value,
    ...(token === undefined ? {} : { accessTokenSource: token.source }),
    cacheDirectory,
    // Python: `os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")`.
    offline: truthy(environment["HF_HUB_OFFLINE"] || environment["TRANSFORMERS_OFFLINE"]),
  };
}

function resolveToken(
  environment: NodeJS.ProcessEnv,
  home: string,
): { value: string; source: string } | undefined {
  if (truthy(environment["HF_HUB_DISABLE_IMPLICIT_TOKEN"])) return undefined;
  const fromVariable = environment["HF_TOKEN"] ? "HF_TOKEN" : "HUGGING_FACE_HUB_TOKEN";
  const variable = cleanToken(environment["HF_TOKEN"] || environment["HUGGING_FACE_HUB_TOKEN"]);
  if (variable !== undefined) return { value: variable, source: fromVariable };
  const path = expandPath(nonEmpty(environment["HF_TOKEN_PATH"]) ?? join(home, "token"), environment);
  const fromFile = readTokenFile(path);
  return fromFile === undefined ? undefined : { value: fromFile, source: path };
}

/** Applies per-call overrides on top of the environment. */
export function effectiveSettings(overrides: HubOverrides = {}): EffectiveHubSettings {
  const base = hubSettingsFromEnvironment();
  return {
    endpoint: (overrides.hubUrl ?? base.endpoint).replace(/\/+$/, ""),
    accessToken: overrides.accessToken === null ? undefined : (overrides.accessToken ?? base.accessToken),
    cacheDirectory: overrides.cacheDirectory ?? base.cacheDirectory,
    ...(overrides.accessToken === undefined
      ? base.accessTokenSource === undefined
        ? {}
        : { accessTokenSource: base.accessTokenSource }
      : overrides.accessToken === null
        ? {}
        : { accessTokenSource: "the accessToken option" }),
    offline: overrides.offline ?? base.offline,
    fetch: overrides.fetch ?? globalThis.fetch,
    retry: { ...defaultRetryPolicy, ...stripUndefined(overrides.retry ?? {}) },
    onRetry: overrides.onRetry,
    wait: overrides.wait ?? ((milliseconds) => sleep(milliseconds)),
    maximumRateLimitWaitMilliseconds:
      overrides.maximumRateLimitWaitMilliseconds ?? defaultMaximumRateLimitWaitMilliseconds,
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}
