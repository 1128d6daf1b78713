/**
 * The outer structure of an answer, read by bracket depth: unions of intervals, sets,
 * bracketed tuples/intervals, bare comma lists, `\pm` pairs, equations, inequality chains, or
 * a scalar. Order rules follow from the structure: sets, bare lists and `\pm` pairs are
 * unordered, tuples and intervals ordered.
 */

/** A comparison operator after normalisation (`\le`, `\leq`, `<=`, `\leqslant` → `<=`). */
export type RelationOperator = "<" | "<=" | ">" | ">=" | "!=";

export type AnswerStructure =
  | { kind: "scalar"; latex: string }
  | { kind: "set"; items: AnswerStructure[] }
  /** A bare comma list; `raw` keeps the text so "1,234" / "2,74" can be read as one number. */
  | { kind: "list"; items: AnswerStructure[]; raw: string }
  | { kind: "bracketed"; open: "(" | "["; close: ")" | "]"; items: AnswerStructure[] }
  | { kind: "union"; items: AnswerStructure[] }
  | { kind: "equation"; left: string; right: AnswerStructure }
  /** `sides[0] operators[0] sides[1] operators[1] sides[2] …` (no `=` among the operators). */
  | { kind: "relation"; sides: string[]; operators: RelationOperator[] };

/** Inputs nested deeper than this are rejected before any parsing (5,000 braces never recurse). */
export const maximumNesting = 50;
/** At most this many `\pm` are expanded in one scalar (2^3 = 8 values). */
export const maximumPlusMinus = 3;

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

/** Relation tokens, longest first, with what they normalise to (`=` and `≈` included). */
const relationTokens: Array<[string, RelationOperator | "=" | "~"]> = [
  ["\\leqslant", "<="],
  ["\\geqslant", ">="],
  ["\\approx", "~"],
  ["\\neq", "!="],
  ["\\leq", "<="],
  ["\\geq", ">="],
  ["\\ne", "!="],
  ["\\le", "<="],
  ["\\ge", ">="],
  ["\\lt", "<"],
  ["\\gt", ">"],
  ["<=", "<="],
  [">=", ">="],
  ["!=", "!="],
  ["≤", "<="],
  ["≥", ">="],
  ["≠", "!="],
  ["≈", "~"],
  ["<", "<"],
  [">", ">"],
  ["=", "="],
];

interface Piece {
  text: string;
  /** The separator that ended this piece (undefined for the last). */
  separator?: string;
}

/**
 * Splits at top-level (bracket depth 0) occurrences of `separators` (each matched as a whole
 * command: `\le` never matches inside `\left`). Linear in the text length times separators.
 */
function splitTopLevel(text: string, separators: readonly string[]): Piece[] {
  const pieces: Piece[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (character === "\\" && (text[index + 1] === "{" || text[index + 1] === "}")) {
      depth += text[index + 1] === "{" ? 1 : -1;
      index += 1;
      continue;
    }
    if (character === "{" || character === "(" || character === "[") {
      depth += 1;
      continue;
    }
    if (character === "}" || character === ")" || character === "]") {
      depth -= 1;
      continue;
    }
    if (depth !== 0) continue;
    const separator = separators.find(
      (candidate) =>
        text.startsWith(candidate, index) &&
        !(candidate.startsWith("\\") && /[A-Za-z]/.test(text[index + candidate.length] ?? "")),
    );
    if (separator === undefined) {
      // Skip the rest of a command name so "\left" is not read as "\le" + "ft".
      if (character === "\\") while (/[A-Za-z]/.test(text[index + 1] ?? "")) index += 1;
      continue;
    }
    pieces.push({ text: text.slice(start, index), separator });
    start = index + separator.length;
    index += separator.length - 1;
  }
  pieces.push({ text: text.slice(start) });
  return pieces;
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

/**
 * Items of a bracketed list; inside brackets ";" separates like "," ("(0;-2;6)"). An item
 * `a \pm b` contributes its two values (`\{1 \pm \sqrt{5}, -2\}` has three elements).
 */
const commaItems = (inner: string) =>
  flattenPlusMinus(splitTopLevel(inner, [",", ";"]).map((piece) => parseStructure({ latex: piece.text })));

function flattenPlusMinus(items: AnswerStructure[]): AnswerStructure[] {
  return items.flatMap((item) =>
    item.kind === "list" && /\\(?:pm|mp)(?![A-Za-z])/.test(item.raw) && !item.raw.includes(",")
      ? item.items
      : [item],
  );
}

/** `a \pm b` → the two values `a + b`, `a - b` (each `\pm` / `\mp` doubles the list). */
function expandPlusMinus(text: string): string[] | undefined {
  const pieces = splitTopLevel(text, ["\\pm", "\\mp"]);
  if (pieces.length === 1 || pieces.length - 1 > maximumPlusMinus) return undefined;
  let values = [""];
  for (const piece of pieces) {
    const part = piece.text.trim();
    const next: string[] = [];
    for (const value of values) {
      const withPart = value === "" ? part : `${value}(${part})`;
      if (piece.separator === undefined) next.push(withPart);
      else {
        const [first, second] = piece.separator === "\\pm" ? ["+", "-"] : ["-", "+"];
        next.push(`${withPart}${first}`, `${withPart}${second}`);
      }
    }
    values = next;
  }
  return values.map((value) => value.replace(/^\(\)/, "").trim());
}

/** Reads the structure of a cleaned answer. */
export function parseStructure(params: { latex: string }): AnswerStructure {
  const text = params.latex.trim();
  // "x \in S" is S.
  const membership = /^((?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?)\s*\\in(?![A-Za-z])\s*(.+)$/s.exec(
    text,
  );
  if (membership !== null) return parseStructure({ latex: membership[2] ?? "" });
  const union = splitTopLevel(text, ["\\cup"]);
  if (union.length > 1) {
    return { kind: "union", items: union.map((piece) => parseStructure({ latex: piece.text })) };
  }
  if (text.startsWith("\\{") && text.endsWith("\\}") && enclosesWhole(text, 2, 2)) {
    const inner = text.slice(2, -2).trim();
    return { kind: "set", items: inner === "" ? [] : commaItems(inner) };
  }
  const open = text[0];
  const close = text[text.length - 1];
  if ((open === "(" || open === "[") && (close === ")" || close === "]") && enclosesWhole(text, 1, 1)) {
    const items = commaItems(text.slice(1, -1));
    if (items.length > 1) return { kind: "bracketed", open, close, items };
  }
  // A bare LaTeX group "{1,3}" only groups: its content is a bare list (a set against a set
  // gold, in order against a tuple gold).
  if (open === "{" && close === "}" && enclosesWhole(text, 1, 1))
    return parseStructure({ latex: text.slice(1, -1) });
  // ";" separates solutions ("-12;-11", "p=5,q=2;p=7,q=2"); each may itself be a list.
  const solutions = splitTopLevel(text, [";"]);
  if (solutions.length > 1) {
    return {
      kind: "list",
      items: solutions.map((piece) => parseStructure({ latex: piece.text })),
      raw: text,
    };
  }
  const parts = splitTopLevel(text, [","]);
  if (parts.length > 1) {
    return {
      kind: "list",
      items: flattenPlusMinus(parts.map((piece) => parseStructure({ latex: piece.text }))),
      raw: text,
    };
  }
  const relation = parseRelation(text);
  if (relation !== undefined) return relation;
  const expanded = expandPlusMinus(text);
  if (expanded !== undefined) {
    return {
      kind: "list",
      items: expanded.map((value) => ({ kind: "scalar", latex: value })),
      raw: text,
    };
  }
  return { kind: "scalar", latex: text };
}

/**
 * Equations and inequalities. `≈` keeps its exact side: `x \approx 11` → `x = 11`,
 * `x = 1/3 \approx 0.33` → `x = 1/3`. A chain of `=` (`x = 5+5+1 = 11`) answers with its
 * first and last sides. Mixed `=`/inequality chains keep the inequalities only.
 */
function parseRelation(text: string): AnswerStructure | undefined {
  const pieces = splitTopLevel(
    text,
    relationTokens.map(([token]) => token),
  );
  if (pieces.length === 1) return undefined;
  const normalised = (separator: string | undefined) =>
    relationTokens.find(([token]) => token === separator)?.[1];
  const approximate = pieces.findIndex((piece) => normalised(piece.separator) === "~");
  if (approximate >= 0) {
    const before = pieces.slice(0, approximate + 1);
    if (before.length === 1 && isNamingSide(before[0]?.text ?? "")) {
      const rest = pieces
        .slice(approximate + 1)
        .map((piece) => `${piece.text}${piece.separator ?? ""}`)
        .join("");
      return parseStructure({ latex: `${before[0]?.text ?? ""}=${rest}` });
    }
    const kept = before
      .map((piece, index) => `${piece.text}${index < before.length - 1 ? (piece.separator ?? "") : ""}`)
      .join("");
    return parseStructure({ latex: kept });
  }
  const sides = pieces.map((piece) => piece.text.trim());
  if (sides.some((side) => side === "")) return { kind: "scalar", latex: text };
  const operators = pieces.slice(0, -1).map((piece) => normalised(piece.separator));
  if (operators.every((operator) => operator === "=")) {
    return {
      kind: "equation",
      left: sides[0] ?? "",
      right: parseStructure({ latex: sides[sides.length - 1] ?? "" }),
    };
  }
  const keptSides: string[] = [sides[0] ?? ""];
  const keptOperators: RelationOperator[] = [];
  for (const [index, operator] of operators.entries()) {
    if (operator === "=") continue;
    keptOperators.push(operator as RelationOperator);
    keptSides.push(sides[index + 1] ?? "");
  }
  return { kind: "relation", sides: keptSides, operators: keptOperators };
}

/** An interval read from an inequality on one named quantity, or undefined. */
export function relationAsInterval(
  relation: Extract<AnswerStructure, { kind: "relation" }>,
): Extract<AnswerStructure, { kind: "bracketed" }> | undefined {
  let { sides, operators } = relation;
  if (operators.some((operator) => operator === "!=")) return undefined;
  if (operators.every((operator) => operator === ">" || operator === ">=")) {
    sides = [...sides].reverse();
    operators = [...operators].reverse().map((operator) => (operator === ">" ? "<" : "<="));
  }
  if (!operators.every((operator) => operator === "<" || operator === "<=")) return undefined;
  const scalar = (latex: string): AnswerStructure => ({ kind: "scalar", latex });
  const strict = (operator: RelationOperator | undefined) => operator === "<";
  if (sides.length === 3 && isNamingSide(sides[1] ?? "")) {
    return {
      kind: "bracketed",
      open: strict(operators[0]) ? "(" : "[",
      close: strict(operators[1]) ? ")" : "]",
      items: [scalar(sides[0] ?? ""), scalar(sides[2] ?? "")],
    };
  }
  if (sides.length !== 2) return undefined;
  if (isNamingSide(sides[0] ?? "")) {
    return {
      kind: "bracketed",
      open: "(",
      close: strict(operators[0]) ? ")" : "]",
      items: [scalar("-\\infty"), scalar(sides[1] ?? "")],
    };
  }
  if (isNamingSide(sides[1] ?? "")) {
    return {
      kind: "bracketed",
      open: strict(operators[0]) ? "(" : "[",
      close: ")",
      items: [scalar(sides[0] ?? ""), scalar("\\infty")],
    };
  }
  return undefined;
}

/**
 * A left-hand side that merely names the answer, as Math-Verify's "assignment": an expression
 * of names only, with no numeral outside subscripts — `x`, `a_1`, `\theta`, `f(x)`, `AB`,
 * `|AB|`, `A:B`, `V_1:V_2`, `\frac{NO}{BO}`, `x+y`, or a tuple of names `(p, q, r)`. `7`,
 * `2x+z`, `a^2+b`, `\pi` and `\infty` are not names.
 */
export function isNamingSide(latex: string): boolean {
  const trimmed = latex.trim();
  if (trimmed === "" || trimmed.length > 60) return false;
  const withoutSubscripts = trimmed.replace(/_\{[^{}]*\}|_[A-Za-z0-9]/g, "");
  if (/\d/.test(withoutSubscripts)) return false;
  const commands = withoutSubscripts.match(/\\[A-Za-z]+/g) ?? [];
  const allowedCommands =
    /^\\(?:frac|dfrac|tfrac|cdot|times|left|right|angle|overline|mathrm|text|operatorname|alpha|beta|gamma|delta|theta|lambda|mu|sigma|phi|varphi|omega|rho|tau|psi|xi|eta|zeta|epsilon|varepsilon|kappa|nu|chi|Delta|Gamma|Theta|Lambda|Sigma|Phi|Omega|triangle|vec|hat|bar|tilde)$/;
  if (!commands.every((command) => allowedCommands.test(command))) return false;
  const rest = withoutSubscripts.replace(/\\[A-Za-z]+/g, "");
  return /[A-Za-z\\]/.test(withoutSubscripts) && /^[A-Za-z\s:/|(){}+\-*,'^]*$/.test(rest) && !/\^/.test(rest);
}
