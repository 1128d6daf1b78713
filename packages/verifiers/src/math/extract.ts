/**
 * Answer extraction from a model's math output, following open-instruct / lm-evaluation-
 * harness (Minerva) conventions, with the candidates recorded so a verdict can be explained.
 */

/** Where an extracted answer came from. */
export type MathAnswerSource =
  | "boxed"
  | "minerva"
  | "dollars"
  | "whole_output"
  | "answer_sentence"
  | "latex_environment"
  | "last_number";

export interface MathCandidate {
  source: MathAnswerSource;
  /** The answer text as extracted (before normalisation). */
  text: string;
}

export interface MathExtraction {
  /** The answer that is judged: the first candidate, or undefined when nothing was found. */
  extracted: string | undefined;
  source: MathAnswerSource | undefined;
  /** Every candidate, in the order open-instruct tries them. */
  candidates: MathCandidate[];
  /** The contents of every `\boxed{}` / `\fbox{}` in the response, in order. */
  boxed: string[];
}

const boxCommands = ["\\boxed", "\\fbox"] as const;

/**
 * For every `{` in `text`, the index of its matching `}` (−1 when it never closes), from one
 * stack pass: linear, so thousands of unclosed boxes cannot make extraction quadratic.
 */
function matchingBraces(text: string): Int32Array {
  const closing = new Int32Array(text.length).fill(-1);
  const stack: number[] = [];
  for (let index = 0; index < text.length; index += 1) {
    const character = text.charCodeAt(index);
    if (character === 123) stack.push(index);
    else if (character === 125) {
      const open = stack.pop();
      if (open !== undefined) closing[open] = index;
    }
  }
  return closing;
}

/** One `\boxed{}` / `\fbox{}` and where it sits in the text (`end` is exclusive). */
interface Box {
  content: string;
  start: number;
  end: number;
}

/** Every box with its position, in order (see {@link extractBoxedContents}). Linear time. */
function scanBoxes(text: string): Box[] {
  const found: Box[] = [];
  let closing: Int32Array | undefined;
  const nextOf = new Map<string, number>(boxCommands.map((command) => [command, text.indexOf(command)]));
  let index = 0;
  for (;;) {
    let next = -1;
    let command = "";
    for (const candidate of boxCommands) {
      let position = nextOf.get(candidate) ?? -1;
      if (position >= 0 && position < index) {
        position = text.indexOf(candidate, index);
        nextOf.set(candidate, position);
      }
      if (position >= 0 && (next < 0 || position < next)) {
        next = position;
        command = candidate;
      }
    }
    if (next < 0) break;
    let cursor = next + command.length;
    if (text[cursor] === "{") {
      closing ??= matchingBraces(text);
      const close = closing[cursor] ?? -1;
      if (close < 0) {
        index = cursor;
        continue;
      }
      found.push({ content: text.slice(cursor + 1, close), start: next, end: close + 1 });
      index = close + 1;
      continue;
    }
    if (text[cursor] === " ") {
      while (text[cursor] === " ") cursor += 1;
      let end = cursor;
      while (end < text.length && text[end] !== "$" && text[end] !== "\n") end += 1;
      const inner = text.slice(cursor, end).trim();
      if (inner !== "") found.push({ content: inner, start: next, end });
      index = end;
      continue;
    }
    index = cursor;
  }
  return found;
}

/**
 * Every `\boxed{…}` / `\fbox{…}` (nested braces allowed) and `\boxed X` (space form, up to
 * the next `$` or line end), in order of appearance. Unclosed boxes are skipped. Linear time.
 */
export function extractBoxedContents(params: { text: string }): string[] {
  return scanBoxes(params.text).map((box) => box.content);
}

/**
 * Text allowed between boxes of one answer set: `,`, "and", "or", `$`, `\(`/`\)`, spacing, and
 * the name of the next value (`x = \boxed{2}` and `y = \boxed{3}`).
 */
const boxJoiner =
  /^(?:\s|\$|\\[()[\]]|,|\\[,;:! ]|\\q?quad(?![A-Za-z])|\band\b|\bor\b|\\(?:text|textnormal|mbox)\{\s*(?:and|or|,)?\s*\}|(?:\b[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?\s*=)*$/;

/**
 * The last group of boxes that together state one answer: consecutive boxes separated only
 * by commas, "and", "or" and math delimiters (`\boxed{1}, \boxed{2}` or `$\boxed{1}$ and
 * $\boxed{2}$`), as Math-Verify joins LaTeX environments. Distinct contents, in order.
 */
export function lastBoxGroup(params: { text: string }): string[] {
  const boxes = scanBoxes(params.text);
  const group: Box[] = [];
  for (let index = boxes.length - 1; index >= 0; index -= 1) {
    const box = boxes[index] as Box;
    const following = group[0];
    if (following !== undefined && !boxJoiner.test(params.text.slice(box.end, following.start))) break;
    group.unshift(box);
  }
  return [...new Set(group.map((box) => box.content.trim()))];
}

/** A group of answers as one answer text: the single answer, or the set `\{a, b\}`. */
export function joinAnswerGroup(group: readonly string[]): string | undefined {
  if (group.length <= 1) return group[0];
  return `\\{${group.join(", ")}\\}`;
}

/** The content of the last `\boxed{}` / `\fbox{}` in `text`, or undefined. */
export function lastBoxedContent(params: { text: string }): string | undefined {
  const all = extractBoxedContents(params);
  return all[all.length - 1];
}

const minervaPrefix = "Final Answer: The final answer is";
const minervaSuffix = "I hope it is correct.";

/**
 * The Minerva answer: the text between "Final Answer: The final answer is" and the next
 * "<any character> I hope it is correct." on the same line (the reference's regex
 * `Final Answer: The final answer is(.*?). I hope it is correct.`, whose `.` excludes only a
 * newline; "I hope it is correct." is appended first, so the sentence may end the text
 * unfinished). The first match counts. Undefined when absent (the reference's
 * "[invalidanswer]"). Linear time: a line of 5,000 prefixes without the suffix costs one scan,
 * where the backtracking regex takes seconds.
 */
export function extractMinervaAnswer(params: { text: string }): string | undefined {
  const text = `${params.text}${minervaSuffix}`;
  // The pattern's tail ". I hope it is correct." is: any character, this literal, any character.
  const literal = " I hope it is correct";
  let lineStart = 0;
  for (;;) {
    const prefix = text.indexOf(minervaPrefix, lineStart);
    if (prefix < 0) return undefined;
    lineStart = text.lastIndexOf("\n", prefix) + 1;
    let lineEnd = text.indexOf("\n", prefix);
    if (lineEnd < 0) lineEnd = text.length;
    const bodyStart = prefix + minervaPrefix.length;
    // The first prefix of a line is the only candidate there: a later one would need the same
    // tail further right. The tail needs one character before it and one after it, in the line.
    const tail = text.indexOf(literal, bodyStart + 1);
    if (tail >= 0 && tail + literal.length < lineEnd) return text.slice(bodyStart, tail - 1).trim();
    lineStart = lineEnd + 1;
    if (lineStart >= text.length) return undefined;
  }
}

/**
 * The text between the last two `$` signs (open-instruct's fallback "last LaTeX answer"),
 * or undefined when there are fewer than two.
 */
export function extractLastDollarAnswer(params: { text: string }): string | undefined {
  const { text } = params;
  const last = text.lastIndexOf("$");
  if (last <= 0) return undefined;
  const previous = text.lastIndexOf("$", last - 1);
  if (previous < 0) return undefined;
  return text.slice(previous + 1, last);
}

/** Answers longer than this are never extracted as "the whole output" or a sentence. */
const maximumPlainAnswerLength = 200;

/**
 * Every complete math environment in `text`, in order: display `\[…\]` and `$$…$$` (may span
 * lines), inline `\(…\)` and `$…$` (one line only; `\$` is an escaped dollar, not a
 * delimiter). One linear scan.
 */
export function extractLatexEnvironments(params: { text: string }): string[] {
  return scanEnvironments(params.text).map((environment) => environment.content);
}

interface Located {
  content: string;
  end: number;
}

function scanEnvironments(text: string): Located[] {
  const found: Located[] = [];
  let index = 0;
  while (index < text.length) {
    const character = text[index];
    if (character === "\\" && (text[index + 1] === "[" || text[index + 1] === "(")) {
      const closer = text[index + 1] === "[" ? "\\]" : "\\)";
      const end = text.indexOf(closer, index + 2);
      if (end < 0) {
        index += 2;
        continue;
      }
      const inner = text.slice(index + 2, end);
      if (closer === "\\]" || !inner.includes("\n")) found.push({ content: inner, end: end + 2 });
      index = end + 2;
      continue;
    }
    if (character === "\\") {
      index += 2; // an escaped character, e.g. "\$"
      continue;
    }
    if (character === "$") {
      const display = text[index + 1] === "$";
      const start = index + (display ? 2 : 1);
      let end = start;
      while (end < text.length) {
        if (text[end] === "\\") {
          end += 2;
          continue;
        }
        if (text[end] === "$") break;
        if (!display && text[end] === "\n") break;
        end += 1;
      }
      if (end >= text.length || text[end] !== "$") {
        index = end;
        continue;
      }
      index = end + (display && text[end + 1] === "$" ? 2 : 1);
      found.push({ content: text.slice(start, end), end: index });
      continue;
    }
    index += 1;
  }
  return found;
}

const answerMarkers = [/final answer is\s*:?/gi, /answer is\s*:?/gi, /final answer\s*:/gi, /\banswer\s*:/gi];

/**
 * The answer stated in an "Answer: …" / "Final Answer: …" / "the answer is …" sentence (the
 * last such sentence): a math environment that opens it, else the text up to the end of the
 * sentence, after its last " is " ("Final Answer: The largest $n$ is 34." → "34").
 */
export function extractAnswerSentence(params: { text: string }): string | undefined {
  const { text } = params;
  let best: { start: number; end: number } | undefined;
  for (const marker of answerMarkers) {
    marker.lastIndex = 0;
    let match = marker.exec(text);
    let last: RegExpExecArray | undefined;
    while (match !== null) {
      last = match;
      match = marker.exec(text);
    }
    if (last !== undefined) {
      const end = last.index + last[0].length;
      if (best === undefined || last.index > best.start) best = { start: last.index, end };
      break;
    }
  }
  if (best === undefined) return undefined;
  let rest = text.slice(best.end).replace(/^\s+/, "");
  const environments = extractLatexEnvironments({ text: rest.slice(0, 2_000) });
  const opensWithMath = /^(?:\$|\\\[|\\\()/.test(rest);
  if (opensWithMath && environments[0] !== undefined) return environments[0].trim();
  const lineEnd = rest.indexOf("\n");
  if (lineEnd >= 0) rest = rest.slice(0, lineEnd);
  const sentenceEnd = rest.search(/\.(?:\s|$)/);
  if (sentenceEnd >= 0) rest = rest.slice(0, sentenceEnd);
  const is = rest.lastIndexOf(" is ");
  if (is >= 0) rest = rest.slice(is + 4);
  rest = rest.trim();
  const inner = scanEnvironments(rest);
  if (inner.length === 1 && /^(?:\$|\\\[|\\\()/.test(rest)) return (inner[0]?.content ?? "").trim();
  if (rest === "" || rest.length > maximumPlainAnswerLength) return undefined;
  if (proseWords(rest).length > 0) {
    // A sentence in words ("Jane started growing Sphere 3 hours ago"): its last math or number.
    // The first math or number after the marker, as Math-Verify's "answer … <expression>".
    const environment = inner[0];
    const number = firstNumber(rest);
    if (environment !== undefined && (number === undefined || environment.end <= number.end))
      return environment.content.trim();
    return number?.content;
  }
  return rest;
}

/**
 * A plain-text number: sign, thousands groups (`1,234`, `1 234`, `1,\!234`), a decimal point or
 * an unambiguous decimal comma, or a simple fraction `2/3`, then an optional percent. It must
 * start the text or follow a space, `=`, `(` or a currency sign, so "AZYUK2A" holds no number.
 */
const plainNumber =
  /(?<=^|[\s=(:$€£¥₹]|\\\$)-?(?:(?:[1-9]\d{0,2}(?:(?:,\\!\s?|[ ,])\d{3}(?!\d))+|\d+)(?:[.,]\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?|\.\d+)(?:\s*(?:\\%|%|percentage\b|percent\b|pct\b))?/gi;

function scanLastNumber(text: string): Located | undefined {
  let last: Located | undefined;
  for (const match of text.matchAll(plainNumber)) {
    last = { content: match[0].trim(), end: (match.index ?? 0) + match[0].length };
  }
  return last;
}

function firstNumber(text: string): Located | undefined {
  for (const match of text.matchAll(plainNumber))
    return { content: match[0].trim(), end: (match.index ?? 0) + match[0].length };
  return undefined;
}

/** The last number written in plain text (see the pattern above), or undefined. */
export function extractLastNumber(params: { text: string }): string | undefined {
  return scanLastNumber(params.text)?.content;
}

/** Short words that are prose, not variable names. */
const shortProse = new Set(["is", "it", "so", "we", "to", "be", "of", "as", "at", "by", "an", "if", "no"]);

/**
 * Prose words: three letters or more (or a short English word) outside LaTeX commands,
 * `\text{}`-like wrappers and environment names, other than units and "percent".
 */
function proseWords(text: string): string[] {
  const bare = text
    .replace(/\\(?:begin|end)\{[A-Za-z*]+\}/g, "")
    .replace(/\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mbox|operatorname)\{[^{}]*\}/g, "")
    .replace(/\\[A-Za-z]+/g, "");
  const words = bare.match(/\b[A-Za-z']{2,}\b/g) ?? [];
  return words.filter(
    (word) =>
      (word.length >= 3 || shortProse.has(word.toLowerCase())) &&
      !/^(?:and|percent|percentage|pct|units?|meters?|miles?|inches|feet|degrees?|dollars?|cents?|hours?|minutes?|seconds?|days?|years?|cm|km|mph)$/i.test(
        word,
      ),
  );
}

/** A short one-line text with no prose words: the whole output is the answer ("x^2+1", "28 pct"). */
function isBareExpression(text: string): boolean {
  if (text === "" || text.length > maximumPlainAnswerLength || text.includes("\n")) return false;
  return proseWords(text).length === 0;
}

/**
 * The last group of math environments joined by ",", "and", "or" (`$1$ and $2$` is one answer
 * set), as one answer text with the end of the group.
 */
function lastEnvironmentGroup(text: string): Located | undefined {
  const environments = scanEnvironments(text).filter((environment) => environment.content.trim() !== "");
  const last = environments[environments.length - 1];
  if (last === undefined) return undefined;
  const group = [last.content.trim()];
  for (let index = environments.length - 2; index >= 0 && group.length < 6; index -= 1) {
    const current = environments[index] as Located;
    const next = environments[index + 1] as Located;
    const between = text.slice(current.end, next.end - next.content.length - 1);
    if (!/^\s*(?:,?\s*(?:and|or)|,)\s*[$\\([]*$/.test(between)) break;
    group.unshift(current.content.trim());
  }
  return { content: joinAnswerGroup([...new Set(group)]) ?? last.content, end: last.end };
}

/**
 * Extracts the answer of a math response.
 *
 * - `flex` (open-instruct `math`): candidates in order — the last `\boxed{}` / `\fbox{}`, the
 *   Minerva "Final Answer: The final answer is X. I hope it is correct." form, then (only when
 *   neither exists) the text between the last two `$`, else the whole output.
 * - `full` (Math-Verify-level): the last `\boxed{}` and the Minerva sentence as in `flex`;
 *   when neither exists, an "Answer:" / "the answer is" sentence; else the last math
 *   environment (`\[…\]`, `$$…$$`, `\(…\)`, `$…$`); else the whole output when short
 *   (≤ 200 characters, one line) followed by the last plain number.
 * - `strict` (`strict_math`): the Minerva form only (open-instruct also falls back to the
 *   Minerva-normalised whole output, which unwraps any `$…$`: not strict, so we do not).
 *
 * `extracted` is the first candidate; all are listed in `candidates`.
 */
export function extractMathAnswer(params: {
  response: string;
  mode?: "flex" | "strict" | "full";
}): MathExtraction {
  const { response } = params;
  const mode = params.mode ?? "flex";
  const candidates: MathCandidate[] = [];
  const boxed = extractBoxedContents({ text: response });
  if (mode === "flex") {
    const last = boxed[boxed.length - 1];
    if (last !== undefined) candidates.push({ source: "boxed", text: last });
  }
  if (mode === "full") {
    const group = joinAnswerGroup(lastBoxGroup({ text: response }));
    if (group !== undefined) candidates.push({ source: "boxed", text: group });
  }
  const minerva = extractMinervaAnswer({ text: response });
  if (minerva !== undefined) candidates.push({ source: "minerva", text: minerva });
  if (mode === "flex" && candidates.length === 0) {
    const dollars = extractLastDollarAnswer({ text: response });
    if (dollars !== undefined) candidates.push({ source: "dollars", text: dollars });
  }
  if (mode === "full" && candidates.length === 0) {
    const sentence = extractAnswerSentence({ text: response });
    if (sentence !== undefined) candidates.push({ source: "answer_sentence", text: sentence });
  }
  if (mode === "full" && candidates.length === 0) {
    const trimmed = response.trim();
    if (isBareExpression(trimmed)) candidates.push({ source: "whole_output", text: trimmed });
    else {
      // The rightmost of the last math environment and the last plain number (Math-Verify's
      // lowest-priority rule: the match that ends last wins).
      const environment = lastEnvironmentGroup(response);
      const number = scanLastNumber(response);
      const pick =
        environment === undefined || (number !== undefined && number.end > environment.end)
          ? number === undefined
            ? undefined
            : { source: "last_number" as const, text: number.content }
          : { source: "latex_environment" as const, text: environment.content };
      if (pick !== undefined && pick.text.trim() !== "") candidates.push(pick);
    }
  }
  if (mode === "flex" && candidates.length === 0 && response.trim() !== "")
    candidates.push({ source: "whole_output", text: response.trim() });
  const first = candidates[0];
  return { extracted: first?.text, source: first?.source, candidates, boxed };
}

/**
 * The gold answer of a label, as Math-Verify parses gold: the last `\boxed{}` when the label
 * has one (several distinct boxes form one set `\{a, b\}`), the answer extracted like a
 * response (`full` mode) when the label is a whole solution text, else the label itself.
 */
export function extractGoldAnswer(params: { label: string }): string {
  const label = params.label.trim();
  const group = joinAnswerGroup(lastBoxGroup({ text: label }));
  if (group !== undefined) return group;
  const isSolution = label.includes("\n") || proseWords(label).length >= 4 || /answer/i.test(label);
  if (!isSolution) return label;
  const extraction = extractMathAnswer({ response: label, mode: "full" });
  return extraction.extracted ?? label;
}
