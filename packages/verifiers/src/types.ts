import type { z } from "zod";

/** The verdict on one response. `score` is in [0, 1]; `details` explain it. */
export interface VerifierResult {
  score: number;
  details: Record<string, unknown>;
}

/** Limits and cancellation for one check. */
export interface VerifyContext {
  /** Hard wall-clock bound for this check, in milliseconds. */
  timeoutMilliseconds: number;
  signal?: AbortSignal;
  /**
   * Epoch milliseconds after which a long check should give up (cooperative; the hard bound
   * is the worker pool's). Set by `verifyOne` / `verify`.
   */
  deadline?: number;
  /**
   * Counts tokens of the judged response for the length verifiers. Default: whitespace-
   * separated words (see `countWhitespaceTokens`). Inject the policy's tokenizer here.
   */
  countTokens?: (text: string) => number;
  /** A token count computed elsewhere (e.g. by `verify` on the main thread); wins over `countTokens`. */
  responseTokenCount?: number;
}

/**
 * A verifiable reward. Registered under the name open-instruct uses in a row's `dataset`
 * column. Pure: no I/O except the code sandbox. `labelSchema` validates the ground truth
 * (a bad label is a clear error naming the row).
 */
export interface Verifier<Label = unknown> {
  name: string;
  /** Semantic version; bump it whenever a verdict can change. */
  version: string;
  description: string;
  labelSchema: z.ZodType<Label>;
  verify(params: {
    response: string;
    label: Label;
    context: VerifyContext;
  }): VerifierResult | Promise<VerifierResult>;
}

/**
 * A reward-hacking probe: a response that must score `expectedScore` (0 for adversarial
 * responses, 1 for honest ones) on `verifier` with `label`.
 */
export interface VerifierProbe {
  verifier: string;
  name: string;
  kind: "adversarial" | "honest";
  response: string;
  label: unknown;
  expectedScore: number;
  /** Why this probe exists: which hack or which false negative it guards against. */
  why: string;
}
