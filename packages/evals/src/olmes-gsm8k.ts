/**
 * OLMES's GSM8K `exact_match` rule, reproduced so results can be compared with published
 * numbers (behaviour from ../shared/reference/evals.md): thousands commas between digits are
 * removed, the last number (`[-+]?\d*\.\d+|\d+`) is taken — from the response and from the
 * gold alike — then ",", "$", anything up to "#### " and a final "." are stripped, the text is
 * lower-cased and compared as a string. Quirk kept on purpose: the integer branch of the
 * regex has no sign, so "-5" reads as "5" on both sides. Our `gsm8k` verifier (reported as
 * `exact_match_verifier`) compares numerically and rejects hedged answers.
 */
import { stripThousandsSeparators } from "@posttrain/verifiers";

const olmesNumberPattern = /[-+]?\d*\.\d+|\d+/g;

/** The OLMES-normalised answer of a text (response or gold). */
export function olmesGsm8kAnswer(params: { text: string }): string {
  let text = stripThousandsSeparators({ text: params.text });
  const numbers = text.match(olmesNumberPattern);
  if (numbers !== null && numbers.length > 0) text = numbers[numbers.length - 1] as string;
  text = text.replaceAll(",", "").replaceAll("$", "");
  text = text.replace(/^[\s\S]*#### /, "");
  text = text.replace(/\.$/, "");
  return text.toLowerCase().trim();
}

/** OLMES GSM8K exact match of a response against the gold answer. */
export function olmesGsm8kExactMatch(params: { response: string; gold: string }): boolean {
  return olmesGsm8kAnswer({ text: params.response }) === olmesGsm8kAnswer({ text: params.gold });
}
