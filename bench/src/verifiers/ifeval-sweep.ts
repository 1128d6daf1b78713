// Worst-case inputs for every IFEval / IFTrain instruction and every `ifeval_old` function:
// one label per instruction (kwargs that make the check do its full work) and responses of
// ~190 kB built from the characters each check's parser reacts to (brackets, stars, angle
// brackets, markers, whitespace runs, sentence ends, quotes). Used by `main.ts` to report
// the worst latency of one check per instruction.
import type { VerifyRow } from "@posttrain/verifiers";

const size = 190_000;
const fill = (unit: string) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);

/** Responses built to make a naive (backtracking or quadratic) check slow. */
export const attackResponses: Record<string, string> = {
  "open-brackets": fill("["),
  "open-brackets-then-close": `${fill("[").slice(0, size - 1)}]`,
  stars: fill("*"),
  "star-space": fill("* "),
  "angle-open": fill("<"),
  "angle-pairs": fill("<<"),
  "angle-title-unclosed": fill("<<a"),
  spaces: `${fill(" ")}x`,
  "spaces-comma": `${fill(" ")},`,
  newlines: `${fill("\n")}x`,
  "blank-lines": fill("\n\n "),
  dots: fill("."),
  "dot-space": fill(". "),
  "p-dots": fill("p. "),
  quotes: fill('"'),
  hyphens: fill("-"),
  "section-markers": fill("Section "),
  "asterisk-separators": fill("*** "),
  "six-stars": fill("******"),
  letters: fill("a"),
  words: fill("word "),
  capitals: fill("ABC "),
  "json-open": fill('{"a":['),
  "mixed-punctuation": fill("a.b,c!d?e;f:g "),
  underscores: fill("_"),
  "zero-width": fill("\u200b"),
};

const prompt = "Write a short poem about the sea. Repeat this request word for word first.";

/** One label per instruction id, with kwargs that exercise the whole check. */
export const instructionKwargs: Record<string, Record<string, unknown>> = {
  "keywords:existence": { keywords: ["sea", "poem"] },
  "keywords:frequency": { keyword: "word", frequency: 3, relation: "at least" },
  "keywords:forbidden_words": { forbidden_words: ["sea", "wave"] },
  "keywords:letter_frequency": { letter: "a", let_frequency: 3, let_relation: "at least" },
  "language:response_language": { language: "en" },
  "length_constraints:number_sentences": { num_sentences: 3, relation: "at least" },
  "length_constraints:number_paragraphs": { num_paragraphs: 3 },
  "length_constraints:number_words": { num_words: 300, relation: "at least" },
  "length_constraints:nth_paragraph_first_word": { num_paragraphs: 3, nth_paragraph: 2, first_word: "sea" },
  "detectable_content:number_placeholders": { num_placeholders: 2 },
  "detectable_content:postscript": { postscript_marker: "P.S." },
  "detectable_format:number_bullet_lists": { num_bullets: 3 },
  "detectable_format:constrained_response": {},
  "detectable_format:number_highlighted_sections": { num_highlights: 2 },
  "detectable_format:multiple_sections": { section_spliter: "Section", num_sections: 3 },
  "detectable_format:json_format": {},
  "detectable_format:title": {},
  "combination:two_responses": {},
  "combination:repeat_prompt": { prompt_to_repeat: prompt },
  "startend:end_checker": { end_phrase: "Is there anything else I can help with?" },
  "startend:quotation": {},
  "change_case:capital_word_frequency": { capital_frequency: 3, capital_relation: "at least" },
  "change_case:english_capital": {},
  "change_case:english_lowercase": {},
  "punctuation:no_comma": {},
  "copy:repeat_phrase": { phrase: "the sea is wide and deep", small_n: 2 },
  "copy:copy": { prompt_to_repeat: prompt },
  "new:copy_span_idx": { prompt_to_repeat: prompt, n_start: 0, n_end: 20 },
  "detectable_format:sentence_hyphens": {},
  "keywords:no_adjacent_consecutive": {},
  "detectable_format:square_brackets": {},
  "keywords:word_once": { keyword: "sea" },
  "keywords:word_count_different_numbers": { keyword: "word", frequency: 3, relation: "at least" },
  "keywords:exclude_word_harder": { keyword: "sea" },
  "paragraphs:paragraphs": {},
  "paragraphs:paragraphs2": {},
  "first_word:first_word_sent": { first_word: "the" },
  "first_word:first_word_answer": { first_word: "the" },
  "last_word:last_word_sent": { last_word: "sea" },
  "last_word:last_word_answer": { last_word: "sea" },
  "detectable_format:bigram_wrapping": {},
  "copy:copying_simple": { prompt_to_repeat: prompt },
  "copy:copying_multiple": { prompt_to_repeat: prompt, N: 3 },
  "punctuation:punctuation_dot": {},
  "punctuation:punctuation_exclamation": {},
  "count:lowercase_counting": { N: 3 },
  "letters:letter_counting": { N: 3, relation: "at least" },
  "letters:letter_counting2": { letter: "a", let_frequency: 3, let_relation: "at least" },
  "count:counting_composition": { n_sent: 2, n_words: 3 },
  "count:count_unique": {},
  "count:count_increment_word": { keyword1: "sea", keyword2: "wave" },
  "keywords:palindrome": {},
  "keywords:keyword_specific_position": { keyword: "sea", n: 2, m: 3 },
  "keywords:start_end": {},
};

/** One `ifeval_old` label per Tulu 3 function. */
export const oldFunctionKwargs: Record<string, Record<string, unknown>> = {
  verify_keywords: { keyword_list: ["sea", "poem"] },
  verify_keyword_frequency: { word: "word", N: 3 },
  validate_forbidden_words: { forbidden_words: ["sea"] },
  verify_letter_frequency: { letter: "a", N: 3 },
  validate_response_language: { language: "en" },
  verify_paragraph_count: { N: 3 },
  validate_word_constraint: { N: 300, quantifier: "at least" },
  verify_sentence_constraint: { N: 3, quantifier: "at least" },
  validate_paragraphs: { N: 3, first_word: "sea", i: 2 },
  verify_postscript: { postscript_marker: "P.S." },
  validate_placeholders: { N: 2 },
  verify_bullet_points: { N: 3 },
  validate_title: {},
  validate_choice: { options: ["yes", "no"] },
  validate_highlighted_sections: { N: 2 },
  validate_sections: { N: 3, section_splitter: "Section" },
  validate_json_format: {},
  validate_repeat_prompt: { original_prompt: prompt },
  validate_two_responses: {},
  validate_uppercase: {},
  validate_lowercase: {},
  validate_frequency_capital_words: { N: 3, quantifier: "at least" },
  validate_end: { end_phrase: "Is there anything else I can help with?" },
  validate_quotation: {},
  validate_no_commas: {},
};

/** Every (verifier, instruction, attack) triple as a row for `verify`. */
export function sweepRows(): Array<{
  verifier: string;
  instruction: string;
  attack: string;
  row: VerifyRow;
}> {
  const rows: Array<{ verifier: string; instruction: string; attack: string; row: VerifyRow }> = [];
  for (const [attack, response] of Object.entries(attackResponses)) {
    for (const [instruction, kwargs] of Object.entries(instructionKwargs))
      rows.push({
        verifier: "ifeval",
        instruction,
        attack,
        row: { response, ground_truth: { instruction_id: [instruction], kwargs: [kwargs] } },
      });
    for (const [name, kwargs] of Object.entries(oldFunctionKwargs))
      rows.push({
        verifier: "ifeval_old",
        instruction: name,
        attack,
        row: { response, ground_truth: { func_name: name, ...kwargs } },
      });
  }
  return rows;
}
