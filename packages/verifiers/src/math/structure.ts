/**
 * The outer structure of an answer, read by bracket depth: unions of intervals, sets,
 * bracketed tuples/intervals, bare comma lists, equations, or a scalar. Order rules follow
 * from the structure: sets and bare lists are unordered, tuples and intervals ordered.
 */

export type AnswerStructure =
  | { kind: "scalar"; latex: string }
  | { kind: "set"; items: AnswerStructure[] }
  | { kind: "list"; items: AnswerStructure[] }
  | { kind: "bracketed"; open: "(" | "["; close: ")" | "]"; items: AnswerStructure[] }
  | { kind: "union"; items: AnswerStructure[] }
  | { kind: "equation"; left: string; right: AnswerStructure };

/** Inputs nested deeper than this are rejected before any parsing (5,000 braces never recurse). */
export const maximumNesting = 50;

/** The deepest bracket nesting in `text` (`{`, `(`, `[` against `}`, `)`, `]`). */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (const character of text) {
    if (character === "{" || character === "(" || character === "[") {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (character === "}" || character === ")" || character === "]") depth -= 1;
  }
  return deepest;
}

/** Splits at `separator` occurrences that are at bracket depth 0. */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (character === "\\" && (text[index + 1] === "{" || text[index + 1] === "}")) {
      depth += text[index + 1] === "{" ? 1 : -1;
      index += 1;
      continue;
    }
    if (character === "{" || character === "(" || character === "[") depth += 1;
    else if (character === "}" || character === ")" || character === "]") depth -= 1;
    else if (depth === 0 && text.startsWith(separator, index)) {
      const before = text[index - 1];
      // A comparison like "\le=" or "\ne" never reaches here; "\neq" and "\geq" are kept.
      if (separator === "=" && (before === "<" || before === ">" || before === "!")) continue;
      parts.push(text.slice(start, index));
      start = index + separator.length;
      index += separator.length - 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** True when the bracket opened at index 0 closes exactly at the last character. */
function enclosesWhole(text: string, openLength: number, closeLength: number): boolean {
  let depth = 0;
  const end = text.length - closeLength;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (character === "\\" && (text[index + 1] === "{" || text[index + 1] === "}")) {
      depth += text[index + 1] === "{" ? 1 : -1;
      if (depth === 0 && index + 1 < end) return false;
      index += 1;
      continue;
    }
    if (character === "{" || character === "(" || character === "[") depth += 1;
    else if (character === "}" || character === ")" || character === "]") {
      depth -= 1;
      if (depth === 0 && index < text.length - 1) return false;
    }
    if (index === 0 && openLength > 1) index += openLength - 1;
  }
  return depth === 0;
}

/** Reads the structure of a cleaned answer. */
export function parseStructure(params: { latex: string }): AnswerStructure {
  const text = params.latex.trim();
  const union = splitTopLevel(text, "\\cup");
  if (union.length > 1) return { kind: "union", items: union.map((part) => parseStructure({ latex: part })) };
  if (text.startsWith("\\{") && text.endsWith("\\}") && enclosesWhole(text, 2, 2)) {
    const inner = text.slice(2, -2).trim();
    const items =
      inner === "" ? [] : splitTopLevel(inner, ",").map((part) => parseStructure({ latex: part }));
    return { kind: "set", items };
  }
  const open = text[0];
  const close = text[text.length - 1];
  if ((open === "(" || open === "[") && (close === ")" || close === "]") && enclosesWhole(text, 1, 1)) {
    const parts = splitTopLevel(text.slice(1, -1), ",");
    if (parts.length > 1) {
      return { kind: "bracketed", open, close, items: parts.map((part) => parseStructure({ latex: part })) };
    }
  }
  const parts = splitTopLevel(text, ",");
  if (parts.length > 1) return { kind: "list", items: parts.map((part) => parseStructure({ latex: part })) };
  const sides = splitTopLevel(text, "=");
  if (sides.length === 2) {
    return {
      kind: "equation",
      left: (sides[0] ?? "").trim(),
      right: parseStructure({ latex: sides[1] ?? "" }),
    };
  }
  return { kind: "scalar", latex: text };
}

/** A left-hand side that merely names the answer: `x`, `k`, `a_1`, `x_{n}`, `\theta`, `f(x)`. */
export function isNamingSide(latex: string): boolean {
  return /^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?(?:\([A-Za-z]\))?$/.test(latex.trim());
}
