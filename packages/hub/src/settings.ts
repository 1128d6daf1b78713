import { homedir } from "node:os";
import { join } from "node:path";

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
  /** Token sent as `Authorization: Bearer ...` (`HF_TOKEN`); undefined sends none. */
  accessToken: string | undefined;
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

/** Per-call overrides of the environment-derived {@link HubSettings}. */
export interface HubOverrides {
  hubUrl?: string | undefined;
  /** A token, or `null` to send none even when `HF_TOKEN` is set; undefined: from the environment. */
  accessToken?: string | null | undefined;
  fetch?: typeof fetch | undefined;
  cacheDirectory?: string | undefined;
  offline?: boolean | undefined;
  retry?: Partial<RetryPolicy> | undefined;
}

/** Settings after overrides are applied, plus the transport pieces every call needs. */
export interface EffectiveHubSettings extends HubSettings {
  fetch: typeof fetch;
  retry: RetryPolicy;
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && ["1", "true", "yes", "on"].includes(value.trim().toLowerCase());
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/**
 * Reads the same variables as Python's `huggingface_hub`, with the same precedence, so a
 * cache filled here is found by Python tools and vice versa:
 * - endpoint: `HF_ENDPOINT`, else https://huggingface.co
 * - token: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN` (legacy name)
 * - cache: `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE` (legacy), else `$HF_HOME/hub`,
 *   else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`
 * - offline: `HF_HUB_OFFLINE` set to 1/true/yes/on
 */
export function hubSettingsFromEnvironment(environment: NodeJS.ProcessEnv = process.env): HubSettings {
  const home =
    nonEmpty(environment["HF_HOME"]) ??
    join(nonEmpty(environment["XDG_CACHE_HOME"]) ?? join(homedir(), ".cache"), "huggingface");
  const cacheDirectory =
    nonEmpty(environment["HF_HUB_CACHE"]) ??
    nonEmpty(environment["HUGGINGFACE_HUB_CACHE"]) ??
    join(home, "hub");
  const endpoint = (nonEmpty(environment["HF_ENDPOINT"]) ?? defaultHubEndpoint).replace(/\/+$/, "");
  return {
    endpoint,
    accessToken: nonEmpty(environment["HF_TOKEN"]) ?? nonEmpty(environment["HUGGING_FACE_HUB_TOKEN"]),
    cacheDirectory,
    offline: truthy(environment["HF_HUB_OFFLINE"]),
  };
}

/** Applies per-call overrides on top of the environment. */
export function effectiveSettings(overrides: HubOverrides = {}): EffectiveHubSettings {
  const base = hubSettingsFromEnvironment();
  return {
    endpoint: (overrides.hubUrl ?? base.endpoint).replace(/\/+$/, ""),
    accessToken: overrides.accessToken === null ? undefined : (overrides.accessToken ?? base.accessToken),
    cacheDirectory: overrides.cacheDirectory ?? base.cacheDirectory,
    offline: overrides.offline ?? base.offline,
    fetch: overrides.fetch ?? globalThis.fetch,
    retry: { ...defaultRetryPolicy, ...stripUndefined(overrides.retry ?? {}) },
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}
