import { punktSentences } from "./punkt.js";
import { pythonWordCharacter } from "./python-text.js";

/**
 * `nltk.word_tokenize(text)`: Punkt sentence split, then NLTK's improved Treebank word
 * tokenizer on each sentence. IFEval's `change_case:capital_word_frequency` and several IFTrain
 * constraints count these tokens. The rules below are NLTK's `NLTKWordTokenizer` regular
 * expressions applied in NLTK's order (starting quotes, punctuation, brackets, dashes, ending
 * quotes, contractions); the result is the whitespace split of the rewritten text.
 */
/**
 * A rewrite rule: pattern, replacement, and the characters one of which the text must
 * contain for the pattern to match at all. The check skips rules that cannot apply (most
 * rules on most sentences): the per-sentence cost of ~30 regex calls otherwise dominated on
 * responses of 95,000 one-character sentences.
 */
type Rule = [RegExp, string, string];

const startingQuotes: Rule[] = [
  [/([«“‘„]|[`]+)/gu, " $1 ", "«“‘„`"],
  [/^"/u, "``", '"'],
  [/(``)/gu, " $1 ", "`"],
  [/([ ([{<])("|'{2})/gu, "$1 `` ", `"'`],
  [
    new RegExp(`(')(?!re|ve|ll|m|t|s|d|n)(${pythonWordCharacter})(?=${boundaryAfterWord()})`, "giu"),
    "$1 $2",
    "'",
  ],
];

const punctuation: Rule[] = [
  [/([^.])(\.)([\])}>"'»”’ ]*)\s*$/u, "$1 $2 $3 ", "."],
  [/([:,])([^\d])/gu, " $1 $2", ":,"],
  [/([:,])$/u, " $1 ", ":,"],
  [/\.{2,}/gu, " $& ", "."],
  [/[;@#$%&]/gu, " $& ", ";@#$%&"],
  [/([^.])(\.)([\])}>"']*)\s*$/u, "$1 $2$3 ", "."],
  [/[?!]/gu, " $& ", "?!"],
  [/([^'])' /gu, "$1 ' ", "'"],
  [/[*]/gu, " $& ", "*"],
];

const parensBrackets: Rule = [/[\][(){}<>]/gu, " $& ", "[](){}<>"];
const doubleDashes: Rule = [/--/gu, " -- ", "-"];

const endingQuotes: Rule[] = [
  [/([»”’])/gu, " $1 ", "»”’"],
  [/''/gu, " '' ", "'"],
  [/"/gu, " '' ", '"'],
  [/([^' ])('[sS]|'[mM]|'[dD]|') /gu, "$1 $2 ", "'"],
  [/([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) /gu, "$1 $2 ", "'"],
];

function applyRule(text: string, [pattern, replacement, triggers]: Rule): string {
  for (const trigger of triggers) if (text.includes(trigger)) return text.replace(pattern, replacement);
  return text;
}

function boundaryAfterWord(): string {
  return `(?!${pythonWordCharacter})`;
}

const wordEdge = `(?<!${pythonWordCharacter})`;
const wordEnd = `(?!${pythonWordCharacter})`;
// Each with the lowercase substring its text must contain (checked on the lowercased text;
// none of these letters has a non-ASCII case-folding partner that lowercasing would miss).
const contractions: Array<[RegExp, string]> = [
  [new RegExp(`${wordEdge}(can)(not)${wordEnd}`, "giu"), "cannot"],
  [new RegExp(`${wordEdge}(d)('ye)${wordEnd}`, "giu"), "d'ye"],
  [new RegExp(`${wordEdge}(gim)(me)${wordEnd}`, "giu"), "gimme"],
  [new RegExp(`${wordEdge}(gon)(na)${wordEnd}`, "giu"), "gonna"],
  [new RegExp(`${wordEdge}(got)(ta)${wordEnd}`, "giu"), "gotta"],
  [new RegExp(`${wordEdge}(lem)(me)${wordEnd}`, "giu"), "lemme"],
  [new RegExp(`${wordEdge}(more)('n)${wordEnd}`, "giu"), "more'n"],
  [new RegExp(`${wordEdge}(wan)(na)(?=\\s)`, "giu"), "wanna"],
  [new RegExp(` ('t)(is)${wordEnd}`, "giu"), "'tis"],
  [new RegExp(` ('t)(was)${wordEnd}`, "giu"), "'twas"],
];

/** NLTK's Treebank-style tokenization of one sentence. */
export function treebankTokenize(sentence: string): string[] {
  let text = sentence;
  for (const rule of startingQuotes) text = applyRule(text, rule);
  for (const rule of punctuation) text = applyRule(text, rule);
  text = applyRule(text, parensBrackets);
  text = applyRule(text, doubleDashes);
  text = ` ${text} `;
  for (const rule of endingQuotes) text = applyRule(text, rule);
  const lower = text.toLowerCase();
  for (const [pattern, trigger] of contractions)
    if (lower.includes(trigger)) text = text.replace(pattern, " $1 $2 ");
  return text.split(/\s+/u).filter((token) => token !== "");
}

/** `nltk.word_tokenize(text)`. Each distinct sentence is tokenized once. */
export function wordTokenize(text: string): string[] {
  const seen = new Map<string, string[]>();
  return punktSentences(text).flatMap((sentence) => {
    let tokens = seen.get(sentence);
    if (tokens === undefined) {
      tokens = treebankTokenize(sentence);
      seen.set(sentence, tokens);
    }
    return tokens;
  });
}

const wordRun = new RegExp(`${pythonWordCharacter}+`, "gu");

/** Google's `count_words`: the number of `\w+` runs (`nltk.tokenize.RegexpTokenizer(r"\w+")`). */
export function countWords(text: string): number {
  return text.match(wordRun)?.length ?? 0;
}
