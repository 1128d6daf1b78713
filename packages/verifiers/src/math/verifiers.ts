/** The `math` (open-instruct flex) and `strict_math` (Minerva format only) verifiers. */
import { z } from "zod";
import type { Verifier, VerifierResult, VerifyContext } from "../types.js";
import { isMathEquivalent, type MathEquivalence } from "./equivalence.js";
import { extractMathAnswer } from "./extract.js";

/** A math label: the gold final answer (numbers are accepted and read as text). */
export const mathLabelSchema = z.union([
  z.string().min(1, "the gold answer is empty"),
  z.number().transform(String),
]);
export type MathLabel = z.output<typeof mathLabelSchema>;

function equivalent(gold: string, answer: string, context: VerifyContext): MathEquivalence {
  return isMathEquivalent({
    gold,
    answer,
    ...(context.deadline === undefined ? {} : { deadline: context.deadline }),
    timeoutMilliseconds: context.timeoutMilliseconds,
  });
}

/**
 * Distinct final answers the response commits to: every `\boxed{}` plus the Minerva sentence.
 * Two that are not equivalent to each other make the response hedge, which scores 0.
 */
function findConflict(
  answers: string[],
  context: VerifyContext,
): { first: string; second: string } | undefined {
  const distinct = [...new Set(answers.map((answer) => answer.trim()))];
  const last = distinct[distinct.length - 1];
  if (last === undefined || distinct.length < 2) return undefined;
  if (distinct.length > 8) return { first: distinct[0] as string, second: last };
  for (const other of distinct.slice(0, -1)) {
    if (!equivalent(last, other, context).equivalent && !equivalent(other, last, context).equivalent) {
      return { first: other, second: last };
    }
  }
  return undefined;
}

function judge(params: {
  response: string;
  label: string;
  context: VerifyContext;
  mode: "flex" | "strict";
}): VerifierResult {
  const { response, label, context, mode } = params;
  const extraction = extractMathAnswer({ response, mode });
  const details: Record<string, unknown> = {
    extracted: extraction.extracted ?? null,
    source: extraction.source ?? null,
    gold: label,
  };
  if (extraction.extracted === undefined) return { score: 0, details: { ...details, reason: "no_answer" } };
  const committed = mode === "flex" ? [...extraction.boxed] : [];
  const minerva = extraction.candidates.find((candidate) => candidate.source === "minerva");
  if (minerva !== undefined && mode === "flex") committed.push(minerva.text);
  const conflict = findConflict(committed, context);
  if (conflict !== undefined) {
    return {
      score: 0,
      details: { ...details, reason: "conflicting_answers", conflict: [conflict.first, conflict.second] },
    };
  }
  for (const candidate of extraction.candidates) {
    const verdict = equivalent(label, candidate.text, context);
    if (verdict.equivalent) {
      return {
        score: 1,
        details: { ...details, extracted: candidate.text, source: candidate.source, method: verdict.method },
      };
    }
    details["method"] = verdict.method;
  }
  return { score: 0, details: { ...details, reason: "not_equivalent" } };
}

/**
 * `math`: open-instruct's flex verifier (candidates: last `\boxed{}`, the Minerva sentence,
 * else the last `$…$`, else the whole output) judged with {@link isMathEquivalent}. Unlike
 * open-instruct, a response whose boxed / Minerva answers disagree scores 0.
 */
export const mathVerifier: Verifier<MathLabel> = {
  name: "math",
  version: "1.0.0",
  description: "MATH-style final answer: last \\boxed{} / Minerva sentence / last $…$, CAS equivalence",
  labelSchema: mathLabelSchema,
  verify: ({ response, label, context }) => judge({ response, label, context, mode: "flex" }),
};

/** `strict_math`: only the Minerva "Final Answer: The final answer is X. I hope it is correct." form. */
export const strictMathVerifier: Verifier<MathLabel> = {
  name: "strict_math",
  version: "1.0.0",
  description: "Minerva format only: 'Final Answer: The final answer is X. I hope it is correct.'",
  labelSchema: mathLabelSchema,
  verify: ({ response, label, context }) => judge({ response, label, context, mode: "strict" }),
};
