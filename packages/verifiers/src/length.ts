/**
 * `max_length` and `up_to_max_length`: rewards for hitting a target response length
 * (open-instruct's MaxLenVerifier / UpToMaxLenVerifier).
 *
 * Like open-instruct (`len(tokenized_prediction)`), the length is the number of tokens of the
 * WHOLE response in the policy's tokenizer — reasoning included, whatever the runner strips
 * for other verifiers. There is no fallback word count: without a token count or a counter
 * the check throws {@link MissingTokenizerError} (a whitespace word count let a policy hide
 * 50,000 words in a `<think>` block or write 100 kB without a space as "1 token").
 */
import { z } from "zod";
import { MissingTokenizerError } from "./errors.js";
import type { Verifier, VerifyContext } from "./types.js";

/** A target length in tokens: a non-negative number or numeric string (open-instruct stores text). */
export const lengthLabelSchema = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^\d+(?:\.\d+)?$/, "expected a non-negative number")
      .transform(Number),
  ])
  .pipe(z.number().nonnegative().finite());
export type LengthLabel = z.output<typeof lengthLabelSchema>;

/** Tokens of distance at which the reward reaches 0 (open-instruct's default `max_length_verifier_max_length`). */
export const lengthPenaltyScale = 32_768;

/**
 * The token count of the whole response: the count computed by the runner (on the raw
 * response, before any reasoning stripping), else the context's counter applied to
 * `response`. Throws {@link MissingTokenizerError} when there is neither.
 */
export function responseTokens(params: { response: string; context: VerifyContext; verifier: string }): {
  tokens: number;
  counter: string;
} {
  const { context } = params;
  if (context.responseTokenCount !== undefined)
    return { tokens: context.responseTokenCount, counter: "precomputed" };
  if (context.countTokens !== undefined)
    return { tokens: context.countTokens(params.response), counter: "injected" };
  throw new MissingTokenizerError({ verifier: params.verifier });
}

const clampUnit = (value: number) => Math.min(1, Math.max(0, value));

/** `max_length`: 1 − |tokens − target| / 32768, clamped to [0, 1]. */
export const maxLengthVerifier: Verifier<LengthLabel> = {
  name: "max_length",
  version: "2.0.0",
  description: "1 − |tokens − target| / 32768 (clamped to [0, 1]); tokens of the whole response",
  labelSchema: lengthLabelSchema,
  countsResponseTokens: true,
  verify: ({ response, label, context }) => {
    const { tokens, counter } = responseTokens({ response, context, verifier: "max_length" });
    const score = clampUnit(1 - Math.abs(tokens - label) / lengthPenaltyScale);
    return { score, details: { tokens, target: label, counter } };
  },
};

/** `up_to_max_length`: 1 when tokens ≤ target, else 1 − (tokens − target) / 32768, clamped. */
export const upToMaxLengthVerifier: Verifier<LengthLabel> = {
  name: "up_to_max_length",
  version: "2.0.0",
  description:
    "1 up to the target length, then 1 − (tokens − target) / 32768 (clamped to [0, 1]); tokens of the whole response",
  labelSchema: lengthLabelSchema,
  countsResponseTokens: true,
  verify: ({ response, label, context }) => {
    const { tokens, counter } = responseTokens({ response, context, verifier: "up_to_max_length" });
    const score = tokens <= label ? 1 : clampUnit(1 - (tokens - label) / lengthPenaltyScale);
    return { score, details: { tokens, target: label, counter } };
  },
};

/**
 * A deterministic stand-in counter for the probe suite when no tokenizer is given: one token
 * per UTF-8 byte (what a byte-level BPE tokenizer produces before any merge; an upper bound
 * of its count). Never used for real rewards.
 */
export function countUtf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
