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
   * Counts tokens of the response for the length verifiers: the policy's tokenizer. There is
   * no default; a length verifier without it (or `responseTokenCount`) throws
   * `MissingTokenizerError`.
   */
  countTokens?: (text: string) => number;
  /**
   * The token count of the WHOLE response (reasoning included), computed elsewhere (by
   * `verify` on the main thread, or the RLVR trainer's generated token ids); wins over
   * `countTokens`.
   */
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
  /**
   * True for verifiers that score the token count of the whole response (`max_length`,
   * `up_to_max_length`): the runner must supply `responseTokenCount` or `countTokens`, counted
   * on the raw response before reasoning stripping.
   */
  countsResponseTokens?: boolean;
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
  /**
   * `adversarial`: a hack that must not pay; `honest`: a real answer that must; `reference-rule`:
   * a weak response the reference's own rule accepts and that we keep accepting for parity
   * (expected score > 0), shown as "accepted by the reference's rule" so a recipe author sees
   * the risk.
   */
  kind: "adversarial" | "honest" | "reference-rule";
  response: string;
  label: unknown;
  expectedScore: number;
  /** Why this probe exists: which hack or which false negative it guards against. */
  why: string;
}
