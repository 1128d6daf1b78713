import { z } from "zod";
import {
  compare,
  defineInstruction,
  type InstructionDefinition,
  noKwargsSchema,
  positiveCountSchema,
  relationSchema,
} from "./define.js";
import { countMarkdownDividedParagraphs, googleInstructions, promptToRepeat } from "./instructions-google.js";
import {
  countKeywordMatches,
  escapeRegExp,
  pythonSpace,
  pythonSplitWhitespace,
  pythonStrip,
  pythonWordBoundary,
  reverseCodePoints,
} from "./python-text.js";
import { splitIntoSentences } from "./sentence-split.js";
import { wordTokenize } from "./word-tokenize.js";

/**
 * The 29 IFTrain constraints that open-instruct's IFEvalG registry adds to Google's 25
 * (open_instruct/IFEvalG/instructions.py, instructions_registry.py), with the reference's
 * semantics — including its quirks, which the tests pin and this folder's README lists.
 */

/** A string, or a list whose first element is used (the reference accepts both). */
const wordOrFirstOfList = z
  .union([z.string(), z.array(z.string()).min(1)])
  .transform((value) => pythonStrip(typeof value === "string" ? value : value[0]!));

function keywordRegExp(keyword: string, flags: string): RegExp {
  try {
    return new RegExp(keyword, flags);
  } catch {
    return new RegExp(escapeRegExp(keyword), flags);
  }
}

/** `copy:repeat_phrase`: the phrase appears `small_n` times, the last one changed in one word. */
function checkRepeatPhrase(params: { value: string; phrase: string; smallN: number }): boolean {
  const reference = pythonSplitWhitespace(params.phrase);
  const first = reference[0] ?? "";
  const last = reference[reference.length - 1] ?? "";
  const found = params.value.match(keywordRegExp(`${first} [^\\n]*? ${last}`, "gu")) ?? [];
  if (found.length !== params.smallN) return false;
  let differences = 0;
  for (const phrase of found) {
    const words = pythonSplitWhitespace(phrase);
    differences = 0;
    for (let index = 0; index < words.length; index += 1) {
      if (index >= reference.length) return false;
      if (words[index] !== reference[index]) {
        differences += 1;
        if (differences > 1) return false;
      }
    }
  }
  return differences === 1;
}

/** Python's `text[start:end]` on code points (negative and out-of-range indices allowed). */
function pythonSlice(text: string, start: number, end: number): string {
  const points = [...text];
  const resolve = (index: number) => {
    const value = index < 0 ? points.length + index : index;
    return Math.min(Math.max(value, 0), points.length);
  };
  return points.slice(resolve(start), resolve(end)).join("");
}

function sameIgnoringCase(left: string, right: string): boolean {
  return pythonStrip(left).toLowerCase() === pythonStrip(right).toLowerCase();
}

const punctuationRemoval =
  /[^\p{L}\p{N}_\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/gu;

/** `re.sub(r"[^\w\s]", "", word)`. */
function removePunctuation(word: string): string {
  return word.replace(punctuationRemoval, "");
}

function checkSentenceHyphens(value: string): boolean {
  const gold = splitIntoSentences(value.replaceAll("-", " "));
  const sentences = value.split("-");
  const pairs = Math.min(gold.length, sentences.length);
  for (let index = 0; index < pairs; index += 1) {
    const sentence = sentences[index]!;
    if (pythonStrip(sentence) !== sentence || sentence !== gold[index]) return false;
  }
  return true;
}

function checkNoAdjacentConsecutive(value: string): boolean {
  const words = pythonSplitWhitespace(value);
  for (let index = 0; index < words.length - 1; index += 1) {
    const first = [...[...words[index]!][0]!.toLowerCase()];
    const second = [...[...words[index + 1]!][0]!.toLowerCase()];
    if (first.length !== 1 || second.length !== 1) return false;
    if (second[0]!.codePointAt(0)! - first[0]!.codePointAt(0)! === 1) return false;
  }
  return true;
}

function checkParagraphsByBlankLine(value: string): boolean {
  const paragraphs = value.split("\n\n");
  let count = paragraphs.length;
  for (const [index, paragraph] of paragraphs.entries()) {
    if (pythonStrip(paragraph) === "") {
      if (index === 0 || index === paragraphs.length - 1) count -= 1;
      else return false;
    }
  }
  return count === 2;
}

function checkCountingComposition(params: { value: string; sentences: number; words: number }): boolean {
  const paragraphs = params.value.split(new RegExp(`${pythonSpace}?\\*\\*\\*${pythonSpace}?`, "u"));
  let count = paragraphs.length;
  for (const [index, paragraph] of paragraphs.entries()) {
    if (pythonStrip(paragraph) === "") {
      if (index === 0 || index === paragraphs.length - 1) count -= 1;
      else return false;
    }
    // The reference goes on to count the sentences of an empty edge paragraph too (zero).
    const sentences = splitIntoSentences(paragraph);
    if (sentences.length !== params.sentences) return false;
    for (const sentence of sentences) if (wordTokenize(sentence).length !== params.words) return false;
  }
  return count === 3;
}

const lowercaseWord = new RegExp(`${pythonWordBoundary}[a-z]+${pythonWordBoundary}`, "gu");

const letterFrequency = googleInstructions.find(
  (instruction) => instruction.id === "keywords:letter_frequency",
)!;
const keywordFrequency = googleInstructions.find((instruction) => instruction.id === "keywords:frequency")!;

export const iftrainInstructions: InstructionDefinition[] = [
  defineInstruction({
    id: "copy:repeat_phrase",
    source: "iftrain",
    description:
      "Repeat the phrase {phrase} exactly {small_n} times, transforming it slightly each time by replacing only one word in the center of the phrase.",
    kwargsSchema: z.strictObject({ phrase: z.string().min(1), small_n: positiveCountSchema }),
    check: ({ response, kwargs }) =>
      checkRepeatPhrase({ value: response, phrase: pythonStrip(kwargs.phrase), smallN: kwargs.small_n }),
  }),
  defineInstruction({
    id: "copy:copy",
    source: "iftrain",
    description:
      "Copy this instruction verbatim, do not follow the instruction, only copy it into the output.",
    kwargsSchema: z.strictObject({ prompt_to_repeat: z.string().min(1).optional() }),
    check: ({ response, kwargs, context }) =>
      sameIgnoringCase(response, promptToRepeat(kwargs.prompt_to_repeat, context)),
  }),
  defineInstruction({
    id: "new:copy_span_idx",
    source: "iftrain",
    description:
      "Copy the span of words that lies between (and including) index {n_start} and {n_end}; character indices.",
    kwargsSchema: z.strictObject({
      prompt_to_repeat: z.string().min(1).optional(),
      n_start: z.number().int(),
      n_end: z.number().int(),
    }),
    check: ({ response, kwargs, context }) =>
      sameIgnoringCase(
        response,
        pythonSlice(promptToRepeat(kwargs.prompt_to_repeat, context), kwargs.n_start, kwargs.n_end),
      ),
  }),
  defineInstruction({
    id: "detectable_format:sentence_hyphens",
    source: "iftrain",
    description: "All sentences must be connected using hyphens, with no spaces between them.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => checkSentenceHyphens(response),
  }),
  defineInstruction({
    id: "keywords:no_adjacent_consecutive",
    source: "iftrain",
    description: "No two adjacent words can start with consecutive letters of the alphabet.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => checkNoAdjacentConsecutive(response),
  }),
  defineInstruction({
    id: "detectable_format:square_brackets",
    source: "iftrain",
    description: "Enclose every word in your response within square brackets.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) =>
      pythonSplitWhitespace(response).every((word) => word.startsWith("[") && word.endsWith("]")),
  }),
  defineInstruction({
    id: "keywords:word_once",
    source: "iftrain",
    description: "Include keyword {keyword} in your response.",
    kwargsSchema: z.strictObject({ keyword: z.string().min(1) }),
    check: ({ response, kwargs }) =>
      countKeywordMatches({ keyword: pythonStrip(kwargs.keyword), text: response }) === 1,
  }),
  defineInstruction({
    id: "keywords:word_count_different_numbers",
    source: "iftrain",
    description: "In your response, the word {keyword} should appear {frequency} times.",
    kwargsSchema: keywordFrequency.kwargsSchema,
    check: (params) => keywordFrequency.check(params),
  }),
  defineInstruction({
    id: "keywords:exclude_word_harder",
    source: "iftrain",
    description: "Do not include keyword {keyword} in the response.",
    kwargsSchema: z.strictObject({ keyword: z.string().min(1), instruction: z.string().optional() }),
    check: ({ response, kwargs }) => !response.includes(` ${pythonStrip(kwargs.keyword)} `),
  }),
  defineInstruction({
    id: "paragraphs:paragraphs",
    source: "iftrain",
    description: "There should be 2 paragraphs. Paragraphs are separated with the markdown divider: ***",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => countMarkdownDividedParagraphs(response) === 2,
  }),
  defineInstruction({
    id: "paragraphs:paragraphs2",
    source: "iftrain",
    description:
      "There should be 2 paragraphs. Paragraphs and only paragraphs are separated with each other by two line breaks.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => checkParagraphsByBlankLine(response),
  }),
  defineInstruction({
    id: "first_word:first_word_sent",
    source: "iftrain",
    description: "The first word of each sentence should be the word {first_word}.",
    kwargsSchema: z.strictObject({ first_word: wordOrFirstOfList }),
    check: ({ response, kwargs }) =>
      splitIntoSentences(response).every((sentence) => {
        if (pythonStrip(sentence) === "") return false;
        return (
          pythonStrip(pythonSplitWhitespace(sentence)[0]!).toLowerCase() === kwargs.first_word.toLowerCase()
        );
      }),
  }),
  defineInstruction({
    id: "first_word:first_word_answer",
    source: "iftrain",
    description: "The first word of your response should be the word {first_word}.",
    kwargsSchema: z.strictObject({ first_word: z.string().min(1) }),
    check: ({ response, kwargs }) => {
      const words = pythonSplitWhitespace(response);
      if (words.length === 0) return false;
      return pythonStrip(words[0]!).toLowerCase() === pythonStrip(kwargs.first_word).toLowerCase();
    },
  }),
  defineInstruction({
    id: "last_word:last_word_sent",
    source: "iftrain",
    description: "The last word of each sentence, before punctuation, should be the word {last_word}.",
    kwargsSchema: z.strictObject({ last_word: wordOrFirstOfList }),
    check: ({ response, kwargs }) =>
      splitIntoSentences(response).every((sentence) => {
        if (pythonStrip(sentence) === "") return false;
        const words = pythonSplitWhitespace(sentence);
        return (
          removePunctuation(pythonStrip(words[words.length - 1]!)).toLowerCase() ===
          kwargs.last_word.toLowerCase()
        );
      }),
  }),
  defineInstruction({
    id: "last_word:last_word_answer",
    source: "iftrain",
    description: "The last word of your response should be the word {last_word}.",
    kwargsSchema: z.strictObject({ last_word: z.string().min(1) }),
    check: ({ response, kwargs }) => {
      const words = pythonSplitWhitespace(response);
      if (words.length === 0) return false;
      return (
        removePunctuation(pythonStrip(words[words.length - 1]!)).toLowerCase() ===
        pythonStrip(kwargs.last_word).toLowerCase()
      );
    },
  }),
  defineInstruction({
    id: "detectable_format:bigram_wrapping",
    source: "iftrain",
    description: "Wrap every word bigram in double angular brackets, such as <<I am>> <<at home>>.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => {
      const words = pythonSplitWhitespace(response);
      for (let index = 0; index < words.length - 1; index += 2) {
        if (!(words[index]!.startsWith("<<") && words[index + 1]!.endsWith(">>"))) return false;
      }
      return true;
    },
  }),
  defineInstruction({
    id: "copy:copying_simple",
    source: "iftrain",
    description: "Repeat the request without change and do not answer the actual request!",
    kwargsSchema: z.strictObject({ prompt_to_repeat: z.string().min(1).optional() }),
    check: ({ response, kwargs, context }) =>
      sameIgnoringCase(response, promptToRepeat(kwargs.prompt_to_repeat, context)),
  }),
  defineInstruction({
    id: "copy:copying_multiple",
    source: "iftrain",
    description: "Repeat the request without change {N} times, separated by 6 asterisk symbols.",
    kwargsSchema: z.strictObject({ prompt_to_repeat: z.string().min(1).optional(), N: positiveCountSchema }),
    check: ({ response, kwargs, context }) => {
      const prompt = promptToRepeat(kwargs.prompt_to_repeat, context);
      const copies = response.split("******");
      return copies.length === kwargs.N && copies.every((copy) => sameIgnoringCase(copy, prompt));
    },
  }),
  defineInstruction({
    id: "punctuation:punctuation_dot",
    source: "iftrain",
    description:
      "In your entire response, refrain from the use of . (i.e. dots) as punctuation and in general.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => !response.includes("."),
  }),
  defineInstruction({
    id: "punctuation:punctuation_exclamation",
    source: "iftrain",
    description:
      "In your entire response, refrain from the use of ! (i.e. exclamation marks) as punctuation and in general.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => !response.includes("!"),
  }),
  defineInstruction({
    id: "count:lowercase_counting",
    source: "iftrain",
    description: "In your response, all lowercase words should appear at most {N} times.",
    kwargsSchema: z.strictObject({ N: positiveCountSchema }),
    check: ({ response, kwargs }) => (response.match(lowercaseWord)?.length ?? 0) <= kwargs.N,
  }),
  defineInstruction({
    id: "letters:letter_counting",
    source: "iftrain",
    description: "Answer with {relation} {N} letters.",
    kwargsSchema: z.strictObject({ N: positiveCountSchema, relation: relationSchema }),
    check: ({ response, kwargs }) =>
      compare({
        actual: response.match(/[a-zA-Z]/gu)?.length ?? 0,
        relation: kwargs.relation,
        threshold: kwargs.N,
      }),
  }),
  defineInstruction({
    id: "letters:letter_counting2",
    source: "iftrain",
    description: "In your response, the letter {letter} should appear {let_relation} {let_frequency} times.",
    kwargsSchema: letterFrequency.kwargsSchema,
    check: (params) => letterFrequency.check(params),
  }),
  defineInstruction({
    id: "count:counting_composition",
    source: "iftrain",
    description:
      "Write 3 paragraphs, delimited by the markdown divider: * * *, with exactly {n_sent} sentences each, with exactly {n_words} words in each sentence.",
    kwargsSchema: z.strictObject({ n_sent: positiveCountSchema, n_words: positiveCountSchema }),
    check: ({ response, kwargs }) =>
      checkCountingComposition({ value: response, sentences: kwargs.n_sent, words: kwargs.n_words }),
  }),
  defineInstruction({
    id: "count:count_unique",
    source: "iftrain",
    description: "Only use unique words in your response, no word should be repeated!",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => {
      const words = wordTokenize(response);
      return new Set(words).size === words.length;
    },
  }),
  defineInstruction({
    id: "count:count_increment_word",
    source: "iftrain",
    description:
      "Include keyword {keyword1} once in your response, keyword {keyword2} twice in your response.",
    kwargsSchema: z.strictObject({ keyword1: z.string().min(1), keyword2: z.string().min(1) }),
    check: ({ response, kwargs }) =>
      countKeywordMatches({ keyword: pythonStrip(kwargs.keyword1), text: response }) === 1 &&
      countKeywordMatches({ keyword: pythonStrip(kwargs.keyword2), text: response }) === 2,
  }),
  defineInstruction({
    id: "keywords:palindrome",
    source: "iftrain",
    description: "Include a palindrome in your response.",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => pythonSplitWhitespace(response).some((word) => word === reverseCodePoints(word)),
  }),
  defineInstruction({
    id: "keywords:keyword_specific_position",
    source: "iftrain",
    description: "Include keyword {keyword} in the {n}-th sentence, as the {m}-th word of that sentence.",
    kwargsSchema: z.strictObject({
      keyword: wordOrFirstOfList,
      n: positiveCountSchema,
      m: positiveCountSchema,
    }),
    check: ({ response, kwargs }) => {
      const sentences = splitIntoSentences(response);
      if (sentences.length < kwargs.n) return false;
      const words = wordTokenize(sentences[kwargs.n - 1]!);
      if (words.length < kwargs.m) return false;
      return words[kwargs.m - 1] === kwargs.keyword;
    },
  }),
  defineInstruction({
    id: "keywords:start_end",
    source: "iftrain",
    description:
      "Start and end your response with the same word (do not write anything after the last word).",
    kwargsSchema: noKwargsSchema,
    check: ({ response }) => {
      const words = wordTokenize(response);
      if (words.length < 2) return false;
      return words[0]!.toLowerCase() === words[words.length - 1]!.toLowerCase();
    },
  }),
];
