import { describe, expect, it } from "vitest";
import { type Case, verdictOf } from "../test/ifeval.js";
import { iftrainInstructionIds } from "./registry.js";

/** Pass and fail cases for the 29 IFTrain constraints, including the reference's quirks. */
const cases: Array<{ id: string; kwargs: Record<string, unknown>; cases: Case[] }> = [
  {
    id: "copy:repeat_phrase",
    kwargs: { phrase: "The early bird catches the worm", small_n: 2 },
    cases: [
      ["The early cat catches the worm. The early dog catches the worm.", true],
      ["The early bird catches the worm. The early bird catches the worm.", false], // unchanged
      ["The early cat catches the worm.", false], // once, not twice
      ["The early big red bird catches the worm. The early dog catches the worm.", false], // two changes
    ],
  },
  {
    id: "copy:copy",
    kwargs: { prompt_to_repeat: "Say hi." },
    cases: [
      ["  say HI.  ", true],
      ["Say hi. Hi!", false],
    ],
  },
  {
    id: "new:copy_span_idx",
    kwargs: { prompt_to_repeat: "Hello brave new world", n_start: 6, n_end: 11 },
    cases: [
      ["Brave", true],
      ["brave new", false],
    ],
  },
  {
    id: "detectable_format:sentence_hyphens",
    kwargs: {},
    cases: [
      ["I run.-You walk.", true],
      ["I run. - You walk.", false],
    ],
  },
  {
    id: "keywords:no_adjacent_consecutive",
    kwargs: {},
    cases: [
      ["apple cat egg", true],
      ["apple banana", false],
    ],
  },
  {
    id: "detectable_format:square_brackets",
    kwargs: {},
    cases: [
      ["[hello] [world]", true],
      ["[hello] world", false],
    ],
  },
  {
    id: "keywords:word_once",
    kwargs: { keyword: "moon" },
    cases: [
      ["The Moon is bright.", true],
      ["moon and moonlight", false],
    ],
  },
  {
    id: "keywords:word_count_different_numbers",
    kwargs: { keyword: "sun", frequency: 2, relation: "at least" },
    cases: [
      ["sun sun", true],
      ["sun", false],
    ],
  },
  {
    id: "keywords:exclude_word_harder",
    kwargs: { keyword: "very" },
    cases: [
      ["It is very good", false],
      ["Very good", true], // case-sensitive and needs a space on both sides
      ["It is very.", true],
    ],
  },
  {
    id: "paragraphs:paragraphs",
    kwargs: {},
    cases: [
      ["A\n***\nB", true],
      ["A", false],
    ],
  },
  {
    id: "paragraphs:paragraphs2",
    kwargs: {},
    cases: [
      ["A\n\nB", true],
      ["A\n\n\n\nB", false],
      ["A\nB", false],
    ],
  },
  {
    id: "first_word:first_word_sent",
    kwargs: { first_word: "we" },
    cases: [
      ["We run. We jump.", true],
      ["We run. They jump.", false],
    ],
  },
  { id: "first_word:first_word_sent", kwargs: { first_word: ["We"] }, cases: [["We run.", true]] },
  {
    id: "first_word:first_word_answer",
    kwargs: { first_word: "hello" },
    cases: [
      ["Hello there", true],
      ["Hello, there", false], // punctuation is part of the first token
    ],
  },
  {
    id: "last_word:last_word_sent",
    kwargs: { last_word: "now" },
    cases: [
      ["Do it now. Go now!", true],
      ["Do it now. Go later.", false],
    ],
  },
  {
    id: "last_word:last_word_answer",
    kwargs: { last_word: "end" },
    cases: [
      ["This is the end.", true],
      ["The end is near", false],
    ],
  },
  {
    id: "detectable_format:bigram_wrapping",
    kwargs: {},
    cases: [
      ["<<I am>> <<at home>>", true],
      ["I am at home", false],
      ["<<I am>> home", true], // a trailing odd word is not checked
    ],
  },
  {
    id: "copy:copying_simple",
    kwargs: { prompt_to_repeat: "Tell me a joke." },
    cases: [
      ["tell me a joke.", true],
      ["Tell me a joke. Why did the chicken cross the road?", false],
    ],
  },
  {
    id: "copy:copying_multiple",
    kwargs: { prompt_to_repeat: "Hi.", N: 3 },
    cases: [
      ["Hi.******Hi.******Hi.", true],
      ["Hi.******Hi.", false],
    ],
  },
  {
    id: "punctuation:punctuation_dot",
    kwargs: {},
    cases: [
      ["No dots here", true],
      ["Dot.", false],
    ],
  },
  {
    id: "punctuation:punctuation_exclamation",
    kwargs: {},
    cases: [
      ["Calm", true],
      ["Wow!", false],
    ],
  },
  {
    id: "count:lowercase_counting",
    kwargs: { N: 2 },
    cases: [
      ["Hello World foo", true],
      ["a b c", false],
      ["café au lait", true], // Unicode \b: "caf" inside "café" is not a lowercase word
    ],
  },
  {
    id: "letters:letter_counting",
    kwargs: { N: 5, relation: "at least" },
    cases: [
      ["Hello", true],
      ["Hi!", false],
    ],
  },
  { id: "letters:letter_counting", kwargs: { N: 3, relation: "less than" }, cases: [["Hi!", true]] },
  {
    id: "letters:letter_counting2",
    kwargs: { letter: "e", let_frequency: 2, let_relation: "at least" },
    cases: [
      ["Eel", true],
      ["cat", false],
    ],
  },
  {
    id: "count:counting_composition",
    kwargs: { n_sent: 2, n_words: 4 },
    cases: [
      [
        "I like tea. You like coffee.\n***\nWe drink water. They drink juice.\n***\nHe eats bread. She eats rice.",
        true,
      ],
      [
        "***\nI like tea. You like coffee.\n***\nWe drink water. They drink juice.\n***\nHe eats bread. She eats rice.",
        false,
      ],
    ],
  },
  {
    id: "count:counting_composition",
    kwargs: { n_sent: 2, n_words: 3 },
    // word_tokenize counts the final period as a word, so three-word sentences have four tokens
    cases: [
      [
        "I like tea. You like coffee.\n***\nWe drink water. They drink juice.\n***\nHe eats bread. She eats rice.",
        false,
      ],
    ],
  },
  {
    id: "count:count_unique",
    kwargs: {},
    cases: [
      ["Cats chase mice", true],
      ["Cats chase cats", true], // tokens are compared case-sensitively
      ["I ran. I slept.", false],
    ],
  },
  {
    id: "count:count_increment_word",
    kwargs: { keyword1: "red", keyword2: "blue" },
    cases: [
      ["red blue blue", true],
      ["red red blue blue", false],
    ],
  },
  {
    id: "keywords:palindrome",
    kwargs: {},
    cases: [
      ["Wow level", true],
      ["Hello World", false],
      ["I am here", true], // a one-letter word is a palindrome in the reference
    ],
  },
  {
    id: "keywords:keyword_specific_position",
    kwargs: { keyword: "cat", n: 2, m: 3 },
    cases: [
      ["Hello there. I see cat now.", true],
      ["Hello. I cat.", false],
      ["Hello there.", false],
    ],
  },
  {
    id: "keywords:start_end",
    kwargs: {},
    cases: [
      ["Yes I said yes", true],
      ["Yes I said yes.", false], // the final period is the last token
    ],
  },
];

describe("IFTrain constraints (open-instruct IFEvalG)", () => {
  it("covers all 29 ids with passing and failing cases", () => {
    expect(iftrainInstructionIds).toHaveLength(29);
    for (const id of iftrainInstructionIds) {
      const rows = cases.filter((entry) => entry.id === id).flatMap((entry) => entry.cases);
      expect(
        rows.some(([, strict]) => strict),
        id,
      ).toBe(true);
      expect(
        rows.some(([, strict]) => !strict),
        id,
      ).toBe(true);
    }
  });

  for (const entry of cases) {
    for (const [response, strict] of entry.cases) {
      it(`${entry.id} ${JSON.stringify(entry.kwargs)} on ${JSON.stringify(response)} → ${strict}`, async () => {
        const verdict = await verdictOf({ id: entry.id, kwargs: entry.kwargs, response });
        expect(verdict.strict).toBe(strict);
      });
    }
  }

  it("uses the prompt when prompt_to_repeat is absent", async () => {
    const verdict = await verdictOf({ id: "copy:copy", response: "Say hi.", prompt: "Say hi." });
    expect(verdict.strict).toBe(true);
  });
});
