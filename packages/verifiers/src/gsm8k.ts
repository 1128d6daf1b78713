/**
 * GSM8K verifiers: open-instruct's `gsm8k` (the last number in the response equals the label)
 * and `gsm8k_strict` (the number after the last `#### `, as in the dataset's own solutions).
 */
import { z } from "zod";
import type { Verifier } from "./types.js";

/** A GSM8K label: the gold number, as text ("1,000" and "$18" are accepted) or a number. */
export const gsm8kLabelSchema = z
  .union([z.string(), z.number().transform(String)])
  .refine((value) => parseGsm8kNumber({ text: value }) !== undefined, "the gold answer is not a number");
export type Gsm8kLabel = z.output<typeof gsm8kLabelSchema>;

/** Removes thousands commas between digits ("1,234,567" → "1234567"), as open-instruct does. */
export function stripThousandsSeparators(params: { text: string }): string {
  return params.text.replace(/(?<=\d),(?=\d)/g, "");
}

/**
 * A number token: an optional sign (only where it cannot be a binary minus), digits with an
 * optional decimal part, and an optional "/denominator" (so "5/6" is read as 5/6, not 6).
 */
const numberPattern =
  /(?<![\w)\]}])[-+]?(?:\d*\.\d+|\d+)(?:\/(?:\d*\.\d+|\d+))?|(?:\d*\.\d+|\d+)(?:\/(?:\d*\.\d+|\d+))?/g;

/** Every number in `text` (after thousands separators are removed), in order. */
export function extractNumbers(params: { text: string }): string[] {
  return stripThousandsSeparators(params).match(numberPattern) ?? [];
}

/** The last number in the response, or undefined (open-instruct `gsm8k` extraction). */
export function extractLastNumber(params: { text: string }): string | undefined {
  return extractNumbers(params).at(-1);
}

/**
 * The numeric value of a GSM8K answer: "18", "18.00", "-3", "$1,000", "18." and "5/6" are
 * read; anything else is undefined.
 */
export function parseGsm8kNumber(params: { text: string }): number | undefined {
  const text = stripThousandsSeparators({ text: params.text.trim() })
    .replace(/^\$/, "")
    .replace(/\.$/, "")
    .replace(/^(-?)\$/, "$1")
    .trim();
  const match = /^([-+]?(?:\d*\.\d+|\d+))(?:\/((?:\d*\.\d+|\d+)))?$/.exec(text);
  if (match === null) return undefined;
  const numerator = Number(match[1]);
  if (match[2] === undefined) return numerator;
  const denominator = Number(match[2]);
  return denominator === 0 ? undefined : numerator / denominator;
}

/** Numeric equality of two GSM8K answers ("18.0" equals "18"; open-instruct compares strings). */
export function gsm8kAnswersEqual(params: { answer: string; label: string }): boolean {
  const answer = parseGsm8kNumber({ text: params.answer });
  const label = parseGsm8kNumber({ text: params.label });
  if (answer === undefined || label === undefined)
    return params.answer.trim().toLowerCase() === params.label.trim().toLowerCase();
  return Math.abs(answer - label) <= 1e-9 * Math.max(1, Math.abs(label));
}

/**
 * True when the last number is offered as one of several ("5 or 6", "either 5 or 6",
 * "5, or 6"): the response hedges, and a hedge must not collect the reward.
 */
export function isHedgedAnswer(params: { text: string }): boolean {
  const text = stripThousandsSeparators(params);
  const matches = [...text.matchAll(numberPattern)];
  const last = matches.at(-1);
  if (last === undefined || last.index === undefined) return false;
  const before = text.slice(Math.max(0, last.index - 60), last.index);
  return /\d\s*,?\s*(?:or|and\/or)\s*(?:maybe\s+|possibly\s+|perhaps\s+)?\$?\s*$/i.test(before);
}

/** The text after the last `####` marker, or undefined. */
export function extractHashAnswer(params: { text: string }): string | undefined {
  const index = params.text.lastIndexOf("####");
  if (index < 0) return undefined;
  return params.text
    .slice(index + 4)
    .split("\n")[0]
    ?.trim();
}

/**
 * `gsm8k`: open-instruct semantics — thousands commas stripped, the last number in the
 * response must equal the label. Deliberate differences: numeric comparison ("18.00" = 18),
 * signed numbers are read ("-5"), "a/b" is one number, and a hedged "5 or 6" scores 0.
 */
export const gsm8kVerifier: Verifier<Gsm8kLabel> = {
  name: "gsm8k",
  version: "1.0.0",
  description: "GSM8K: the last number in the response equals the label (thousands commas stripped)",
  labelSchema: gsm8kLabelSchema,
  verify: ({ response, label }) => {
    const extracted = extractLastNumber({ text: response });
    const details: Record<string, unknown> = { extracted: extracted ?? null, gold: label };
    if (extracted === undefined) return { score: 0, details: { ...details, reason: "no_number" } };
    if (isHedgedAnswer({ text: response }))
      return { score: 0, details: { ...details, reason: "hedged_answer" } };
    const equal = gsm8kAnswersEqual({ answer: extracted, label });
    return { score: equal ? 1 : 0, details: equal ? details : { ...details, reason: "not_equal" } };
  },
};

/** `gsm8k_strict`: the answer must be written as `#### N` (the number alone after the last marker). */
export const gsm8kStrictVerifier: Verifier<Gsm8kLabel> = {
  name: "gsm8k_strict",
  version: "1.0.0",
  description: "GSM8K strict: the response ends its solution with '#### N' and N equals the label",
  labelSchema: gsm8kLabelSchema,
  verify: ({ response, label }) => {
    const extracted = extractHashAnswer({ text: response });
    const details: Record<string, unknown> = { extracted: extracted ?? null, gold: label };
    if (extracted === undefined) return { score: 0, details: { ...details, reason: "no_hash_answer" } };
    if (parseGsm8kNumber({ text: extracted }) === undefined)
      return { score: 0, details: { ...details, reason: "not_a_number" } };
    const equal = gsm8kAnswersEqual({ answer: extracted, label });
    return { score: equal ? 1 : 0, details: equal ? details : { ...details, reason: "not_equal" } };
  },
};
