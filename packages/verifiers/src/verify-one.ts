/** One check, in the current thread: label validation, reasoning stripping, error capture. */
import { PosttrainError, safeParseWithSchema } from "@posttrain/core";
import { InvalidLabelError, MissingTokenizerError, VerifierTimeoutError } from "./errors.js";
import { stripReasoning as stripReasoningBlock } from "./reasoning.js";
import { getVerifier } from "./registry.js";
import type { Verifier, VerifierResult, VerifyContext } from "./types.js";

/** Default hard bound of one check. */
export const defaultTimeoutMilliseconds = 5_000;
/** Responses longer than this score 0 without being judged (a 1 MB dump is not an answer). */
export const defaultMaximumResponseCharacters = 200_000;

export interface VerifyOneParams {
  /** A registered name (remap applies) or a verifier object. */
  verifier: string | Verifier<unknown>;
  remap?: string | readonly string[];
  response: string;
  /** The raw ground truth; validated against the verifier's label schema. */
  label: unknown;
  /** Strip a `<think>…</think>` block before judging (default true). */
  stripReasoning?: boolean;
  timeoutMilliseconds?: number;
  maximumResponseCharacters?: number;
  /** The policy's tokenizer as a counter (length verifiers; applied to the whole response). */
  countTokens?: (text: string) => number;
  /** The whole response's token count, when already known (wins over `countTokens`). */
  responseTokenCount?: number;
  /** Row index, for error messages. */
  row?: number;
}

/** A verdict plus whether the verifier failed (threw or timed out) rather than judged. */
export interface CheckResult extends VerifierResult {
  error: boolean;
  timeout: boolean;
}

/** Validates a label; throws {@link InvalidLabelError} naming the row. */
export function parseLabel(params: { verifier: Verifier<unknown>; label: unknown; row?: number }): unknown {
  const parsed = safeParseWithSchema({
    schema: params.verifier.labelSchema,
    value: params.label,
    label: "ground_truth",
  });
  if (!parsed.success) {
    throw new InvalidLabelError({
      verifier: params.verifier.name,
      row: params.row,
      issues: parsed.error.issues,
    });
  }
  return parsed.value;
}

function describeError(error: unknown): Record<string, unknown> {
  if (PosttrainError.isInstance(error)) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: "verifier_threw", message: error.message };
  return { code: "verifier_threw", message: String(error) };
}

/**
 * Runs one check in this thread. The label is validated first (an invalid label throws
 * {@link InvalidLabelError}: a data bug, not a model failure); a length verifier without a
 * token count or counter throws {@link MissingTokenizerError}. Then: an over-long response
 * scores 0; the reasoning block is stripped (unless `stripReasoning: false`); a verifier that
 * throws yields score 0 with `details.error`; an async verifier is abandoned at the time
 * bound (`details.timeout`). A synchronous check cannot be interrupted here: `verify` runs
 * checks in worker threads that are terminated at the bound.
 */
export async function verifyOne(params: VerifyOneParams): Promise<CheckResult> {
  const verifier =
    typeof params.verifier === "string"
      ? getVerifier({ name: params.verifier, ...(params.remap === undefined ? {} : { remap: params.remap }) })
      : params.verifier;
  const label = parseLabel({
    verifier,
    label: params.label,
    ...(params.row === undefined ? {} : { row: params.row }),
  });
  const timeoutMilliseconds = params.timeoutMilliseconds ?? defaultTimeoutMilliseconds;
  const maximum = params.maximumResponseCharacters ?? defaultMaximumResponseCharacters;
  const base = { verifier: verifier.name, version: verifier.version };
  if (params.response.length > maximum) {
    return {
      score: 0,
      details: { ...base, reason: "response_too_long", characters: params.response.length, maximum },
      error: false,
      timeout: false,
    };
  }
  // Length verifiers count the raw response (reasoning included), before stripping.
  let responseTokenCount = params.responseTokenCount;
  if (verifier.countsResponseTokens === true && responseTokenCount === undefined) {
    if (params.countTokens === undefined) throw new MissingTokenizerError({ verifier: verifier.name });
    responseTokenCount = params.countTokens(params.response);
  }
  // A length verifier judges the whole response: nothing is stripped for it.
  const strip = (params.stripReasoning ?? true) && verifier.countsResponseTokens !== true;
  const judged = strip ? stripReasoningBlock({ response: params.response }) : params.response;
  const context: VerifyContext = {
    timeoutMilliseconds,
    deadline: Date.now() + timeoutMilliseconds,
    ...(params.countTokens === undefined ? {} : { countTokens: params.countTokens }),
    ...(responseTokenCount === undefined ? {} : { responseTokenCount }),
  };
  const reasoning = strip ? { reasoningStripped: judged.length !== params.response.trim().length } : {};
  let timer: NodeJS.Timeout | undefined;
  try {
    const pending = Promise.resolve(verifier.verify({ response: judged, label, context }));
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new VerifierTimeoutError({ timeoutMilliseconds })),
        timeoutMilliseconds,
      );
    });
    const result = await Promise.race([pending, timedOut]);
    if (!Number.isFinite(result.score)) {
      const error = {
        code: "verifier_invalid_score",
        message: `the verifier returned score ${result.score}`,
      };
      return {
        score: 0,
        details: { ...base, ...reasoning, ...result.details, error },
        error: true,
        timeout: false,
      };
    }
    const score = Math.min(1, Math.max(0, result.score));
    return { score, details: { ...base, ...reasoning, ...result.details }, error: false, timeout: false };
  } catch (error) {
    const timeout = PosttrainError.hasCode(error, "verifier_timeout");
    return {
      score: 0,
      details: {
        ...base,
        ...reasoning,
        ...(timeout ? { timeout: true, timeoutMilliseconds } : {}),
        error: describeError(error),
      },
      error: !timeout,
      timeout,
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
