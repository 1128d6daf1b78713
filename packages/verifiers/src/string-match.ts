/**
 * The SQuAD-normalised string verifiers of open-instruct's `ground_truth_utils.py`:
 * `string_matcher`, `string_f1`, `puzzle`, `flan`, `re_search_f1`, `re_search`, and
 * `passthrough`.
 */
import { z } from "zod";
import { pythonSplitWhitespace, pythonWordBoundary } from "./ifeval/python-text.js";
import { removeThinkingSection } from "./reasoning.js";
import type { Verifier } from "./types.js";

/** A string label (numbers are read as text). */
export const stringLabelSchema = z.union([z.string(), z.number().transform(String)]);
export type StringLabel = z.output<typeof stringLabelSchema>;

/** One label or a non-empty list of labels (open-instruct's F1Verifier: max over the list). */
export const stringLabelListSchema = z.union([
  stringLabelSchema.transform((label) => [label]),
  z.array(stringLabelSchema).min(1, "a label list needs at least one label"),
]);
export type StringLabelList = z.output<typeof stringLabelListSchema>;

// Python's string.punctuation.
const punctuation = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");

/**
 * SQuAD answer normalisation: lowercase, remove ASCII punctuation, remove the articles
 * "a", "an", "the" (as words), collapse whitespace.
 */
export function normalizeAnswerText(params: { text: string }): string {
  const lowered = params.text.toLowerCase();
  const withoutPunctuation = [...lowered].filter((character) => !punctuation.has(character)).join("");
  // Python's Unicode `\b` and `str.split()` (JavaScript's `\b` is ASCII-only: "éthe" keeps its "the").
  const withoutArticles = withoutPunctuation.replace(articles, " ");
  return pythonSplitWhitespace(withoutArticles).join(" ");
}

const articles = new RegExp(`${pythonWordBoundary}(?:a|an|the)${pythonWordBoundary}`, "gu");

/** Token F1 between a prediction and a reference after {@link normalizeAnswerText}. */
export function tokenF1(params: { prediction: string; reference: string }): {
  f1: number;
  precision: number;
  recall: number;
} {
  const predicted = pythonSplitWhitespace(normalizeAnswerText({ text: params.prediction }));
  const reference = pythonSplitWhitespace(normalizeAnswerText({ text: params.reference }));
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
  version: "1.1.0",
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

/** The best token F1 of `prediction` over `references`, with the index of the best one. */
function bestF1(params: { prediction: string; references: readonly string[] }) {
  let best = { f1: 0, precision: 0, recall: 0, index: 0 };
  params.references.forEach((reference, index) => {
    const scores = tokenF1({ prediction: params.prediction, reference });
    if (index === 0 || scores.f1 > best.f1) best = { ...scores, index };
  });
  return best;
}

/**
 * `string_f1`: token F1 between the response (reasoning and answer tags removed, as
 * open-instruct's `remove_thinking_section`) and the label; with a list of labels, the
 * maximum over them (open-instruct's F1Verifier).
 */
export const stringF1Verifier: Verifier<StringLabelList> = {
  name: "string_f1",
  version: "1.1.0",
  description: "SQuAD token F1 between the response (without <answer> tags) and the label (max over a list)",
  labelSchema: stringLabelListSchema,
  verify: ({ response, label }) => {
    const prediction = removeThinkingSection({ response });
    const { f1, precision, recall, index } = bestF1({ prediction, references: label });
    return {
      score: f1,
      details: { precision, recall, gold: label.length === 1 ? label[0] : label, bestLabel: index },
    };
  },
};

/**
 * `puzzle` (open-instruct's PuzzleMatcherVerifier): the whole response, after
 * `remove_thinking_section` (drop `<|assistant|>`, keep the text after the last `</think>`,
 * remove `<answer>`/`</answer>`), must equal the label after SQuAD normalisation (case,
 * punctuation, the articles a/an/the, whitespace).
 */
export const puzzleVerifier: Verifier<StringLabel> = {
  name: "puzzle",
  version: "1.0.0",
  description: "SQuAD-normalised exact match of the whole response (reasoning and answer tags removed)",
  labelSchema: stringLabelSchema,
  verify: ({ response, label }) => {
    const extracted = removeThinkingSection({ response });
    const normalized = normalizeAnswerText({ text: extracted });
    const equal = normalized === normalizeAnswerText({ text: label });
    const details: Record<string, unknown> = { extracted, gold: label };
    return { score: equal ? 1 : 0, details: equal ? details : { ...details, reason: "not_equal" } };
  },
};

const flanMarker = "The answer is: ";

/**
 * `flan` (open-instruct's FlanVerifier): the text after the last "The answer is: " (the
 * whole response when absent), stripped, must equal the label after SQuAD normalisation.
 */
export const flanVerifier: Verifier<StringLabel> = {
  name: "flan",
  version: "1.0.0",
  description: 'SQuAD-normalised exact match of the text after the last "The answer is: "',
  labelSchema: stringLabelSchema,
  verify: ({ response, label }) => {
    const marker = response.lastIndexOf(flanMarker);
    const extracted = (marker < 0 ? response : response.slice(marker + flanMarker.length)).trim();
    const normalized = normalizeAnswerText({ text: extracted });
    const equal = normalized === normalizeAnswerText({ text: label });
    const details: Record<string, unknown> = { extracted, gold: label };
    return { score: equal ? 1 : 0, details: equal ? details : { ...details, reason: "not_equal" } };
  },
};

/** Python's `str()` of a JSON value, for the scalars a search label holds. */
function pythonStringOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null) return "None";
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}

/**
 * A search-task label (open-instruct's ReSearch / Search-R1 verifiers): a list of accepted
 * answers, a JSON string holding one answer or a list of them, or plain text (stripped).
 */
export const searchLabelSchema = z
  .union([
    z.array(z.union([z.string(), z.number(), z.boolean()])).min(1, "a label list needs at least one answer"),
    z.number().transform((value) => [String(value)]),
    z.string().transform((text, context) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return [text.trim()];
      }
      if (Array.isArray(parsed)) {
        if (parsed.length === 0) {
          context.addIssue({ code: "custom", message: "the JSON label list is empty" });
          return z.NEVER;
        }
        return parsed.map(pythonStringOf);
      }
      return [pythonStringOf(parsed)];
    }),
  ])
  .transform((labels) => labels.map(pythonStringOf));
export type SearchLabel = z.output<typeof searchLabelSchema>;

/**
 * The body of the first `<finish>…</finish>` pair (tags matched case-insensitively), in one
 * linear scan: the first opening tag and the first closing tag after it.
 */
export function extractFinishTag(params: { text: string }): string | undefined {
  const open = /<finish>/iu.exec(params.text);
  if (open === null) return undefined;
  const close = /<\/finish>/giu;
  close.lastIndex = open.index + open[0].length;
  const end = close.exec(params.text);
  return end === null ? undefined : params.text.slice(open.index + open[0].length, end.index);
}

/**
 * `re_search_f1` (open-instruct's ReSearchVerifierF1, from the ReSearch paper): the text
 * between the last `<finish>` and the first `</finish>` after it; no tag at all → 0; an
 * empty answer → 0; otherwise the best token F1 over the labels, and 0.1 when the format
 * is right but F1 is 0 (the paper's format reward).
 */
export const reSearchF1Verifier: Verifier<SearchLabel> = {
  name: "re_search_f1",
  version: "1.0.0",
  description: "token F1 of the <finish>…</finish> answer (max over labels); 0.1 for the format alone",
  labelSchema: searchLabelSchema,
  verify: ({ response, label }) => {
    if (!response.includes("<finish>") && !response.includes("</finish>"))
      return { score: 0, details: { reason: "no_finish_tag", gold: label } };
    const open = response.lastIndexOf("<finish>");
    const afterOpen = open < 0 ? response : response.slice(open + "<finish>".length);
    const close = afterOpen.indexOf("</finish>");
    const extracted = close < 0 ? afterOpen : afterOpen.slice(0, close);
    if (extracted === "") return { score: 0, details: { reason: "empty_answer", gold: label } };
    const { f1, precision, recall, index } = bestF1({ prediction: extracted, references: label });
    const details = { extracted, precision, recall, bestLabel: index, gold: label };
    return f1 === 0 ? { score: 0.1, details: { ...details, reason: "format_only" } } : { score: f1, details };
  },
};

/**
 * `re_search` (open-instruct's R1SearchVerifier, from Search-R1): the first
 * `<finish>…</finish>` body (case-insensitive tags), stripped, must equal one of the labels
 * after SQuAD normalisation.
 */
export const reSearchVerifier: Verifier<SearchLabel> = {
  name: "re_search",
  version: "1.0.0",
  description: "SQuAD-normalised exact match of the first <finish>…</finish> answer against any label",
  labelSchema: searchLabelSchema,
  verify: ({ response, label }) => {
    const body = extractFinishTag({ text: response });
    if (body === undefined) return { score: 0, details: { reason: "no_finish_tag", gold: label } };
    const extracted = body.trim();
    if (extracted === "") return { score: 0, details: { reason: "empty_answer", gold: label } };
    const normalized = normalizeAnswerText({ text: extracted });
    const index = label.findIndex((gold) => normalizeAnswerText({ text: gold }) === normalized);
    return index >= 0
      ? { score: 1, details: { extracted, matchedLabel: index, gold: label } }
      : { score: 0, details: { extracted, reason: "not_equal", gold: label } };
  },
};

/**
 * `passthrough` (open-instruct's PassthroughVerifier, for environment-only tasks whose
 * reward comes from the rollout): always 0; any label.
 */
export const passthroughVerifier: Verifier<unknown> = {
  name: "passthrough",
  version: "1.0.0",
  description: "always 0 (the reward comes from the environment, not from a verifier)",
  labelSchema: z.unknown(),
  verify: () => ({ score: 0, details: { reason: "passthrough" } }),
};
