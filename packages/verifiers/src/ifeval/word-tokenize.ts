import { punktSentences } from "./punkt.js";
import { pythonWordCharacter } from "./python-text.js";

/**
 * `nltk.word_tokenize(text)`: Punkt sentence split, then NLTK's improved Treebank word
 * tokenizer on each sentence. IFEval's `change_case:capital_word_frequency` and several IFTrain
 * constraints count these tokens. The rules below are NLTK's `NLTKWordTokenizer` regular
 * expressions applied in NLTK's order (starting quotes, punctuation, brackets, dashes, ending
 * quotes, contractions); the result is the whitespace split of the rewritten text.
 */
type Rule = [RegExp, string];

const startingQuotes: Rule[] = [
  [/([«“‘„]|[`]+)/gu, " $1 "],
  [/^"/u, "``"],
  [/(``)/gu, " $1 "],
  [/([ ([{<])("|'{2})/gu, "$1 `` "],
  [new RegExp(`(')(?!re|ve|ll|m|t|s|d|n)(${pythonWordCharacter})(?=${boundaryAfterWord()})`, "giu"), "$1 $2"],
];

const punctuation: Rule[] = [
  [/([^.])(\.)([\])}>"'»”’ ]*)\s*$/u, "$1 $2 $3 "],
  [/([:,])([^\d])/gu, " $1 $2"],
  [/([:,])$/u, " $1 "],
  [/\.{2,}/gu, " $& "],
  [/[;@#$%&]/gu, " $& "],
  [/([^.])(\.)([\])}>"']*)\s*$/u, "$1 $2$3 "],
  [/[?!]/gu, " $& "],
  [/([^'])' /gu, "$1 ' "],
  [/[*]/gu, " $& "],
];

const parensBrackets: Rule = [/[\][(){}<>]/gu, " $& "];
const doubleDashes: Rule = [/--/gu, " -- "];

const endingQuotes: Rule[] = [
  [/([»”’])/gu, " $1 "],
  [/''/gu, " '' "],
  [/"/gu, " '' "],
  [/([^' ])('[sS]|'[mM]|'[dD]|') /gu, "$1 $2 "],
  [/([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) /gu, "$1 $2 "],
];

function boundaryAfterWord(): string {
  return `(?!${pythonWordCharacter})`;
}

const wordEdge = `(?<!${pythonWordCharacter})`;
const wordEnd = `(?!${pythonWordCharacter})`;
const contractions: RegExp[] = [
  new RegExp(`${wordEdge}(can)(not)${wordEnd}`, "giu"),
  new RegExp(`${wordEdge}(d)('ye)${wordEnd}`, "giu"),
  new RegExp(`${wordEdge}(gim)(me)${wordEnd}`, "giu"),
  new RegExp(`${wordEdge}(gon)(na)${wordEnd}`, "giu"),
  new RegExp(`${wordEdge}(got)(ta)${wordEnd}`, "giu"),
  new RegExp(`${wordEdge}(lem)(me)${wordEnd}`, "giu"),
  new RegExp(`${wordEdge}(more)('n)${wordEnd}`, "giu"),
  new RegExp(`${wordEdge}(wan)(na)(?=\\s)`, "giu"),
  new RegExp(` ('t)(is)${wordEnd}`, "giu"),
  new RegExp(` ('t)(was)${wordEnd}`, "giu"),
];

/** NLTK's Treebank-style tokenization of one sentence. */
export function treebankTokenize(sentence: string): string[] {
  let text = sentence;
  for (const [pattern, replacement] of startingQuotes) text = text.replace(pattern, replacement);
  for (const [pattern, replacement] of punctuation) text = text.replace(pattern, replacement);
  text = text.replace(parensBrackets[0], parensBrackets[1]);
  text = text.replace(doubleDashes[0], doubleDashes[1]);
  text = ` ${text} `;
  for (const [pattern, replacement] of endingQuotes) text = text.replace(pattern, replacement);
  for (const pattern of contractions) text = text.replace(pattern, " $1 $2 ");
  return text.split(/\s+/u).filter((token) => token !== "");
}

/** `nltk.word_tokenize(text)`. */
export function wordTokenize(text: string): string[] {
  return punktSentences(text).flatMap((sentence) => treebankTokenize(sentence));
}

const wordRun = new RegExp(`${pythonWordCharacter}+`, "gu");

/** Google's `count_words`: the number of `\w+` runs (`nltk.tokenize.RegexpTokenizer(r"\w+")`). */
export function countWords(text: string): number {
  return text.match(wordRun)?.length ?? 0;
}
