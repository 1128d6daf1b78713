/** `max_length` and `up_to_max_length`: rewards for hitting a target response length (open-instruct). */
import { z } from "zod";
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

/** Tokens of distance at which the reward reaches 0. */
export const lengthPenaltyScale = 32_768;

/** The default token counter: whitespace-separated words. Inject a tokenizer via the context. */
export function countWhitespaceTokens(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}

/** The token count of the judged response: a precomputed count, else the context's counter, else words. */
export function responseTokens(params: { response: string; context: VerifyContext }): {
  tokens: number;
  counter: string;
} {
  const { context } = params;
  if (context.responseTokenCount !== undefined)
    return { tokens: context.responseTokenCount, counter: "precomputed" };
  if (context.countTokens !== undefined)
    return { tokens: context.countTokens(params.response), counter: "injected" };
  return { tokens: countWhitespaceTokens(params.response), counter: "whitespace" };
}

const clampUnit = (value: number) => Math.min(1, Math.max(0, value));

/** `max_length`: 1 − |tokens − target| / 32768, clamped to [0, 1]. */
export const maxLengthVerifier: Verifier<LengthLabel> = {
  name: "max_length",
  version: "1.0.0",
  description: "1 − |tokens − target| / 32768 (clamped to [0, 1])",
  labelSchema: lengthLabelSchema,
  verify: ({ response, label, context }) => {
    const { tokens, counter } = responseTokens({ response, context });
    const score = clampUnit(1 - Math.abs(tokens - label) / lengthPenaltyScale);
    return { score, details: { tokens, target: label, counter } };
  },
};

/** `up_to_max_length`: 1 when tokens ≤ target, else 1 − (tokens − target) / 32768, clamped. */
export const upToMaxLengthVerifier: Verifier<LengthLabel> = {
  name: "up_to_max_length",
  version: "1.0.0",
  description: "1 up to the target length, then 1 − (tokens − target) / 32768 (clamped to [0, 1])",
  labelSchema: lengthLabelSchema,
  verify: ({ response, label, context }) => {
    const { tokens, counter } = responseTokens({ response, context });
    const score = tokens <= label ? 1 : clampUnit(1 - (tokens - label) / lengthPenaltyScale);
    return { score, details: { tokens, target: label, counter } };
  },
};
