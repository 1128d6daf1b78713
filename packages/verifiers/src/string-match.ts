/** `string_matcher` and `string_f1`: SQuAD-normalised exact match and token F1 (open-instruct). */
import { z } from "zod";
import type { Verifier } from "./types.js";

/** A string label (numbers are read as text). */
export const stringLabelSchema = z.union([z.string(), z.number().transform(String)]);
export type StringLabel = z.output<typeof stringLabelSchema>;

// Python's string.punctuation.
const punctuation = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");

/**
 * SQuAD answer normalisation: lowercase, remove ASCII punctuation, remove the articles
 * "a", "an", "the" (as words), collapse whitespace.
 */
export function normalizeAnswerText(params: { text: string }): string {
  const lowered = params.text.toLowerCase();
  const withoutPunctuation = [...lowered].filter((character) => !punctuation.has(character)).join("");
  const withoutArticles = withoutPunctuation.replace(/\b(a|an|the)\b/g, " ");
  return withoutArticles
    .split(/\s+/)
    .filter((token) => token !== "")
    .join(" ");
}

/** Token F1 between a prediction and a reference after {@link normalizeAnswerText}. */
export function tokenF1(params: { prediction: string; reference: string }): {
  f1: number;
  precision: number;
  recall: number;
} {
  const predicted = normalizeAnswerText({ text: params.prediction })
    .split(" ")
    .filter((token) => token !== "");
  const reference = normalizeAnswerText({ text: params.reference })
    .split(" ")
    .filter((token) => token !== "");
  const counts = new Map<string, number>();
  for (const token of reference) counts.set(token, (counts.get(token) ?? 0) + 1);
  let common = 0;
  for (const token of predicted) {
    const left = counts.get(token) ?? 0;
    if (left > 0) {
      common += 1;
      counts.set(token, left - 1);
    }
  }
  if (common === 0) return { f1: 0, precision: 0, recall: 0 };
  const precision = common / predicted.length;
  const recall = common / reference.length;
  return { f1: (2 * precision * recall) / (precision + recall), precision, recall };
}

/** Every `<answer>…</answer>` body, in order. */
export function extractAnswerTags(params: { text: string }): string[] {
  // indexOf rather than a lazy regex: a flood of unclosed "<answer>" stays linear.
  const { text } = params;
  const found: string[] = [];
  let index = 0;
  for (;;) {
    const open = text.indexOf("<answer>", index);
    if (open < 0) break;
    const close = text.indexOf("</answer>", open + 8);
    if (close < 0) break;
    found.push(text.slice(open + 8, close));
    index = close + 9;
  }
  return found;
}

/**
 * `string_matcher`: the answer inside `<answer>…</answer>` must equal the label after SQuAD
 * normalisation (open-instruct). Deliberate difference: several answer tags with different
 * contents score 0 (open-instruct takes the last), so listing guesses never pays.
 */
export const stringMatcherVerifier: Verifier<StringLabel> = {
  name: "string_matcher",
  version: "1.0.0",
  description: "normalised exact match of the <answer>…</answer> text against the label",
  labelSchema: stringLabelSchema,
  verify: ({ response, label }) => {
    const answers = extractAnswerTags({ text: response });
    const extracted = answers.at(-1);
    const details: Record<string, unknown> = { extracted: extracted ?? null, gold: label };
    if (extracted === undefined) return { score: 0, details: { ...details, reason: "no_answer_tag" } };
    const normalized = new Set(answers.map((answer) => normalizeAnswerText({ text: answer })));
    if (normalized.size > 1) return { score: 0, details: { ...details, reason: "conflicting_answers" } };
    const equal = normalizeAnswerText({ text: extracted }) === normalizeAnswerText({ text: label });
    return { score: equal ? 1 : 0, details: equal ? details : { ...details, reason: "not_equal" } };
  },
};

/**
 * `string_f1`: token F1 between the response (answer tags removed) and the label
 * (open-instruct). The reasoning block is stripped by the runner, as open-instruct does.
 */
export const stringF1Verifier: Verifier<StringLabel> = {
  name: "string_f1",
  version: "1.0.0",
  description: "SQuAD token F1 between the response (without <answer> tags) and the label",
  labelSchema: stringLabelSchema,
  verify: ({ response, label }) => {
    const prediction = response.replaceAll("<answer>", "").replaceAll("</answer>", "");
    const { f1, precision, recall } = tokenF1({ prediction, reference: label });
    return { score: f1, details: { precision, recall, gold: label } };
  },
};
