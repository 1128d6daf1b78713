/**
 * The micro-tools problems: arithmetic a 0.86M-parameter model cannot do in its head — the
 * product of two two-digit numbers, or the sum of three three-digit numbers, always with a
 * four-digit result — asked in a few phrasings, each with its exact result, the expression a
 * calculator call computes, and the two demonstration answers (with and without the tool).
 */
import type { Random } from "@posttrain/core";

export type ProblemKind = "product" | "sum";

export interface ArithmeticProblem {
  kind: ProblemKind;
  /** Template, kind and numbers: two problems with the same key are the same problem. */
  key: string;
  question: string;
  /** What the calculator is asked: `47 * 58`, `387 + 496 + 252`. */
  expression: string;
  /** The exact result, as the calculator prints it. */
  result: string;
}

const between = (random: Random, low: number, high: number) => low + random.nextInt(high - low + 1);

/** Product phrasings; `swap`: the question names the second factor first (so does the call). */
const productTemplates: ReadonlyArray<{ text: (a: number, b: number) => string; swap: boolean }> = [
  { text: (a, b) => `What is ${a} * ${b}?`, swap: false },
  { text: (a, b) => `Compute ${a} times ${b}.`, swap: false },
  {
    text: (a, b) => `A crate holds ${b} boxes with ${a} nails in each box. How many nails are in the crate?`,
    swap: true,
  },
  {
    text: (a, b) => `Each of ${b} buses carries ${a} kg of mail. How many kg of mail do the buses carry?`,
    swap: true,
  },
];

const sumTemplates: ReadonlyArray<(numbers: readonly number[]) => string> = [
  (numbers) => `What is ${numbers.join(" + ")}?`,
  (numbers) => `Add ${numbers.slice(0, -1).join(", ")} and ${numbers.at(-1)}.`,
  (numbers) =>
    `A farm picked ${numbers.slice(0, -1).join(" kg, ")} kg and ${numbers.at(-1)} kg of apples. How many kg did it pick in all?`,
];

/**
 * Draws one problem, half products of two two-digit numbers (12–99), half sums of three
 * three-digit numbers (100–999), redrawn until the result has four digits: every number of a
 * kind has the same length, so a result sits at a fixed distance from where it is copied to
 * (the tool output → the answer) — what lets a 0.86M model learn to copy it (README).
 */
export function drawProblem(random: Random): ArithmeticProblem {
  for (;;) {
    const problem = drawCandidate(random);
    if (problem.result.length === 4) return problem;
  }
}

function drawCandidate(random: Random): ArithmeticProblem {
  if (random.nextInt(2) === 0) {
    const template = random.nextInt(productTemplates.length);
    const a = between(random, 12, 99);
    const b = between(random, 12, 99);
    const { text, swap } = productTemplates[template]!;
    return {
      kind: "product",
      key: `product:${template}:${a}:${b}`,
      question: text(a, b),
      // The factors in the order the question names them: the call copies them as they come.
      expression: swap ? `${b} * ${a}` : `${a} * ${b}`,
      result: String(a * b),
    };
  }
  const template = random.nextInt(sumTemplates.length);
  const numbers = Array.from({ length: 3 }, () => between(random, 100, 999));
  return {
    kind: "sum",
    key: `sum:${template}:${numbers.join(":")}`,
    question: sumTemplates[template]!(numbers),
    expression: numbers.join(" + "),
    result: String(numbers.reduce((total, value) => total + value, 0)),
  };
}

/**
 * The tools arm's system paragraph, in its SFT and RLVR prompts and in front of every eval
 * question with the calculator (the eval task's `tools.instructions`): one line naming the
 * call tag and the output wrapping. @posttrain/tools' default (`tagFormatInstructions`, the
 * tool's full description) is 100 tokens of this recipe's tokenizer — twice the rest of a
 * conversation — and would double the cost of every step for nothing the model uses.
 */
export const calculatorInstructions =
  "You may call <calculator>expression</calculator>; its result comes back in <output> </output>.";

/** The tag format's call and output wrapping (@posttrain/tools `createTagFormat`, open-instruct's legacy parser). */
export const calculatorCall = (expression: string) => `<calculator>${expression}</calculator>`;
export const toolOutput = (output: string) => `<output>\n${output}\n</output>\n`;

/**
 * The with-tools demonstration: the call, the calculator's output exactly as the tool driver
 * appends it (masked from the SFT loss), then the result as the final turn — the verifier
 * (`gsm8k`: the last number) reads the model's last turn only, never the tool output.
 * (Tried: a GSM8K-style `#### N` final line; the 0.86M model learned to copy the call from
 * the question long before it learned to copy the output past the extra tokens.)
 */
export const answerWithTool = (problem: ArithmeticProblem) =>
  `${calculatorCall(problem.expression)}${toolOutput(problem.result)}${problem.result}`;

/** The without-tools demonstration: the same expression, then its result computed "in the head". */
export const answerDirectly = (problem: ArithmeticProblem) => `${problem.expression} = ${problem.result}`;
