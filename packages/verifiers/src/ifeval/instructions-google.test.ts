import { describe, expect, it } from "vitest";
import { type Case, verdictOf } from "../test/ifeval.js";
import { googleInstructionIds } from "./registry.js";

/**
 * Pass and fail cases for each of Google's 25 instructions, pinning the reference's exact
 * semantics (regex keywords, Unicode word boundaries, divider and fence rules, …).
 */
const cases: Array<{ id: string; kwargs: Record<string, unknown>; cases: Case[] }> = [
  {
    id: "keywords:existence",
    kwargs: { keywords: ["dog", "cat"] },
    cases: [
      ["I have a Dog and a cat.", true],
      ["I have a dog.", false],
      ["concatenate dogma", true], // substring search, as re.search does
    ],
  },
  { id: "keywords:existence", kwargs: { keywords: ["colou?r"] }, cases: [["What a color!", true]] }, // keyword is a regex
  {
    id: "keywords:frequency",
    kwargs: { keyword: "data", frequency: 3, relation: "at least" },
    cases: [
      ["Data data DATA", true],
      ["data data", false],
    ],
  },
  {
    id: "keywords:frequency",
    kwargs: { keyword: "data", frequency: 2, relation: "less than" },
    cases: [
      ["data", true],
      ["data and a database", false], // "database" contains a match
    ],
  },
  {
    id: "keywords:forbidden_words",
    kwargs: { forbidden_words: ["cat"] },
    cases: [
      ["I like dogs.", true],
      ["The Cat sat.", false],
      ["a category of things", true],
      ["the cat's toy", false],
      ["écat", true], // Python's \b is Unicode-aware: no boundary between é and c
    ],
  },
  {
    id: "keywords:letter_frequency",
    kwargs: { letter: "a", let_frequency: 4, let_relation: "at least" },
    cases: [
      ["A banana", true], // counted after lowercasing
      ["banana", false],
    ],
  },
  {
    id: "keywords:letter_frequency",
    kwargs: { letter: "Z", let_frequency: 1, let_relation: "less than" },
    cases: [
      ["hello", true],
      ["no zeds", false],
    ],
  },
  {
    id: "keywords:letter_frequency",
    kwargs: { letter: "#", let_frequency: 2, let_relation: "at least" },
    cases: [
      ["#one #two", true], // non-letters are counted as given (the reference would pick a random letter)
      ["#one", false],
    ],
  },
  {
    id: "language:response_language",
    kwargs: { language: "fr" },
    cases: [
      ["Bonjour tout le monde, je suis très heureux de vous voir aujourd'hui.", true],
      ["Hello everyone, I am very happy to see you today.", false],
      ["12345 !!! 678", true], // nothing to detect: counted as followed, like langdetect's exception path
    ],
  },
  {
    id: "length_constraints:number_sentences",
    kwargs: { num_sentences: 3, relation: "at least" },
    cases: [
      ["One. Two! Three?", true],
      ["Dr. Smith went home. He slept.", false],
      ["Line one\nLine two\nLine three", false], // newlines are not sentence breaks
    ],
  },
  {
    id: "length_constraints:number_sentences",
    kwargs: { num_sentences: 2, relation: "less than" },
    cases: [
      ["Only one sentence here", true],
      ["First. Second.", false],
    ],
  },
  {
    id: "length_constraints:number_paragraphs",
    kwargs: { num_paragraphs: 2 },
    cases: [
      ["First.\n***\nSecond.", true],
      ["First.\n* * *\nSecond.", false],
      ["***\nA\n***\nB\n***", true], // empty first and last pieces are ignored
      ["A\n***\n\n***\nB", false], // an empty middle paragraph fails
    ],
  },
  {
    id: "length_constraints:number_words",
    kwargs: { num_words: 5, relation: "at least" },
    cases: [
      ["one two three four five", true],
      ["it's a test", false], // \w+ runs: it, s, a, test
    ],
  },
  {
    id: "length_constraints:number_words",
    kwargs: { num_words: 3, relation: "less than" },
    cases: [["don't", true]],
  },
  {
    id: "length_constraints:nth_paragraph_first_word",
    kwargs: { num_paragraphs: 2, nth_paragraph: 2, first_word: "finally" },
    cases: [
      ['Intro text.\n\n"Finally, the end."', true],
      ["Intro.\n\nAlso the end.", false],
      ["Intro.\n\nFinally here.\n\nThird.", false],
    ],
  },
  {
    id: "detectable_content:number_placeholders",
    kwargs: { num_placeholders: 2 },
    cases: [
      ["Dear [name], we ship to [address].", true],
      ["Dear [name].", false],
      ["[a\nb] [c]", false], // a placeholder does not span lines
    ],
  },
  {
    id: "detectable_content:postscript",
    kwargs: { postscript_marker: "P.S." },
    cases: [
      ["Hello.\nP.S. bye", true],
      ["Hello.", false],
      ["hello\np. s. see you", true], // lowercase and optional spaces
    ],
  },
  {
    id: "detectable_content:postscript",
    kwargs: { postscript_marker: "P.P.S" },
    cases: [["Hi\nP.P.S. more", true]],
  },
  {
    id: "detectable_format:number_bullet_lists",
    kwargs: { num_bullets: 2 },
    cases: [
      ["* a\n* b", true],
      ["* a\n- b\n* c", false],
      ["**bold intro**\n* a\n* b", true], // a line starting "**" is not a bullet
    ],
  },
  {
    id: "detectable_format:constrained_response",
    kwargs: {},
    cases: [
      ["My answer is yes.", true],
      ["Yes.", false],
    ],
  },
  {
    id: "detectable_format:number_highlighted_sections",
    kwargs: { num_highlights: 2 },
    cases: [
      ["*one* and *two*", true],
      ["*one* and * *", false], // an empty highlight does not count
    ],
  },
  {
    id: "detectable_format:number_highlighted_sections",
    kwargs: { num_highlights: 1 },
    cases: [["**bold**", true]], // counted through the double-asterisk pattern
  },
  {
    id: "detectable_format:multiple_sections",
    kwargs: { section_spliter: "Section", num_sections: 2 },
    cases: [
      ["Section 1\nfoo\nSection 2\nbar", true],
      ["Section one\nSection two", false],
      ["SECTION 1\nSECTION 2", false], // case-sensitive
    ],
  },
  {
    id: "detectable_format:json_format",
    kwargs: {},
    cases: [
      ['{"a": 1}', true],
      ['```json\n{"a": 1}\n```', true],
      ["```JSON\n[1, 2]\n```", true],
      ['Here: {"a": 1}', false],
      ["NaN", true], // Python's json.loads accepts NaN
    ],
  },
  {
    id: "detectable_format:title",
    kwargs: {},
    cases: [
      ["<<My Title>>\ntext", true],
      ["<< >> text", false],
      ["<<a\nb>>", false],
    ],
  },
  {
    id: "combination:two_responses",
    kwargs: {},
    cases: [
      ["A\n******\nB", true],
      ["A\n******\nA", false],
      ["A\n******\n\n******\nB", false],
    ],
  },
  {
    id: "combination:repeat_prompt",
    kwargs: { prompt_to_repeat: "Write a poem." },
    cases: [
      ["write a poem. Here it is.", true],
      ["Sure! Write a poem.", false],
    ],
  },
  {
    id: "startend:end_checker",
    kwargs: { end_phrase: "Any other questions?" },
    cases: [
      ["Done. Any other questions?", true],
      ['"Done. any other questions?"', true], // quotes stripped, case ignored
      ["Any other questions? Thanks", false],
    ],
  },
  {
    id: "startend:quotation",
    kwargs: {},
    cases: [
      ['"Hello"', true],
      ['"', false],
      ["Hello", false],
    ],
  },
  {
    id: "change_case:capital_word_frequency",
    kwargs: { capital_frequency: 2, capital_relation: "at least" },
    cases: [
      ["The USA and NASA are big.", true],
      ["The USA is big.", false],
    ],
  },
  {
    id: "change_case:capital_word_frequency",
    kwargs: { capital_frequency: 1, capital_relation: "less than" },
    cases: [
      ["no capitals here", true],
      ["I am here", false], // "I" is an all-capital word
    ],
  },
  {
    id: "change_case:english_capital",
    kwargs: {},
    cases: [
      ["HELLO WORLD, THIS IS AN ENGLISH SENTENCE ABOUT THE WEATHER.", true],
      ["Hello world, this is an English sentence about the weather.", false],
      ["BONJOUR TOUT LE MONDE, JE SUIS TRES HEUREUX DE VOUS VOIR AUJOURD'HUI.", false],
    ],
  },
  {
    id: "change_case:english_lowercase",
    kwargs: {},
    cases: [
      ["hello world, this is an english sentence about the weather.", true],
      ["Hello world, this is an English sentence about the weather.", false],
    ],
  },
  {
    id: "punctuation:no_comma",
    kwargs: {},
    cases: [
      ["a b c", true],
      ["a, b", false],
    ],
  },
];

describe("Google IFEval instructions (strict)", () => {
  it("covers all 25 ids with passing and failing cases", () => {
    expect(googleInstructionIds).toHaveLength(25);
    for (const id of googleInstructionIds) {
      const rows = cases.filter((entry) => entry.id === id).flatMap((entry) => entry.cases);
      expect(rows.some(([, strict]) => strict)).toBe(true);
      expect(rows.some(([, strict]) => !strict)).toBe(true);
    }
  });

  for (const entry of cases) {
    for (const [response, strict] of entry.cases) {
      it(`${entry.id} ${JSON.stringify(entry.kwargs)} on ${JSON.stringify(response)} → ${strict}`, async () => {
        const verdict = await verdictOf({ id: entry.id, kwargs: entry.kwargs, response });
        expect(verdict.strict).toBe(strict);
        if (strict) expect(verdict.loose).toBe(true);
      });
    }
  }
});

describe("strict vs loose", () => {
  const differences: Array<{ id: string; kwargs?: Record<string, unknown>; response: string; why: string }> =
    [
      {
        id: "detectable_format:json_format",
        response: 'Here is the JSON:\n{"a": 1}',
        why: "first line removed",
      },
      { id: "startend:quotation", response: 'Sure:\n"Hello there"', why: "first line removed" },
      {
        id: "startend:end_checker",
        kwargs: { end_phrase: "Any other questions?" },
        response: "Done. Any other questions?\n(generated)",
        why: "last line removed",
      },
      {
        id: "detectable_format:number_bullet_lists",
        kwargs: { num_bullets: 0 },
        response: "* only point",
        why: "asterisks removed",
      },
      {
        id: "detectable_format:title",
        response: "Intro\n<<Title>>\nOutro",
        why: "both ends removed still keeps the title (already strict)",
      },
    ];
  for (const difference of differences) {
    it(`${difference.id}: ${difference.why}`, async () => {
      const verdict = await verdictOf({
        id: difference.id,
        kwargs: difference.kwargs ?? {},
        response: difference.response,
      });
      expect(verdict.loose).toBe(true);
      if (difference.id !== "detectable_format:title") expect(verdict.strict).toBe(false);
    });
  }

  it("fails strict and loose on an empty or blank response even where the check is vacuous", async () => {
    for (const response of ["", "  \n "]) {
      const verdict = await verdictOf({ id: "punctuation:no_comma", response });
      expect(verdict).toEqual({ id: "punctuation:no_comma", strict: false, loose: false });
    }
  });

  it("skips loose variants that become empty", async () => {
    const verdict = await verdictOf({ id: "punctuation:no_comma", response: "a, b" });
    expect(verdict).toEqual({ id: "punctuation:no_comma", strict: false, loose: false });
  });
});
