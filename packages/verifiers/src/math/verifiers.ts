/**
 * The `math` (Math-Verify-level extraction), `math_flex` (open-instruct's flex extraction) and
 * `strict_math` (Minerva format only) verifiers.
 */
import { z } from "zod";
import type { Verifier, VerifierResult, VerifyContext } from "../types.js";
import { isMathEquivalent, type MathEquivalence } from "./equivalence.js";
import { extractGoldAnswer, extractMathAnswer, joinAnswerGroup, lastBoxGroup } from "./extract.js";

/**
 * Time bound of one math check (extraction and every comparison), well inside the worker
 * pool's hard timeout: past it the check stops between steps with a timeout (score 0).
 */
export const mathCheckBudgetMilliseconds = 1_000;

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

/** The context with its deadline tightened to {@link mathCheckBudgetMilliseconds} from now. */
function boundedContext(context: VerifyContext): VerifyContext {
  const own = Date.now() + mathCheckBudgetMilliseconds;
  if (context.deadline !== undefined && context.deadline <= own) return context;
  return { ...context, deadline: own, timeoutMilliseconds: mathCheckBudgetMilliseconds };
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

/** The gold of a `math` label; a group of boxes that all say the same is that one answer. */
function goldAnswer(label: string, context: VerifyContext): string {
  const group = lastBoxGroup({ text: label });
  if (group.length > 1 && findConflict(group, context) === undefined)
    return group[group.length - 1] as string;
  return extractGoldAnswer({ label });
}

function judge(params: {
  response: string;
  label: string;
  context: VerifyContext;
  mode: "flex" | "strict" | "full";
}): VerifierResult {
  const { response, mode } = params;
  const context = mode === "full" ? boundedContext(params.context) : params.context;
  const label = mode === "full" ? goldAnswer(params.label, context) : params.label;
  const extraction = extractMathAnswer({ response, mode });
  const details: Record<string, unknown> = {
    extracted: extraction.extracted ?? null,
    source: extraction.source ?? null,
    gold: label,
  };
  if (extraction.extracted === undefined) return { score: 0, details: { ...details, reason: "no_answer" } };
  // Committed answers: every box (in `full` mode the last group of boxes counts as one answer
  // set, "\\boxed{1}, \\boxed{2}") and the Minerva sentence. Disagreeing ones are a hedge.
  const committed: string[] = [];
  if (mode === "flex") committed.push(...extraction.boxed);
  if (mode === "full") {
    let group = lastBoxGroup({ text: response });
    // "\boxed{15\frac{39}{40}}, or \boxed{\frac{639}{40}}": one answer written twice.
    if (group.length > 1 && findConflict(group, context) === undefined) group = group.slice(-1);
    committed.push(...extraction.boxed.filter((box) => !group.includes(box.trim())));
    const joined = joinAnswerGroup(group);
    if (joined !== undefined) {
      committed.push(joined);
      const first = extraction.candidates[0];
      if (first?.source === "boxed") extraction.candidates[0] = { source: "boxed", text: joined };
    }
  }
  const minerva = extraction.candidates.find((candidate) => candidate.source === "minerva");
  if (minerva !== undefined && mode !== "strict") committed.push(minerva.text);
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
 * `math`: Math-Verify-level extraction (`full` mode of {@link extractMathAnswer}: boxed,
 * Minerva, "Answer:" sentences, the last math environment, the last number) on both sides
 * (the gold through {@link extractGoldAnswer}), judged gold-first with {@link isMathEquivalent}
 * within {@link mathCheckBudgetMilliseconds}. Boxed / Minerva answers that disagree score 0
 * unless the boxes together form the gold's answer set.
 */
export const mathVerifier: Verifier<MathLabel> = {
  name: "math",
  version: "2.0.0",
  description:
    "Math-Verify-level: boxed / Answer sentence / last LaTeX environment / last number, gold-first CAS equivalence",
  labelSchema: mathLabelSchema,
  verify: ({ response, label, context }) => judge({ response, label, context, mode: "full" }),
};

/**
 * `math_flex`: open-instruct's flex extraction (candidates: last `\boxed{}`, the Minerva
 * sentence, else the last `$…$`, else the whole output), the label taken as the gold answer
 * as is, judged with {@link isMathEquivalent}. Unlike open-instruct, a response whose boxed /
 * Minerva answers disagree scores 0.
 */
export const mathFlexVerifier: Verifier<MathLabel> = {
  name: "math_flex",
  version: "1.0.0",
  description: "open-instruct flex: last \\boxed{} / Minerva sentence / last $…$, CAS equivalence",
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
