import { PosttrainError } from "@posttrain/core";
import { z } from "zod";
import {
  type CheckContext,
  compare,
  countSchema,
  defineInstruction,
  type InstructionDefinition,
  noKwargsSchema,
  relationSchema,
} from "./define.js";
import { IfevalLabelError } from "./errors.js";
import { isPythonJson } from "./json-check.js";
import { isLanguage } from "./language.js";
import { countSentences } from "./punkt.js";
import {
  containsKeyword,
  countCharacter,
  countDelimitedSpans,
  countKeywordMatches,
  escapeRegExp,
  isPythonSpace,
  pythonIsLower,
  pythonIsUpper,
  pythonLeftStripCharacters,
  pythonRightStripCharacters,
  pythonSpace,
  pythonSplitWhitespace,
  pythonStrip,
  pythonStripCharacters,
  pythonWordBoundary,
} from "./python-text.js";
import { countWords, wordTokenize } from "./word-tokenize.js";

/**
 * Google IFEval's 25 instructions (google-research/instruction_following_eval, registry ids
 * in 9 groups), each with the reference's `check_following` semantics. Comments name the
 * reference behaviour that a test pins.
 */

function detector(context: CheckContext) {
  if (context.languageDetector === undefined) {
    throw new PosttrainError({
      code: "ifeval_language_detector_missing",
      message: "language detector not loaded",
    });
  }
  return context.languageDetector;
}

/** `re.split(r"\s?\*\*\*\s?", value)` then the reference's empty-paragraph rule. */
export function countMarkdownDividedParagraphs(value: string): number | undefined {
  const paragraphs = value.split(new RegExp(`${pythonSpace}?\\*\\*\\*${pythonSpace}?`, "u"));
  let count = paragraphs.length;
  for (const [index, paragraph] of paragraphs.entries()) {
    if (pythonStrip(paragraph) === "") {
      if (index === 0 || index === paragraphs.length - 1) count -= 1;
      else return undefined;
    }
  }
  return count;
}

/** Strips the ``` fences the way the reference's `json_format` check does. */
export function stripJsonFences(value: string): string {
  let text = pythonStrip(value);
  for (const prefix of ["```json", "```Json", "```JSON", "```"]) {
    if (text.startsWith(prefix)) text = text.slice(prefix.length);
  }
  if (text.endsWith("```")) text = text.slice(0, -3);
  return pythonStrip(text);
}

const constrainedResponseOptions = ["My answer is yes.", "My answer is no.", "My answer is maybe."];

/**
 * `len(re.findall(pattern, value, re.MULTILINE))` for `^\s*<marker>…` patterns, in linear
 * time. From a line start, `\s*` (which crosses newlines) reaches the first non-whitespace
 * character; `markerEnd` says whether the marker is there (and where its fixed part ends, or
 * -1), and the match runs from there to the next newline. The regex rescanned the same whitespace from every line start
 * (quadratic on 190 kB of blank lines).
 */
function countMultilineMarkers(value: string, markerEnd: (index: number) => number): number {
  let count = 0;
  let nonSpace = 0;
  let lineStart = 0;
  while (lineStart <= value.length) {
    if (nonSpace < lineStart) nonSpace = lineStart;
    while (nonSpace < value.length && isPythonSpace(value[nonSpace]!)) nonSpace += 1;
    let resume = lineStart;
    const end = nonSpace < value.length ? markerEnd(nonSpace) : -1;
    if (end >= 0) {
      count += 1;
      // The match runs to the first newline at or after the marker's fixed part (which, for
      // `\*[^*]`, may itself be a newline).
      resume = end;
    }
    const newline = value.indexOf("\n", resume);
    if (newline < 0) break;
    lineStart = newline + 1;
  }
  return count;
}

/** The number of bullet lines: `^\s*\*[^\*].*$` plus `^\s*-.*$`, both MULTILINE. */
export function countBullets(value: string): number {
  const stars = countMultilineMarkers(value, (index) =>
    value[index] === "*" && index + 1 < value.length && value[index + 1] !== "*" ? index + 2 : -1,
  );
  const dashes = countMultilineMarkers(value, (index) => (value[index] === "-" ? index + 1 : -1));
  return stars + dashes;
}

/** Highlights `*text*` plus bold `**text**` (counted again), ignoring empty ones. */
export function countHighlights(value: string): number {
  let count = 0;
  for (const highlight of value.match(/\*[^\n*]*\*/gu) ?? []) {
    if (pythonStrip(pythonStripCharacters(highlight, "*")) !== "") count += 1;
  }
  for (const highlight of value.match(/\*\*[^\n*]*\*\*/gu) ?? []) {
    if (pythonStrip(highlight.slice(2, -2)) !== "") count += 1;
  }
  return count;
}

/** `nth_paragraph_first_word`: paragraphs split on "\n\n", first word up to punctuation. */
function checkNthParagraph(params: {
  value: string;
  numParagraphs: number;
  nthParagraph: number;
  firstWord: string;
}): boolean {
  const paragraphs = params.value.split("\n\n");
  let count = paragraphs.length;
  for (const paragraph of paragraphs) if (pythonStrip(paragraph) === "") count -= 1;
  if (params.nthParagraph > count) return false;
  const paragraph = pythonStrip(paragraphs[params.nthParagraph - 1] ?? "");
  if (paragraph === "") return false;
  let word = pythonStrip(pythonSplitWhitespace(paragraph)[0] ?? "");
  word = pythonLeftStripCharacters(word, "'");
  word = pythonLeftStripCharacters(word, '"');
  let firstWord = "";
  for (const letter of word) {
    if (".,?!'\"".includes(letter)) break;
    firstWord += letter.toLowerCase();
  }
  return count === params.numParagraphs && firstWord === params.firstWord.toLowerCase();
}

function postscriptPattern(marker: string): RegExp {
  if (marker === "P.P.S") return new RegExp(`${pythonSpace}*p\\.${pythonSpace}?p\\.${pythonSpace}?s`, "u");
  if (marker === "P.S.") return new RegExp(`${pythonSpace}*p\\.${pythonSpace}?s\\.`, "u");
  try {
    return new RegExp(`${pythonSpace}*${marker.toLowerCase()}`, "u");
  } catch {
    return new RegExp(`${pythonSpace}*${escapeRegExp(marker.toLowerCase())}`, "u");
  }
}

/**
 * `re.findall(r"<<[^\n]+>>", text)` in linear time: on each line the greedy match runs from
 * the first `<<` to the last `>>` (at least one character between), so a line holds at most
 * one. (The regex retried every `<<` of a line without `>>` to the line's end.)
 */
function titleCandidates(text: string): string[] {
  const titles: string[] = [];
  for (const line of text.split("\n")) {
    const close = line.lastIndexOf(">>");
    const open = line.indexOf("<<");
    if (open >= 0 && close >= open + 3) titles.push(line.slice(open, close + 2));
  }
  return titles;
}

function sectionPattern(splitter: string): RegExp {
  const body = (source: string) => `${pythonSpace}?${source}${pythonSpace}?\\p{Nd}+${pythonSpace}?`;
  try {
    return new RegExp(body(splitter), "gu");
  } catch {
    return new RegExp(body(escapeRegExp(splitter)), "gu");
  }
}

/** `len(re.split(pattern, value)) - 1`: the number of section markers. */
export function countSections(params: { value: string; splitter: string }): number {
  return params.value.match(sectionPattern(params.splitter))?.length ?? 0;
}

function forbiddenWordPattern(word: string): RegExp {
  try {
    return new RegExp(`${pythonWordBoundary}${word}${pythonWordBoundary}`, "iu");
  } catch {
    return new RegExp(`${pythonWordBoundary}${escapeRegExp(word)}${pythonWordBoundary}`, "iu");
  }
}

/** `two_responses`: exactly two non-empty parts around "******", different after strip. */
export function isTwoResponses(value: string): boolean {
  const responses = value.split("******");
  const valid: string[] = [];
  for (const [index, response] of responses.entries()) {
    if (pythonStrip(response) === "") {
      if (index !== 0 && index !== responses.length - 1) return false;
    } else valid.push(response);
  }
  return valid.length === 2 && pythonStrip(valid[0]!) !== pythonStrip(valid[1]!);
}

/**
 * One character. The reference replaces anything but a single ASCII letter with a RANDOM
 * letter (two of the 541 prompts ask for "#" and "!"); we count the given character instead,
 * which is deterministic and what the prompt asks for.
 */
const letterSchema = z.string().refine((letter) => [...letter].length === 1, "must be a single character");

export const googleInstructions: InstructionDefinition[] = [
  defineInstruction({
    id: "keywords:existence",
    source: "ifeval",
    description: "Include keywords {keywords} in the response.",
    kwargsSchema: z.strictObject({ keywords: z.array(z.string()).min(1) }),
    check: ({ response, kwargs }) =>
      kwargs.keywords.every((keyword) => containsKeyword({ keyword, text: response })),
  }),
  defineInstruction({
    id: "keywords:frequency",
    source: "ifeval",
    description: "In your response, the word {keyword} should appear {relation} {frequency} times.",
    kwargsSchema: z.strictObject({
      keyword: z.string().min(1),
      frequency: countSchema,
      relation: relationSchema,
    }),
    check: ({ response, kwargs }) =>
      compare({
        actual: countKeywordMatches({ keyword: pythonStrip(kwargs.keyword), text: response }),
        relation: kwargs.relation,
        threshold: kwargs.frequency,
      }),
  }),
  defineInstruction({
    id: "keywords:forbidden_words",
    source: "ifeval",
    description: "Do not include keywords {forbidden_words} in the response.",
    kwargsSchema: z.strictObject({ forbidden_words: z.array(z.string()).min(1) }),
    check: ({ response, kwargs }) =>
      !kwargs.forbidden_words.some((word) => forbiddenWordPattern(word).test(response)),
  }),
  defineInstruction({
    id: "keywords:letter_frequency",
    source: "ifeval",
    description: "In your response, the letter {letter} should appear {let_relation} {let_frequency} times.",
    kwargsSchema: z.strictObject({
      letter: letterSchema,
      let_frequency: countSchema,
      let_relation: relationSchema,
    }),
    check: ({ response, kwargs }) =>
      compare({
        actual: countCharacter({ text: response.toLowerCase(), character: kwargs.letter.toLowerCase() }),
        relation: kwargs.let_relation,
        threshold: kwargs.let_frequency,
      }),
  }),
  defineInstruction({
    id: "language:response_language",
    source: "ifeval",
    description: "Your ENTIRE response should be in {language} language, no other language is allowed.",
    kwargsSchema: z.strictObject({ language: z.string().regex(/^[a-z]{2}$/u, "must be an ISO 639-1 code") }),
    needsLanguage: true,
    check: ({ response, kwargs, context }) =>
      isLanguage({ detector: detector(context), text: response, language: kwargs.language }),
  }),
  defineInstruction({
    id: "length_constraints:number_sentences",
    source: "ifeval",
    description: "Your response should contain {relation} {num_sentences} sentences.",
    kwargsSchema: z.strictObject({ num_sentences: countSchema, relation: relationSchema }),
    check: ({ response, kwargs }) =>
      compare({
        actual: countSentences(response),
        relation: kwargs.relation,
        threshold: kwargs.num_sentences,
      }),
  }),
  defineInstruction({
    id: "length_constraints:number_paragraphs",
    source: "ifeval",
    description:
      "There should be {num_paragraphs} paragraphs. Paragraphs are separated with the markdown divider: ***",
    kwargsSchema: z.strictObject({ num_paragraphs: countSchema }),
    check: ({ response, kwargs }) => countMarkdownDividedParagraphs(response) === kwargs.num_paragraphs,
  }),
  defineInstruction({
    id: "length_constraints:number_words",
    source: "ifeval",
    description: "Answer with {relation} {num_words} words.",
    kwargsSchema: z.strictObject({ num_words: countSchema, relation: relationSchema }),
    check: ({ response, kwargs }) =>
      compare({ actual: countWords(response), relation: kwargs.relation, threshold: kwargs.num_words }),
  }),
  defineInstruction({
    id: "length_constraints:nth_paragraph_first_word",
    source: "ifeval",
    description:
      "There should be {num_paragraphs} paragraphs. Paragraphs and only paragraphs are separated with each other by two new lines. Paragraph {nth_paragraph} must start with word {first_word}.",
    kwargsSchema: z
      .strictObject({
        num_paragraphs: countSchema,
        nth_paragraph: z.number().int().positive(),
        first_word: z.string(),
      })
      .refine((kwargs) => kwargs.nth_paragraph <= kwargs.num_paragraphs, {
        message: "nth_paragraph must be at most num_paragraphs",
        path: ["nth_paragraph"],
      }),
    check: ({ response, kwargs }) =>
      checkNthParagraph({
        value: response,
        numParagraphs: kwargs.num_paragraphs,
        nthParagraph: kwargs.nth_paragraph,
        firstWord: kwargs.first_word,
      }),
  }),
  defineInstruction({
    id: "detectable_content:number_placeholders",
    source: "ifeval",
    description:
      "The response must contain at least {num_placeholders} placeholders represented by square brackets.",
    kwargsSchema: z.strictObject({ num_placeholders: countSchema }),
    check: ({ response, kwargs }) =>
      countDelimitedSpans({ text: response, open: "[", close: "]" }) >= kwargs.num_placeholders,
  }),
  defineInstruction({
    id: "detectable_content:postscript",
    source: "ifeval",
    description:
      "At the end of your response, please explicitly add a postscript starting with {postscript_marker}",
    kwargsSchema: z.strictObject({ postscript_marker: z.string().min(1) }),
    check: ({ response, kwargs }) =>
      postscriptPattern(pythonStrip(kwargs.postscript_marker)).test(response.toLowerCase()),
  }),
  defineInstruction({
    id: "detectable_format:number_bullet_lists",
    source: "ifeval",
    description: "Your answer must contain exactly {num_bullets} bullet points.",
    kwargsSchema: z.strictObject({ num_bullets: countSchema }),
    check: ({ response, kwargs }) => countBullets(response) === kwargs.num_bullets,
  }),
  defineInstruction({
    id: "detectable_format:constrained_response",
    source: "ifeval",
    description: "Answer with one of the following options: My answer is yes. / no. / maybe.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => {
      const value = pythonStrip(response);
      return constrainedResponseOptions.some((option) => value.includes(option));
    },
  }),
  defineInstruction({
    id: "detectable_format:number_highlighted_sections",
    source: "ifeval",
    description:
      "Highlight at least {num_highlights} sections in your answer with markdown, i.e. *highlighted section*.",
    kwargsSchema: z.strictObject({ num_highlights: countSchema }),
    check: ({ response, kwargs }) => countHighlights(response) >= kwargs.num_highlights,
  }),
  defineInstruction({
    id: "detectable_format:multiple_sections",
    source: "ifeval",
    description:
      "Your response must have {num_sections} sections. Mark the beginning of each section with {section_spliter} X.",
    kwargsSchema: z.strictObject({ section_spliter: z.string().min(1), num_sections: countSchema }),
    check: ({ response, kwargs }) =>
      countSections({ value: response, splitter: pythonStrip(kwargs.section_spliter) }) >=
      kwargs.num_sections,
  }),
  defineInstruction({
    id: "detectable_format:json_format",
    source: "ifeval",
    description: "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => isPythonJson(stripJsonFences(response)),
  }),
  defineInstruction({
    id: "detectable_format:title",
    source: "ifeval",
    description:
      "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) =>
      titleCandidates(response).some(
        (title) => pythonStrip(pythonRightStripCharacters(pythonLeftStripCharacters(title, "<"), ">")) !== "",
      ),
  }),
  defineInstruction({
    id: "combination:two_responses",
    source: "ifeval",
    description:
      "Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => isTwoResponses(response),
  }),
  defineInstruction({
    id: "combination:repeat_prompt",
    source: "ifeval",
    description: "First repeat the request word for word without change, then give your answer.",
    kwargsSchema: z.strictObject({ prompt_to_repeat: z.string().min(1).optional() }),
    check: ({ response, kwargs, context }) =>
      pythonStrip(response)
        .toLowerCase()
        .startsWith(pythonStrip(promptToRepeat(kwargs.prompt_to_repeat, context)).toLowerCase()),
  }),
  defineInstruction({
    id: "startend:end_checker",
    source: "ifeval",
    description:
      "Finish your response with this exact phrase {end_phrase}. No other words should follow this phrase.",
    kwargsSchema: z.strictObject({ end_phrase: z.string().min(1) }),
    check: ({ response, kwargs }) =>
      pythonStripCharacters(pythonStrip(response), '"')
        .toLowerCase()
        .endsWith(pythonStrip(kwargs.end_phrase).toLowerCase()),
  }),
  defineInstruction({
    id: "startend:quotation",
    source: "ifeval",
    description: "Wrap your entire response with double quotation marks.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => {
      const value = [...pythonStrip(response)];
      return value.length > 1 && value[0] === '"' && value[value.length - 1] === '"';
    },
  }),
  defineInstruction({
    id: "change_case:capital_word_frequency",
    source: "ifeval",
    description:
      "In your response, words with all capital letters should appear {capital_relation} {capital_frequency} times.",
    kwargsSchema: z.strictObject({ capital_frequency: countSchema, capital_relation: relationSchema }),
    check: ({ response, kwargs }) =>
      compare({
        actual: wordTokenize(response).filter((word) => pythonIsUpper(word)).length,
        relation: kwargs.capital_relation,
        threshold: kwargs.capital_frequency,
      }),
  }),
  defineInstruction({
    id: "change_case:english_capital",
    source: "ifeval",
    description: "Your entire response should be in English, and in all capital letters.",
    kwargsSchema: noKwargsSchema,
    needsLanguage: true,
    check: ({ response, context }) =>
      pythonIsUpper(response) && isLanguage({ detector: detector(context), text: response, language: "en" }),
  }),
  defineInstruction({
    id: "change_case:english_lowercase",
    source: "ifeval",
    description:
      "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed.",
    kwargsSchema: noKwargsSchema,
    needsLanguage: true,
    check: ({ response, context }) =>
      pythonIsLower(response) && isLanguage({ detector: detector(context), text: response, language: "en" }),
  }),
  defineInstruction({
    id: "punctuation:no_comma",
    source: "ifeval",
    description: "In your entire response, refrain from the use of any commas.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => !response.includes(","),
  }),
];

/**
 * `prompt_to_repeat` from the kwargs, else the caller's prompt. The reference raises when it
 * is missing; so do we when neither is available.
 */
export function promptToRepeat(value: string | undefined, context: CheckContext): string {
  const prompt = value ?? context.prompt;
  if (prompt === undefined || prompt === "") {
    throw new IfevalLabelError({
      code: "ifeval_invalid_kwargs",
      message: "prompt_to_repeat is missing and no prompt was given",
    });
  }
  return prompt;
}
