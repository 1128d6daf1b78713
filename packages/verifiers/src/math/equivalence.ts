/**
 * Gold-first mathematical equivalence (the asymmetric design of Math-Verify): the gold
 * answer decides the structure that the predicted answer must have.
 */
import { VerifierTimeoutError } from "../errors.js";
import { casEquivalent } from "./cas.js";
import { cleanAnswer } from "./clean-answer.js";
import { normalizeFinalAnswer } from "./normalize-final-answer.js";
import { hendrycksIsEquivalent } from "./strip-string.js";
import {
  type AnswerStructure,
  isNamingSide,
  maximumNesting,
  nestingDepth,
  parseStructure,
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
function unorderedEquivalent(gold: AnswerStructure[], answer: AnswerStructure[], budget: Budget): boolean {
  if (gold.length !== answer.length || gold.length > 24) return false;
  const used = new Array<boolean>(answer.length).fill(false);
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
  const assign = (goldIndex: number): boolean => {
    if (goldIndex === gold.length) return true;
    for (let answerIndex = 0; answerIndex < answer.length; answerIndex += 1) {
      if (used[answerIndex] || !pairEquivalent(goldIndex, answerIndex)) continue;
      used[answerIndex] = true;
      if (assign(goldIndex + 1)) return true;
      used[answerIndex] = false;
    }
    return false;
  };
  return assign(0);
}

function orderedEquivalent(gold: AnswerStructure[], answer: AnswerStructure[], budget: Budget): boolean {
  if (gold.length !== answer.length) return false;
  return gold.every(
    (item, index) => structureEquivalent(item, answer[index] as AnswerStructure, budget).equivalent,
  );
}

const verdict = (equivalent: boolean, method: string): MathEquivalence => ({ equivalent, method });

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
        const goldDifference = `(${gold.left})-(${gold.right.latex})`;
        const answerDifference = `(${answer.left})-(${answer.right.latex})`;
        if (scalarEquivalent(goldDifference, answerDifference, budget).equivalent)
          return verdict(true, "equation_sides");
        if (scalarEquivalent(goldDifference, `-(${answerDifference})`, budget).equivalent)
          return verdict(true, "equation_sides");
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
  switch (gold.kind) {
    case "scalar":
      if (answer.kind === "scalar") return scalarEquivalent(gold.latex, answer.latex, budget);
      return verdict(false, "structure_mismatch");
    case "union":
      if (answer.kind !== "union") return verdict(false, "structure_mismatch");
      return verdict(unorderedEquivalent(gold.items, answer.items, budget), "union");
    case "set":
    case "list":
      if (answer.kind !== "set" && answer.kind !== "list") return verdict(false, "structure_mismatch");
      return verdict(
        unorderedEquivalent(gold.items, answer.items, budget),
        gold.kind === "set" ? "set" : "list",
      );
    case "bracketed":
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
  if (!answer.includes("=")) {
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
