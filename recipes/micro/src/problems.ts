import type { Random } from "@posttrain/core";

/**
 * Synthetic arithmetic word problems for the micro recipe, in GSM8K's shape: a question,
 * a one-line worked answer, and a final `#### N` line. Small numbers and four fixed
 * templates keep them learnable by a ~1M-parameter model in minutes on a CPU.
 */
export interface WordProblem {
  question: string;
  /** The worked answer, ending `#### N`. */
  answer: string;
  /** The final number, as a string (the gsm8k verifier's ground truth). */
  result: string;
  /** Which template and numbers made it; held-out splits never share a key with train. */
  key: string;
}

const names = ["Ava", "Ben", "Cara", "Dan", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jill", "Kai", "Lena"];
const items = ["apples", "books", "coins", "cards", "pens", "shells", "stickers", "marbles"];

const pick = <T>(random: Random, values: readonly T[]): T => values[random.nextInt(values.length)]!;
const between = (random: Random, low: number, high: number) => low + random.nextInt(high - low + 1);

/** Draws one problem; every choice comes from `random`. */
export function drawWordProblem(random: Random): WordProblem {
  const name = pick(random, names);
  let friend = pick(random, names);
  while (friend === name) friend = pick(random, names);
  const item = pick(random, items);
  switch (random.nextInt(4)) {
    case 0: {
      const a = between(random, 1, 12);
      const b = between(random, 1, 12);
      const r = a + b;
      return {
        question: `${name} has ${a} ${item}. ${name} finds ${b} more ${item}. How many ${item} does ${name} have now?`,
        answer: `${name} starts with ${a} ${item} and finds ${b} more, so ${name} has ${a} + ${b} = ${r} ${item}.\n#### ${r}`,
        result: String(r),
        key: `add:${name}:${item}:${a}:${b}`,
      };
    }
    case 1: {
      const a = between(random, 2, 15);
      const b = between(random, 1, a - 1);
      const r = a - b;
      return {
        question: `${name} has ${a} ${item}. ${name} gives ${b} ${item} to ${friend}. How many ${item} does ${name} have left?`,
        answer: `${name} starts with ${a} ${item} and gives away ${b}, so ${name} has ${a} - ${b} = ${r} ${item} left.\n#### ${r}`,
        result: String(r),
        key: `sub:${name}:${friend}:${item}:${a}:${b}`,
      };
    }
    case 2: {
      const a = between(random, 2, 6);
      const b = between(random, 2, 6);
      const r = a * b;
      return {
        question: `${name} has ${a} boxes with ${b} ${item} in each box. How many ${item} does ${name} have?`,
        answer: `${name} has ${a} boxes of ${b} ${item}, so ${name} has ${a} * ${b} = ${r} ${item}.\n#### ${r}`,
        result: String(r),
        key: `mul:${name}:${item}:${a}:${b}`,
      };
    }
    default: {
      const a = between(random, 1, 9);
      const b = between(random, 1, 9);
      const c = between(random, 1, a + b - 1);
      const s = a + b;
      const r = s - c;
      return {
        question: `${name} has ${a} ${item} and buys ${b} more. Then ${name} gives ${c} to ${friend}. How many ${item} does ${name} have?`,
        answer: `${name} has ${a} + ${b} = ${s} ${item} after buying, so ${name} has ${s} - ${c} = ${r} ${item}.\n#### ${r}`,
        result: String(r),
        key: `two:${name}:${friend}:${item}:${a}:${b}:${c}`,
      };
    }
  }
}

/**
 * A simple verifiable instruction appended to a problem, judged by an IFEval instruction.
 * `apply` rewrites the honest worked answer so it follows the instruction.
 */
export interface InstructionConstraint {
  id: string;
  instruction: string;
  kwargs: Record<string, unknown> | null;
  apply: (answer: string) => string;
}

export const instructionConstraints: readonly InstructionConstraint[] = [
  {
    id: "change_case:english_lowercase",
    instruction: "Your entire response should be in lowercase letters.",
    kwargs: null,
    apply: (answer) => answer.toLowerCase(),
  },
  {
    id: "punctuation:no_comma",
    instruction: "Do not use any commas in your response.",
    kwargs: null,
    apply: (answer) => answer.replaceAll(",", ""),
  },
  {
    id: "startend:end_checker",
    instruction: 'Finish your response with this exact phrase "Any other questions?".',
    kwargs: { end_phrase: "Any other questions?" },
    apply: (answer) => `${answer}\nAny other questions?`,
  },
  {
    id: "startend:quotation",
    instruction: "Wrap your entire response with double quotation marks.",
    kwargs: null,
    apply: (answer) => `"${answer}"`,
  },
];

/** The ground truth of the `ifeval` verifier, in open-instruct's format (a JSON string). */
export function ifevalGroundTruth(constraint: InstructionConstraint): string {
  return JSON.stringify({ instruction_id: [constraint.id], kwargs: [constraint.kwargs] });
}

/** A wrong but well-formed answer (for rejected preference responses): the result is off by 1–3. */
export function corruptAnswer(problem: WordProblem, random: Random): string {
  const right = Number(problem.result);
  let wrong = right + (random.nextInt(2) === 0 ? -1 : 1) * between(random, 1, 3);
  if (wrong < 0) wrong = right + between(random, 1, 3);
  const lines = problem.answer.split("\n");
  const reasoning = lines[0]!.replace(new RegExp(`= ${right} `), `= ${wrong} `);
  return `${reasoning}\n#### ${wrong}`;
}
