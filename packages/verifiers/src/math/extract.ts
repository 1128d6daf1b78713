/**
 * Answer extraction from a model's math output, following open-instruct / lm-evaluation-
 * harness (Minerva) conventions, with the candidates recorded so a verdict can be explained.
 */

/** Where an extracted answer came from. */
export type MathAnswerSource = "boxed" | "minerva" | "dollars" | "whole_output";

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

/**
 * Every `\boxed{…}` / `\fbox{…}` (nested braces allowed) and `\boxed X` (space form, up to
 * the next `$` or line end), in order of appearance. Unclosed boxes are skipped. Linear time.
 */
export function extractBoxedContents(params: { text: string }): string[] {
  const { text } = params;
  const found: string[] = [];
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
      found.push(text.slice(cursor + 1, close));
      index = close + 1;
      continue;
    }
    if (text[cursor] === " ") {
      while (text[cursor] === " ") cursor += 1;
      let end = cursor;
      while (end < text.length && text[end] !== "$" && text[end] !== "\n") end += 1;
      const inner = text.slice(cursor, end).trim();
      if (inner !== "") found.push(inner);
      index = end;
      continue;
    }
    index = cursor;
  }
  return found;
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

/**
 * Extracts the answer of a math response.
 *
 * - `flex` (open-instruct `math`): candidates in order — the last `\boxed{}` / `\fbox{}`, the
 *   Minerva "Final Answer: The final answer is X. I hope it is correct." form, then (only when
 *   neither exists) the text between the last two `$`, else the whole output.
 * - `strict` (`strict_math`): the Minerva form only (open-instruct also falls back to the
 *   Minerva-normalised whole output, which unwraps any `$…$`: not strict, so we do not).
 *
 * `extracted` is the first candidate; all are listed in `candidates`.
 */
export function extractMathAnswer(params: { response: string; mode?: "flex" | "strict" }): MathExtraction {
  const { response } = params;
  const mode = params.mode ?? "flex";
  const candidates: MathCandidate[] = [];
  const boxed = extractBoxedContents({ text: response });
  if (mode === "flex") {
    const last = boxed[boxed.length - 1];
    if (last !== undefined) candidates.push({ source: "boxed", text: last });
  }
  const minerva = extractMinervaAnswer({ text: response });
  if (minerva !== undefined) candidates.push({ source: "minerva", text: minerva });
  if (mode === "flex" && candidates.length === 0) {
    const dollars = extractLastDollarAnswer({ text: response });
    if (dollars !== undefined) candidates.push({ source: "dollars", text: dollars });
  }
  if (mode === "flex" && candidates.length === 0 && response.trim() !== "")
    candidates.push({ source: "whole_output", text: response.trim() });
  const first = candidates[0];
  return { extracted: first?.text, source: first?.source, candidates, boxed };
}
