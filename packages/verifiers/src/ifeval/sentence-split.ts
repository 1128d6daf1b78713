import { pythonSpace, pythonStrip } from "./python-text.js";

/**
 * Google IFEval's rule-based sentence splitter (`instructions_util.split_into_sentences`),
 * reproduced step by step. It protects periods in honorifics ("Mr."), web suffixes (".com"),
 * decimals, ellipses, "Ph.D.", single initials, acronyms ("U.S.A.") and company suffixes
 * ("Inc."), then breaks after every remaining ".", "?" and "!". Newlines are not breaks.
 * Used by the IFTrain constraints (first/last word of each sentence, keyword position…).
 */
const alphabets = "([A-Za-z])";
const prefixes = /(Mr|St|Mrs|Ms|Dr)[.]/g;
const websites = /[.](com|net|org|io|gov|edu|me)/g;
const digits = /([0-9])[.]([0-9])/g;
const multipleDots = /\.{2,}/g;
const starters =
  "(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\\s|She\\s|It\\s|They\\s|Their\\s|Our\\s|We\\s|But\\s|However\\s|That\\s|This\\s|Wherever)";
const acronyms = "([A-Z][.][A-Z][.](?:[A-Z][.])?)";
const suffixes = "(Inc|Ltd|Jr|Sr|Co)";

const singleLetterAfterSpace = new RegExp(`${pythonSpace}${alphabets}[.] `, "gu");
const acronymThenStarter = new RegExp(`${acronyms} ${starters}`, "g");
const threeLetterAcronym = new RegExp(`${alphabets}[.]${alphabets}[.]${alphabets}[.]`, "g");
const twoLetterAcronym = new RegExp(`${alphabets}[.]${alphabets}[.]`, "g");
const suffixThenStarter = new RegExp(` ${suffixes}[.] ${starters}`, "g");
const suffix = new RegExp(` ${suffixes}[.]`, "g");
const letterAfterSpace = new RegExp(` ${alphabets}[.]`, "g");

/** Splits `text` into sentences exactly as Google's `split_into_sentences` does. */
export function splitIntoSentences(text: string): string[] {
  let value = ` ${text}  `;
  value = value.replaceAll("\n", " ");
  value = value.replace(prefixes, "$1<prd>");
  value = value.replace(websites, "<prd>$1");
  value = value.replace(digits, "$1<prd>$2");
  value = value.replace(multipleDots, (match) => `${"<prd>".repeat(match.length)}<stop>`);
  if (value.includes("Ph.D")) value = value.replaceAll("Ph.D.", "Ph<prd>D<prd>");
  value = value.replace(singleLetterAfterSpace, " $1<prd> ");
  value = value.replace(acronymThenStarter, "$1<stop> $2");
  value = value.replace(threeLetterAcronym, "$1<prd>$2<prd>$3<prd>");
  value = value.replace(twoLetterAcronym, "$1<prd>$2<prd>");
  value = value.replace(suffixThenStarter, " $1<stop> $2");
  value = value.replace(suffix, " $1<prd>");
  value = value.replace(letterAfterSpace, " $1<prd>");
  if (value.includes("\u201d")) value = value.replaceAll(".\u201d", "\u201d.");
  if (value.includes('"')) value = value.replaceAll('."', '".');
  if (value.includes("!")) value = value.replaceAll('!"', '"!');
  if (value.includes("?")) value = value.replaceAll('?"', '"?');
  value = value.replaceAll(".", ".<stop>");
  value = value.replaceAll("?", "?<stop>");
  value = value.replaceAll("!", "!<stop>");
  value = value.replaceAll("<prd>", ".");
  let sentences = value.split("<stop>").map((sentence) => stripPython(sentence));
  if (sentences.length > 0 && sentences[sentences.length - 1] === "") sentences = sentences.slice(0, -1);
  return sentences;
}

function stripPython(text: string): string {
  return pythonStrip(text);
}
