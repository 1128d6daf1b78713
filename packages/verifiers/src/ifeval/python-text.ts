/**
 * Python string semantics the IFEval reference relies on, reproduced for JavaScript strings.
 *
 * The reference checks are written against Python 3 `str` methods and the `re` module with
 * Unicode patterns. JavaScript differs in small ways that change verdicts at the edges:
 * `\b` and `\w` are ASCII-only in JavaScript, `String.prototype.trim` strips U+FEFF (Python's
 * `str.strip()` does not) but not U+001C–U+001F or U+0085 (Python's does), and there is no
 * `str.isupper()`. Every check in this folder goes through these helpers instead.
 */

/** Python's whitespace set (`str.isspace()`), as a regular-expression class body. */
const pythonSpaceClass =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/** Python's `\s` for `str` patterns. */
export const pythonSpace = `[${pythonSpaceClass}]`;

/** Python's `\S` for `str` patterns. */
export const pythonNonSpace = `[^${pythonSpaceClass}]`;

/** Python's `\w` for `str` patterns: letters, numbers (any Unicode category N) and `_`. */
export const pythonWordCharacter = "[\\p{L}\\p{N}_]";

const spaceRun = new RegExp(`${pythonSpace}+`, "u");

/** Whether one UTF-16 unit is Python whitespace (`str.isspace()`; every such character is in the BMP). */
export function isPythonSpace(character: string): boolean {
  const code = character.charCodeAt(0);
  return (
    (code >= 0x09 && code <= 0x0d) ||
    (code >= 0x1c && code <= 0x20) ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/**
 * `text.rstrip()` with no argument. A loop, not `/\s+$/`: that regex retries every whitespace
 * run to its end, quadratic on 190 kB of spaces followed by one letter.
 */
export function pythonRightStrip(text: string): string {
  let end = text.length;
  while (end > 0 && isPythonSpace(text[end - 1]!)) end -= 1;
  return text.slice(0, end);
}

/** `text.lstrip()` with no argument. */
export function pythonLeftStrip(text: string): string {
  let start = 0;
  while (start < text.length && isPythonSpace(text[start]!)) start += 1;
  return text.slice(start);
}

/** `text.strip()` with no argument (linear). */
export function pythonStrip(text: string): string {
  return pythonLeftStrip(pythonRightStrip(text));
}

/** `text.strip(characters)`: removes any of `characters` from both ends. */
export function pythonStripCharacters(text: string, characters: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && characters.includes(text[start]!)) start += 1;
  while (end > start && characters.includes(text[end - 1]!)) end -= 1;
  return text.slice(start, end);
}

/** `text.lstrip(characters)`. */
export function pythonLeftStripCharacters(text: string, characters: string): string {
  let start = 0;
  while (start < text.length && characters.includes(text[start]!)) start += 1;
  return text.slice(start);
}

/** `text.rstrip(characters)`. */
export function pythonRightStripCharacters(text: string, characters: string): string {
  let end = text.length;
  while (end > 0 && characters.includes(text[end - 1]!)) end -= 1;
  return text.slice(0, end);
}

/** `text.split()` with no argument: split on whitespace runs, drop empty pieces. */
export function pythonSplitWhitespace(text: string): string[] {
  return text.split(spaceRun).filter((piece) => piece !== "");
}

const upper = /\p{Uppercase}/u;
const lower = /\p{Lowercase}/u;
const titlecase = /\p{Lt}/u;

/**
 * `text.isupper()`: at least one cased character, and every cased character uppercase
 * (a lowercase or titlecase character makes it false).
 */
export function pythonIsUpper(text: string): boolean {
  return upper.test(text) && !lower.test(text) && !titlecase.test(text);
}

/** `text.islower()`: at least one cased character, and every cased character lowercase. */
export function pythonIsLower(text: string): boolean {
  return lower.test(text) && !upper.test(text) && !titlecase.test(text);
}

/** Python's `\b` for `str` patterns (a `\w`/`\W` transition), usable inside a `u` regex. */
export const pythonWordBoundary = `(?:(?<=${pythonWordCharacter})(?!${pythonWordCharacter})|(?<!${pythonWordCharacter})(?=${pythonWordCharacter}))`;

/** Escapes `text` so that it matches literally inside a regular expression. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/**
 * The reference passes user-supplied keywords straight to `re.search(keyword, ...)`, so a
 * keyword is a regular expression there. We compile it as one too (case-insensitive, Unicode),
 * and fall back to a literal match when the text is not a valid JavaScript pattern (Python
 * would raise `re.error` on most such inputs; a literal match is the useful reading).
 */
export function keywordPattern(params: { keyword: string; flags: string }): RegExp {
  try {
    return new RegExp(params.keyword, params.flags);
  } catch {
    return new RegExp(escapeRegExp(params.keyword), params.flags);
  }
}

/** `len(re.findall(keyword, text, flags=re.IGNORECASE))`. */
export function countKeywordMatches(params: { keyword: string; text: string }): number {
  const pattern = keywordPattern({ keyword: params.keyword, flags: "giu" });
  let count = 0;
  for (const match of params.text.matchAll(pattern)) {
    count += 1;
    if (match[0] === "" && count > params.text.length + 1) break;
  }
  return count;
}

/** `re.search(keyword, text, flags=re.IGNORECASE) is not None`. */
export function containsKeyword(params: { keyword: string; text: string }): boolean {
  return keywordPattern({ keyword: params.keyword, flags: "iu" }).test(params.text);
}

/** `collections.Counter(text)[character]`: occurrences of one code point. */
export function countCharacter(params: { text: string; character: string }): number {
  let count = 0;
  for (const character of params.text) if (character === params.character) count += 1;
  return count;
}

/** Python's `str.count(sub)`: non-overlapping occurrences (`len(text) + 1` for the empty string). */
export function pythonCount(params: { text: string; substring: string }): number {
  if (params.substring === "") return [...params.text].length + 1;
  return params.text.split(params.substring).length - 1;
}

/** Reverses by code point, like Python's `text[::-1]`. */
export function reverseCodePoints(text: string): string {
  return [...text].reverse().join("");
}

/**
 * The number of non-overlapping matches of `open[^\n]*?close` (as `re.findall` counts them),
 * in one linear pass: from each opening delimiter, the first closing delimiter on the same
 * line ends the match; when a line has no closing delimiter after an opening one, no later
 * opening delimiter on that line can match either, so the scan skips to the next line. (The
 * regex retried every opening delimiter to the end of the line: 150,000 "[" ran past 5 s.)
 */
export function countDelimitedSpans(params: { text: string; open: string; close: string }): number {
  const { text, open, close } = params;
  // Cached next newline / closing delimiter (-1: none left), so no stretch is searched twice.
  let newline = -2;
  let closing = -2;
  const nextNewline = (from: number) => {
    if (newline === -2 || (newline !== -1 && newline < from)) newline = text.indexOf("\n", from);
    return newline;
  };
  const nextClosing = (from: number) => {
    if (closing === -2 || (closing !== -1 && closing < from)) closing = text.indexOf(close, from);
    return closing;
  };
  let count = 0;
  let position = 0;
  for (;;) {
    const start = text.indexOf(open, position);
    if (start < 0) return count;
    const lineEnd = nextNewline(start);
    const end = nextClosing(start + open.length);
    if (end >= 0 && (lineEnd < 0 || end + close.length <= lineEnd)) {
      count += 1;
      position = end + close.length;
    } else {
      if (lineEnd < 0) return count;
      position = lineEnd + 1;
    }
  }
}

const visibleCharacter = /[^\p{White_Space}\p{Cc}\p{Cf}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;

/**
 * Whether `text` has at least one visible character: one that is not Unicode whitespace, a
 * control (Cc, e.g. NUL), a format character (Cf, e.g. U+200B, U+FEFF), a lone surrogate or
 * a default-ignorable code point (e.g. U+FE0F, U+115F). One pass of a single character class.
 * A deliberate deviation from the references (Python's `strip()` keeps U+200B and NUL, so a
 * response made only of them "followed" `punctuation:no_comma` there): see README.md.
 */
export function hasVisibleCharacter(text: string): boolean {
  return visibleCharacter.test(text);
}
