import { z } from "zod";
import { IfevalLabelError } from "./errors.js";
import { isPythonJson } from "./json-check.js";
import { isLanguage, type LanguageDetector } from "./language.js";
import { countDelimitedSpans, pythonCount, pythonSplitWhitespace, pythonStrip } from "./python-text.js";

/**
 * Tulu 3's `ifeval_old` constraint functions (open-instruct `if_functions.py`, the version used
 * for the Tulu 3 RLVR run): 25 functions named by the label's `func_name`, each a binary
 * verdict with its own kwargs names (`N`, `quantifier`, `keyword_list`, …). These differ from
 * Google's checks on purpose — they are what Tulu 3 was trained with.
 */
interface IfFunction {
  kwargsSchema: z.ZodType;
  needsLanguage?: boolean;
  check(params: { text: string; kwargs: never; languageDetector: LanguageDetector | undefined }): boolean;
}

const count = z.number().int().nonnegative();
const quantifier = z.string();

function define<Schema extends z.ZodType>(definition: {
  kwargsSchema: Schema;
  needsLanguage?: boolean;
  check(params: {
    text: string;
    kwargs: z.output<Schema>;
    languageDetector: LanguageDetector | undefined;
  }): boolean;
}): IfFunction {
  return definition as unknown as IfFunction;
}

const wordPattern = /[\p{L}\p{N}_]+/gu;
const quantified = (params: { actual: number; N: number; quantifier: string; tolerance: number }) => {
  if (params.quantifier === "at least") return params.actual >= params.N;
  if (params.quantifier === "at most") return params.actual <= params.N;
  if (params.quantifier === "around") return Math.abs(params.actual - params.N) <= params.tolerance;
  return false;
};

/** Python's `round` (banker's rounding) for the ±10% "around" tolerance. */
function pythonRound(value: number): number {
  const floor = Math.floor(value);
  const difference = value - floor;
  if (difference > 0.5) return floor + 1;
  if (difference < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const sentenceBoundary = /(?<![\p{L}\p{N}_]\.[\p{L}\p{N}_][^\n])(?<![A-Z][a-z]\.)(?<=\.|\?)\s/u;

export const ifFunctions: ReadonlyMap<string, IfFunction> = new Map<string, IfFunction>([
  [
    "verify_keywords",
    define({
      kwargsSchema: z.strictObject({ keyword_list: z.array(z.string()) }),
      check: ({ text, kwargs }) =>
        kwargs.keyword_list.every((keyword) => text.toLowerCase().includes(keyword.toLowerCase())),
    }),
  ],
  [
    "verify_keyword_frequency",
    define({
      kwargsSchema: z.strictObject({ word: z.string(), N: count }),
      check: ({ text, kwargs }) =>
        (text.toLowerCase().match(wordPattern) ?? []).filter((word) => word === kwargs.word.toLowerCase())
          .length === kwargs.N,
    }),
  ],
  [
    "validate_forbidden_words",
    define({
      kwargsSchema: z.strictObject({ forbidden_words: z.array(z.string()) }),
      check: ({ text, kwargs }) =>
        !kwargs.forbidden_words.some((word) => text.toLowerCase().includes(word.toLowerCase())),
    }),
  ],
  [
    "verify_letter_frequency",
    define({
      kwargsSchema: z.strictObject({
        letter: z.string().refine((letter) => [...letter].length === 1, "must be one character"),
        N: count,
      }),
      check: ({ text, kwargs }) => pythonCount({ text, substring: kwargs.letter }) === kwargs.N,
    }),
  ],
  [
    "validate_response_language",
    define({
      kwargsSchema: z.strictObject({ language: z.string() }),
      needsLanguage: true,
      check: ({ text, kwargs, languageDetector }) => {
        if (languageDetector === undefined) return false;
        // langdetect raises on text without features; Tulu 3's function did not catch it.
        if (languageDetector.detect(text) === undefined) return false;
        return isLanguage({ detector: languageDetector, text, language: kwargs.language });
      },
    }),
  ],
  [
    "verify_paragraph_count",
    define({
      kwargsSchema: z.strictObject({ N: count }),
      check: ({ text, kwargs }) => {
        const cleaned = pythonStrip(
          text
            .split(/\r\n|\r|\n|\v|\f|\x1c|\x1d|\x1e|\x85|\u2028|\u2029/u)
            .map((line) => pythonStrip(line))
            .join("\n"),
        );
        const paragraphs = cleaned.split("* * *");
        if (paragraphs.some((paragraph) => pythonStrip(paragraph) === "")) return false;
        return paragraphs.length === kwargs.N;
      },
    }),
  ],
  [
    "validate_word_constraint",
    define({
      kwargsSchema: z.strictObject({ N: count, quantifier }),
      check: ({ text, kwargs }) =>
        quantified({
          actual: pythonSplitWhitespace(text).length,
          N: kwargs.N,
          quantifier: kwargs.quantifier,
          tolerance: Math.max(pythonRound(kwargs.N * 0.1), 1),
        }),
    }),
  ],
  [
    "verify_sentence_constraint",
    define({
      kwargsSchema: z.strictObject({ N: count, quantifier }),
      check: ({ text, kwargs }) =>
        quantified({
          actual: text.split(sentenceBoundary).length,
          N: kwargs.N,
          quantifier: kwargs.quantifier,
          tolerance: 1,
        }),
    }),
  ],
  [
    "validate_paragraphs",
    define({
      kwargsSchema: z.strictObject({ N: count, first_word: z.string(), i: z.number().int().positive() }),
      check: ({ text, kwargs }) => {
        const paragraphs = text.split("\n\n");
        if (paragraphs.length !== kwargs.N) return false;
        const paragraph = paragraphs[kwargs.i - 1];
        return paragraph !== undefined && pythonStrip(paragraph).startsWith(kwargs.first_word);
      },
    }),
  ],
  [
    "verify_postscript",
    define({
      kwargsSchema: z.strictObject({ postscript_marker: z.string().min(1) }),
      check: ({ text, kwargs }) => {
        const index = text.indexOf(kwargs.postscript_marker);
        if (index < 0) return false;
        return [...pythonStrip(text.slice(index))].length > [...kwargs.postscript_marker].length;
      },
    }),
  ],
  [
    "validate_placeholders",
    define({
      kwargsSchema: z.strictObject({ N: count }),
      check: ({ text, kwargs }) => countDelimitedSpans({ text, open: "[", close: "]" }) >= kwargs.N,
    }),
  ],
  [
    "verify_bullet_points",
    define({
      kwargsSchema: z.strictObject({ N: count }),
      check: ({ text, kwargs }) =>
        text.split("\n").filter((line) => {
          const stripped = pythonStrip(line);
          return stripped.startsWith("*") || stripped.startsWith("-");
        }).length === kwargs.N,
    }),
  ],
  [
    "validate_title",
    define({
      kwargsSchema: z.strictObject({}),
      check: ({ text }) => countDelimitedSpans({ text, open: "<<", close: ">>" }) > 0,
    }),
  ],
  [
    "validate_choice",
    define({
      kwargsSchema: z.strictObject({ options: z.array(z.string()).min(1) }),
      check: ({ text, kwargs }) => kwargs.options.some((option) => option.includes(text)),
    }),
  ],
  [
    "validate_highlighted_sections",
    define({
      kwargsSchema: z.strictObject({ N: count }),
      check: ({ text, kwargs }) => (text.match(/\*[^\n]*?\*/gu)?.length ?? 0) >= kwargs.N,
    }),
  ],
  [
    "validate_sections",
    define({
      kwargsSchema: z.strictObject({ N: count, section_splitter: z.string().min(1) }),
      check: ({ text, kwargs }) => {
        const sections = text.split(kwargs.section_splitter);
        if (sections[0] === "") sections.shift();
        return sections.length === kwargs.N;
      },
    }),
  ],
  [
    "validate_json_format",
    define({ kwargsSchema: z.strictObject({}), check: ({ text }) => isPythonJson(text) }),
  ],
  [
    "validate_repeat_prompt",
    define({
      kwargsSchema: z.strictObject({ original_prompt: z.string() }),
      check: ({ text, kwargs }) => text.startsWith(kwargs.original_prompt),
    }),
  ],
  [
    "validate_two_responses",
    define({
      kwargsSchema: z.strictObject({}),
      check: ({ text }) => {
        if (pythonCount({ text, substring: "******" }) !== 1) return false;
        const [first, second] = text.split("******");
        return pythonStrip(first!) !== pythonStrip(second!);
      },
    }),
  ],
  [
    "validate_uppercase",
    define({ kwargsSchema: z.strictObject({}), check: ({ text }) => text === text.toUpperCase() }),
  ],
  [
    "validate_lowercase",
    define({ kwargsSchema: z.strictObject({}), check: ({ text }) => text === text.toLowerCase() }),
  ],
  [
    "validate_frequency_capital_words",
    define({
      kwargsSchema: z.strictObject({ N: count, quantifier }),
      check: ({ text, kwargs }) => {
        const words = text.match(/(?<![\p{L}\p{N}_])[A-Z]+(?![\p{L}\p{N}_])/gu)?.length ?? 0;
        if (kwargs.quantifier === "around") return words === kwargs.N;
        return quantified({ actual: words, N: kwargs.N, quantifier: kwargs.quantifier, tolerance: 0 });
      },
    }),
  ],
  [
    "validate_end",
    define({
      kwargsSchema: z.strictObject({ end_phrase: z.string() }),
      check: ({ text, kwargs }) => text.endsWith(kwargs.end_phrase),
    }),
  ],
  [
    "validate_quotation",
    define({
      kwargsSchema: z.strictObject({}),
      check: ({ text }) => text.startsWith('"') && text.endsWith('"'),
    }),
  ],
  [
    "validate_no_commas",
    define({ kwargsSchema: z.strictObject({}), check: ({ text }) => !text.includes(",") }),
  ],
]);

/** Validates an `ifeval_old` function name and its kwargs (nulls dropped); throws IfevalLabelError. */
export function prepareIfFunction(params: { functionName: string; kwargs: Record<string, unknown> }): {
  definition: IfFunction;
  kwargs: unknown;
} {
  const definition = ifFunctions.get(params.functionName);
  if (definition === undefined) {
    throw new IfevalLabelError({
      code: "ifeval_unknown_function",
      message: `unknown ifeval_old func_name "${params.functionName}"`,
      details: { functionName: params.functionName, known: [...ifFunctions.keys()] },
    });
  }
  const kwargs = Object.fromEntries(Object.entries(params.kwargs).filter(([, value]) => value !== null));
  const parsed = definition.kwargsSchema.safeParse(kwargs);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `  - ${[...issue.path].join(".") || "(root)"}: ${issue.message}`,
    );
    throw new IfevalLabelError({
      code: "ifeval_invalid_kwargs",
      message: `invalid kwargs for ifeval_old function "${params.functionName}":\n${issues.join("\n")}`,
      details: { functionName: params.functionName },
    });
  }
  return { definition, kwargs: parsed.data };
}
