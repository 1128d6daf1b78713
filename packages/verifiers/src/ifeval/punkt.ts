import { isPythonSpace, pythonRightStrip, pythonSpace } from "./python-text.js";

/**
 * Sentence segmentation in the manner of NLTK's Punkt tokenizer with its pretrained English
 * model, which Google IFEval uses to count sentences (`count_sentences`) and, through
 * `nltk.word_tokenize`, to split text before word tokenization.
 *
 * The pretrained model's learned tables (abbreviations, collocations, frequent sentence
 * starters, orthographic context) are not available here, so this keeps Punkt's algorithm
 * and replaces those tables with fixed English lists:
 * - a candidate boundary is a token ending in ".", "?" or "!" that is followed by whitespace
 *   and another token, or by closing punctuation (Punkt's period-context pattern);
 * - "?" and "!" always end a sentence; a period ends one unless the token is a known
 *   abbreviation, an ellipsis, a single initial, or a number followed by a lowercase word or
 *   punctuation — and an abbreviation, ellipsis or initial still ends a sentence when the next
 *   word is a capitalised common sentence starter ("The", "It", "We", …), which is what
 *   Punkt's orthographic heuristic decides for such words;
 * - newlines alone never split; closing quotes and brackets after a boundary stay with the
 *   sentence before it.
 * Known disagreements with the real model are listed in this folder's README.
 */

/** Lowercased abbreviations (without the final period) that do not end a sentence. */
const abbreviations = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "prof",
  "st",
  "jr",
  "sr",
  "vs",
  "etc",
  "e.g",
  "i.e",
  "inc",
  "ltd",
  "co",
  "corp",
  "u.s",
  "u.k",
  "u.n",
  "u.s.a",
  "a.m",
  "p.m",
  "vol",
  "fig",
  "figs",
  "jan",
  "feb",
  "mar",
  "apr",
  "jun",
  "jul",
  "aug",
  "sep",
  "sept",
  "oct",
  "nov",
  "dec",
  "mon",
  "tue",
  "wed",
  "thu",
  "fri",
  "sat",
  "sun",
  "mt",
  "ft",
  "gen",
  "gov",
  "sen",
  "rep",
  "rev",
  "col",
  "lt",
  "sgt",
  "capt",
  "cmdr",
  "adm",
  "dept",
  "est",
  "approx",
  "al",
  "cf",
  "ca",
  "ph.d",
  "n.y",
  "d.c",
  "l.a",
  "calif",
  "mass",
  "fla",
  "tex",
  "ariz",
  "colo",
  "conn",
  "ill",
  "ind",
  "kan",
  "mich",
  "minn",
  "mont",
  "neb",
  "nev",
  "okla",
  "ore",
  "tenn",
  "wash",
  "wis",
  "wyo",
  "univ",
  "assn",
  "bros",
  "ave",
  "blvd",
  "rd",
  "hon",
  "messrs",
  "mme",
  "mlle",
  "pp",
  "ed",
  "eds",
  "no",
]);

/** Capitalised words that Punkt's orthographic heuristic treats as sentence starters. */
const sentenceStarters = new Set([
  "the",
  "this",
  "that",
  "these",
  "those",
  "it",
  "its",
  "he",
  "she",
  "we",
  "they",
  "i",
  "you",
  "there",
  "here",
  "in",
  "on",
  "at",
  "for",
  "but",
  "and",
  "or",
  "so",
  "if",
  "when",
  "while",
  "as",
  "a",
  "an",
  "my",
  "our",
  "your",
  "his",
  "her",
  "their",
  "what",
  "how",
  "why",
  "where",
  "who",
  "which",
  "after",
  "before",
  "then",
  "however",
  "also",
  "some",
  "many",
  "most",
  "all",
  "each",
  "every",
  "not",
  "one",
  "to",
  "with",
  "from",
  "by",
  "please",
  "let",
  "do",
  "is",
  "are",
  "was",
  "were",
  "can",
  "will",
  "would",
  "should",
  "could",
  "may",
  "might",
  "finally",
  "first",
  "second",
  "next",
  "now",
  "today",
  "yes",
  "thus",
  "since",
  "although",
  "because",
  "overall",
  "instead",
  "meanwhile",
  "moreover",
  "furthermore",
  "additionally",
  "consider",
  "remember",
  "note",
  "make",
  "use",
  "try",
  "keep",
  "be",
  "have",
  "has",
  "had",
  "did",
  "does",
]);

/**
 * Punkt's candidate pattern `\S*[.?!](?=([?!)";}\]*:@'({\[])|\s+(\S+))`, found by a linear
 * scan instead of the regex: with the regex, every start inside a long run without a
 * sentence end retries the whole run (quadratic: 190 kB of "[" took minutes). Same matches:
 * within a non-space run, from the current position, the match ends at the LAST `.`, `?` or
 * `!` whose lookahead holds (greedy `\S*`); the next token is the non-space run after the
 * whitespace, when the lookahead took that branch.
 */
export function* punktCandidates(
  text: string,
): Generator<{ start: number; end: number; next: string | undefined }> {
  const length = text.length;
  let position = 0;
  while (position < length) {
    while (position < length && isPythonSpace(text[position]!)) position += 1;
    if (position >= length) return;
    let runEnd = position;
    while (runEnd < length && !isPythonSpace(text[runEnd]!)) runEnd += 1;
    let afterSpace = runEnd;
    while (afterSpace < length && isPythonSpace(text[afterSpace]!)) afterSpace += 1;
    let nextEnd = afterSpace;
    while (nextEnd < length && !isPythonSpace(text[nextEnd]!)) nextEnd += 1;
    for (let end = runEnd - 1; end >= position; end -= 1) {
      const character = text[end]!;
      if (character !== "." && character !== "?" && character !== "!") continue;
      if (end + 1 < runEnd) {
        if (!lookaheadCharacters.includes(text[end + 1]!)) continue;
        yield { start: position, end: end + 1, next: undefined };
      } else {
        if (afterSpace === runEnd || afterSpace >= length) continue;
        yield { start: position, end: end + 1, next: text.slice(afterSpace, nextEnd) };
      }
      break;
    }
    position = runEnd;
  }
}
const lookaheadCharacters = `?!)";}]*:@'({[`;
const nonWordCharacters = `?!)";}]*:@({[`;
const notWordStart = `("\`{[:;&#*@)}]-,`;
const numberToken = /^-?[.,]?\d[\d,.-]*\.?$/u;
const initialToken = /^[\p{L}]\.$/u;
const realignment = /^["')\]}]+?(?:[\s]+|(?=--)|$)/u;

/** The Punkt word token that ends a candidate match (e.g. `("Hello.` → `Hello.`). */
function lastToken(match: string): string {
  let start = 0;
  for (let index = 0; index < match.length - 1; index += 1) {
    if (nonWordCharacters.includes(match[index]!)) start = index + 1;
  }
  let token = match.slice(start);
  while (token.length > 1 && notWordStart.includes(token[0]!)) token = token.slice(1);
  const dots = token.lastIndexOf("..");
  if (dots >= 0 && !/^\.+$/u.test(token)) {
    const after = token.slice(dots).replace(/^\.+/u, "");
    token = after === "" ? "..." : after;
  }
  return token;
}

function startsUppercase(token: string): boolean {
  const first = token[0] ?? "";
  return first !== first.toLowerCase();
}

function startsLowercase(token: string): boolean {
  const first = token[0] ?? "";
  return first !== first.toUpperCase();
}

function isCommonStarter(token: string): boolean {
  const word = token.replace(/[^\p{L}']+$/u, "").toLowerCase();
  return startsUppercase(token) && sentenceStarters.has(word);
}

/** Decides whether the candidate ending in `token` (followed by `next`) is a sentence boundary. */
function isBoundary(params: { token: string; next: string | undefined }): boolean {
  const { token, next } = params;
  const end = token[token.length - 1];
  // "?", "!" and a lone "." are Punkt's sentence-end tokens.
  if (end === "?" || end === "!" || token === ".") return true;
  const nextToken = next;
  const nextIsPunctuation = nextToken !== undefined && ";:,.!?".includes(nextToken[0] ?? "");
  if (/^\.+$/u.test(token)) return nextToken !== undefined && isCommonStarter(nextToken);
  const lower = token.toLowerCase();
  const type = lower.slice(0, -1);
  if (initialToken.test(token)) return nextToken !== undefined && isCommonStarter(nextToken);
  if (numberToken.test(lower)) {
    if (nextToken === undefined) return true;
    return !(nextIsPunctuation || startsLowercase(nextToken));
  }
  const lastPart = type.split("-").pop() ?? type;
  if (abbreviations.has(type) || abbreviations.has(lastPart)) {
    return nextToken !== undefined && isCommonStarter(nextToken);
  }
  return true;
}

/** Splits `text` into sentences the way Punkt's English model does (see module comment). */
export function punktSentences(text: string): string[] {
  const slices: Array<[number, number]> = [];
  let lastBreak = 0;
  for (const match of punktCandidates(text)) {
    const matchEnd = match.end;
    const next = match.next;
    if (!isBoundary({ token: lastToken(text.slice(match.start, match.end)), next })) continue;
    slices.push([lastBreak, matchEnd]);
    lastBreak = next === undefined ? matchEnd : matchEnd + nextTokenOffset(text, matchEnd);
  }
  slices.push([lastBreak, pythonRightStrip(text).length]);
  const sentences: string[] = [];
  let carry = 0;
  for (let index = 0; index < slices.length; index += 1) {
    const [start, stop] = slices[index]!;
    let sentenceStart = start + carry;
    carry = 0;
    let sentenceStop = stop;
    const following = slices[index + 1];
    if (following !== undefined) {
      const realigned = realignment.exec(text.slice(following[0], following[1]));
      if (realigned !== null) {
        sentenceStop = following[0] + pythonRightStrip(realigned[0]).length;
        carry = realigned[0].length;
      }
    }
    if (sentenceStart > sentenceStop) sentenceStart = sentenceStop;
    const sentence = text.slice(sentenceStart, sentenceStop);
    if (sentence !== "") sentences.push(sentence);
  }
  return sentences;
}

/** Offset from `position` to the first non-whitespace character after it. */
function nextTokenOffset(text: string, position: number): number {
  const rest = text.slice(position);
  const spaces = new RegExp(`^${pythonSpace}*`, "u").exec(rest);
  return spaces === null ? 0 : spaces[0].length;
}

/** `nltk.sent_tokenize(text)` length: the number of sentences Punkt finds. */
export function countSentences(text: string): number {
  return punktSentences(text).length;
}
