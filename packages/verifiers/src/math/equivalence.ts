/**
 * Gold-first mathematical equivalence (the asymmetric design of Math-Verify): the gold
 * answer decides the structure that the predicted answer must have.
 */
import { VerifierTimeoutError } from "../errors.js";
import { casEquivalent, casProportional } from "./cas.js";
import { cleanAnswer } from "./clean-answer.js";
import { normalizeFinalAnswer } from "./normalize-final-answer.js";
import { hendrycksIsEquivalent } from "./strip-string.js";
import {
  type AnswerStructure,
  isNamingSide,
  maximumNesting,
  nestingDepth,
  parseStructure,
  type RelationOperator,
  relationAsInterval,
} from "./structure.js";

export interface MathEquivalence {
  equivalent: boolean;
  /** Which rule decided, e.g. `exact`, `normalized`, `cas_numeric`, `structure_mismatch`. */
  method: string;
}

/** Answers longer than this are never parsed (a real final answer is far shorter). */
export const maximumAnswerLength = 1_000;

interface Budget {
  deadline: number | undefined;
  timeoutMilliseconds: number | undefined;
}

function checkBudget(budget: Budget): void {
  if (budget.deadline !== undefined && Date.now() > budget.deadline) {
    throw new VerifierTimeoutError({ timeoutMilliseconds: budget.timeoutMilliseconds ?? 0 });
  }
}

const withoutSpaces = (text: string) => text.replace(/\s+/g, "");

function scalarEquivalent(gold: string, answer: string, budget: Budget): MathEquivalence {
  if (withoutSpaces(gold) === withoutSpaces(answer)) return { equivalent: true, method: "normalized" };
  // Two integers: exact comparison, no CAS (a set of many integers stays cheap).
  const integer = /^\s*[-+]?\d{1,300}\s*$/;
  if (integer.test(gold) && integer.test(answer))
    return { equivalent: BigInt(gold.trim()) === BigInt(answer.trim()), method: "integer" };
  if (/^[A-Za-z][A-Za-z ]+$/.test(gold) && gold.toLowerCase() === answer.toLowerCase()) {
    return { equivalent: true, method: "text_case_insensitive" };
  }
  if (hendrycksIsEquivalent({ first: gold, second: answer }))
    return { equivalent: true, method: "hendrycks" };
  checkBudget(budget);
  const verdict = casEquivalent({ gold, answer });
  checkBudget(budget);
  return verdict;
}

/** Unordered comparison: a perfect matching of gold items to answer items (small n). */
/** Items written identically count once ("(3,17,3,7)" listed twice is one solution). */
function distinctItems(items: AnswerStructure[]): AnswerStructure[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = JSON.stringify(item).replace(/\s+/g, "");
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Most items an unordered comparison accepts (a longer answer is a dump, not a solution set). */
export const maximumSetItems = 64;

function unorderedEquivalent(
  goldItems: AnswerStructure[],
  answerItems: AnswerStructure[],
  budget: Budget,
): boolean {
  if (answerItems.length > maximumSetItems || goldItems.length > maximumSetItems) return false;
  const gold = distinctItems(goldItems);
  const answer = distinctItems(answerItems);
  if (gold.length !== answer.length) return false;
  const cache = new Map<string, boolean>();
  const pairEquivalent = (goldIndex: number, answerIndex: number) => {
    const key = `${goldIndex}:${answerIndex}`;
    let value = cache.get(key);
    if (value === undefined) {
      value = structureEquivalent(
        gold[goldIndex] as AnswerStructure,
        answer[answerIndex] as AnswerStructure,
        budget,
      ).equivalent;
      cache.set(key, value);
    }
    return value;
  };
  // Answer items written like the gold item are tried first, so a permuted copy of the gold
  // costs one comparison per item instead of a quadratic number of CAS calls.
  const keys = answer.map((item) => JSON.stringify(item).replace(/\s+/g, ""));
  const order = gold.map((item) => {
    const key = JSON.stringify(item).replace(/\s+/g, "");
    const indices = answer.map((_, index) => index);
    return [
      ...indices.filter((index) => keys[index] === key),
      ...indices.filter((index) => keys[index] !== key),
    ];
  });
  // A perfect matching by augmenting paths (Kuhn): polynomial, at most n² pair comparisons
  // (each cached), where backtracking over assignments could take exponential time.
  const matchOf = new Array<number>(answer.length).fill(-1);
  const augment = (goldIndex: number, visited: boolean[]): boolean => {
    for (const answerIndex of order[goldIndex] ?? []) {
      if (visited[answerIndex] || !pairEquivalent(goldIndex, answerIndex)) continue;
      visited[answerIndex] = true;
      const previous = matchOf[answerIndex] ?? -1;
      if (previous < 0 || augment(previous, visited)) {
        matchOf[answerIndex] = goldIndex;
        return true;
      }
    }
    return false;
  };
  for (let goldIndex = 0; goldIndex < gold.length; goldIndex += 1) {
    if (!augment(goldIndex, new Array<boolean>(answer.length).fill(false))) return false;
  }
  return true;
}

function orderedEquivalent(gold: AnswerStructure[], answer: AnswerStructure[], budget: Budget): boolean {
  if (gold.length !== answer.length) return false;
  return gold.every(
    (item, index) => structureEquivalent(item, answer[index] as AnswerStructure, budget).equivalent,
  );
}

const verdict = (equivalent: boolean, method: string): MathEquivalence => ({ equivalent, method });

/**
 * A bare comma list that is really one number: thousands groups ("32,349", "11,\! 111") or an
 * unambiguous decimal comma ("2,74", "1000,99", "0,111": two groups, the second not exactly
 * three digits or the first a lone 0). Only used against a scalar on the other side.
 */
export function listAsNumber(raw: string): string | undefined {
  const groups = raw.split(",");
  if (groups.length < 2 || !/^[-+]?\d+$/.test(groups[0] ?? "")) return undefined;
  const rest = groups.slice(1);
  if (/^[-+]?[1-9]\d{0,2}$/.test(groups[0] ?? "") && rest.every((group) => /^\d{3}$/.test(group)))
    return `${groups[0]}${rest.map((group) => group.trim()).join("")}`;
  if (groups.length === 2 && /^\d+$/.test(groups[1] ?? "")) {
    const [whole, fraction] = groups as [string, string];
    if (fraction.length !== 3 || /^[-+]?0$/.test(whole) || whole.replace(/^[-+]/, "").length > 3)
      return `${whole}.${fraction}`;
  }
  return undefined;
}

/** Two inequalities: same interval when both name one quantity, else the same `left − right` up to a positive factor. */
function relationsEquivalent(
  gold: Extract<AnswerStructure, { kind: "relation" }>,
  answer: Extract<AnswerStructure, { kind: "relation" }>,
  budget: Budget,
): MathEquivalence {
  const goldInterval = relationAsInterval(gold);
  const answerInterval = relationAsInterval(answer);
  if (goldInterval !== undefined && answerInterval !== undefined) {
    if (
      withoutSpaces(namedQuantity(gold) ?? "") === withoutSpaces(namedQuantity(answer) ?? "") &&
      structureEquivalent(goldInterval, answerInterval, budget).equivalent
    )
      return verdict(true, "relation_interval");
  }
  if (gold.sides.length !== 2 || answer.sides.length !== 2) {
    const same =
      gold.sides.length === answer.sides.length &&
      gold.operators.every((operator, index) => operator === answer.operators[index]) &&
      gold.sides.every((side, index) => scalarEquivalent(side, answer.sides[index] ?? "", budget).equivalent);
    return verdict(same, "relation_sides");
  }
  const direction = (operator: RelationOperator | undefined) =>
    operator === "<" || operator === "<=" ? 1 : operator === ">" || operator === ">=" ? -1 : 0;
  const strictness = (operator: RelationOperator | undefined) =>
    operator === "!=" ? "!=" : operator === "<" || operator === ">" ? "strict" : "loose";
  const goldOperator = gold.operators[0];
  const answerOperator = answer.operators[0];
  if (strictness(goldOperator) !== strictness(answerOperator)) return verdict(false, "relation_mismatch");
  // Orient both as "difference < 0" (or "≠ 0"): flip the answer when the directions differ.
  const goldDifference = `(${gold.sides[0]})-(${gold.sides[1]})`;
  const flipped = direction(goldOperator) !== direction(answerOperator);
  const answerDifference = flipped
    ? `(${answer.sides[1]})-(${answer.sides[0]})`
    : `(${answer.sides[0]})-(${answer.sides[1]})`;
  if (withoutSpaces(goldDifference) === withoutSpaces(answerDifference))
    return verdict(true, "relation_sides");
  checkBudget(budget);
  const proportional = casProportional({
    gold: goldDifference,
    answer: answerDifference,
    positive: goldOperator !== "!=",
  });
  return verdict(proportional.equivalent, "relation_proportional");
}

function namedQuantity(relation: Extract<AnswerStructure, { kind: "relation" }>): string | undefined {
  return relation.sides.find((side) => isNamingSide(side));
}

function structureEquivalent(
  gold: AnswerStructure,
  answer: AnswerStructure,
  budget: Budget,
): MathEquivalence {
  if (gold.kind === "equation") {
    if (answer.kind === "equation") {
      if (withoutSpaces(gold.left) === withoutSpaces(answer.left)) {
        return structureEquivalent(gold.right, answer.right, budget);
      }
      if (gold.right.kind === "scalar" && answer.right.kind === "scalar") {
        if (
          isNamingSide(gold.left) &&
          isNamingSide(answer.left) &&
          !/[A-Za-z]/.test(gold.right.latex + answer.right.latex)
        ) {
          // "x = 3" vs "y = 3": different names of constants are still the same answer.
          return structureEquivalent(gold.right, answer.right, budget);
        }
        checkBudget(budget);
        const proportional = casProportional({
          gold: `(${gold.left})-(${gold.right.latex})`,
          answer: `(${answer.left})-(${answer.right.latex})`,
          positive: false,
        });
        if (proportional.equivalent) return verdict(true, "equation_proportional");
      }
      return verdict(false, "equation_mismatch");
    }
    if (isNamingSide(gold.left)) return structureEquivalent(gold.right, answer, budget);
    return verdict(false, "structure_mismatch");
  }
  if (answer.kind === "equation") {
    // "x = 3" for gold "3": only a naming left side counts, so "5 = 6" never matches 6.
    if (isNamingSide(answer.left)) return structureEquivalent(gold, answer.right, budget);
    return verdict(false, "structure_mismatch");
  }
  if (gold.kind === "relation") {
    if (answer.kind === "relation") return relationsEquivalent(gold, answer, budget);
    // Math-Verify: an interval (or union) answer is compared with an inequality gold as sets.
    const interval = relationAsInterval(gold);
    if (interval !== undefined && (answer.kind === "bracketed" || answer.kind === "union"))
      return verdict(structureEquivalent(interval, answer, budget).equivalent, "relation_as_interval");
    return verdict(false, "structure_mismatch");
  }
  if (answer.kind === "relation") {
    // The reverse (an inequality answering an interval gold) is refused, as in Math-Verify's
    // default (`allow_set_relation_comp=False`).
    return verdict(false, "structure_mismatch");
  }
  switch (gold.kind) {
    case "scalar": {
      if (answer.kind === "scalar") return scalarEquivalent(gold.latex, answer.latex, budget);
      const number = answer.kind === "list" ? listAsNumber(answer.raw) : undefined;
      if (number !== undefined) return scalarEquivalent(gold.latex, number, budget);
      return verdict(false, "structure_mismatch");
    }
    case "union":
      if (answer.kind !== "union") return verdict(false, "structure_mismatch");
      return verdict(unorderedEquivalent(gold.items, answer.items, budget), "union");
    case "set":
    case "list":
      if (answer.kind === "scalar" && gold.kind === "list") {
        const number = listAsNumber(gold.raw);
        if (number !== undefined) return scalarEquivalent(number, answer.latex, budget);
      }
      // "x = a, p = b" written as the tuple "(a, b)": in order.
      if (gold.kind === "list" && answer.kind === "bracketed" && answer.open === "(" && answer.close === ")")
        return verdict(orderedEquivalent(gold.items, answer.items, budget), "tuple");
      if (answer.kind !== "set" && answer.kind !== "list") return verdict(false, "structure_mismatch");
      return verdict(
        unorderedEquivalent(gold.items, answer.items, budget),
        gold.kind === "set" ? "set" : "list",
      );
    case "bracketed":
      // A bare list "1, 3" (or "{1,3}") answers a tuple "(1, 3)" in order; never an interval "[1, 3]".
      if (answer.kind === "list" && gold.open === "(" && gold.close === ")")
        return verdict(orderedEquivalent(gold.items, answer.items, budget), "tuple");
      if (answer.kind !== "bracketed" || answer.open !== gold.open || answer.close !== gold.close) {
        return verdict(false, "structure_mismatch");
      }
      return verdict(orderedEquivalent(gold.items, answer.items, budget), "tuple_or_interval");
  }
}

/**
 * Whether `answer` is mathematically equivalent to `gold` (gold-first). Steps:
 * 1. identical text → equal;
 * 2. oversized (> {@link maximumAnswerLength} characters) or over-nested answers → not equal;
 * 3. Minerva-normalised or Hendrycks-stripped equality (only for answers without `=`, so
 *    "5 = 6" is never read as 6);
 * 4. both sides cleaned ({@link cleanAnswer}), read as structures (set, list, tuple, interval,
 *    union, equation, scalar) and compared by the gold's structure; scalars by text, then
 *    Hendrycks, then CAS (numeric for constants, seeded identity test for expressions);
 * 5. a percent on one side only is also tried as `/100` ("50\%" ≡ "0.5" ≡ "50").
 *
 * `deadline` (epoch milliseconds) makes the check throw {@link VerifierTimeoutError} between
 * steps once passed; the hard bound is the worker pool's (see `verify`).
 */
export function isMathEquivalent(params: {
  gold: string;
  answer: string;
  deadline?: number;
  timeoutMilliseconds?: number;
}): MathEquivalence {
  const budget: Budget = { deadline: params.deadline, timeoutMilliseconds: params.timeoutMilliseconds };
  const gold = params.gold.trim();
  const answer = params.answer.trim();
  if (answer === "") return verdict(false, "empty_answer");
  if (gold === answer) return verdict(true, "exact");
  if (answer.length > maximumAnswerLength || nestingDepth(answer) > maximumNesting)
    return verdict(false, "too_complex");
  if (gold.length > maximumAnswerLength * 10 || nestingDepth(gold) > maximumNesting)
    return verdict(false, "too_complex");
  if (!answer.includes("=") && !gold.includes("=")) {
    if (normalizeFinalAnswer({ answer: gold }) === normalizeFinalAnswer({ answer })) {
      if (normalizeFinalAnswer({ answer }) !== "") return verdict(true, "minerva_normalized");
    }
    if (hendrycksIsEquivalent({ first: gold, second: answer })) return verdict(true, "hendrycks");
  }
  checkBudget(budget);
  const cleanedGold = cleanAnswer({ answer: gold });
  const cleanedAnswer = cleanAnswer({ answer });
  if (cleanedAnswer.text === "") return verdict(false, "empty_answer");
  const structured = structureEquivalent(
    parseStructure({ latex: cleanedGold.text }),
    parseStructure({ latex: cleanedAnswer.text }),
    budget,
  );
  if (structured.equivalent || cleanedGold.percent === cleanedAnswer.percent) return structured;
  const scaledGold = cleanedGold.percent ? `\\frac{${cleanedGold.text}}{100}` : cleanedGold.text;
  const scaledAnswer = cleanedAnswer.percent ? `\\frac{${cleanedAnswer.text}}{100}` : cleanedAnswer.text;
  const scaled = scalarEquivalent(scaledGold, scaledAnswer, budget);
  return scaled.equivalent ? verdict(true, `percent_${scaled.method}`) : structured;
}
