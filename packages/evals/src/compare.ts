/**
 * Comparing results with an expected-results table (a recipe's): each row names a task, a
 * metric, the expected value and an absolute tolerance; a row passes when |actual − expected|
 * ≤ tolerance. A missing task or metric fails its row (never silently passes).
 */
import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import type { EvalResults } from "./run-eval.js";

export const expectedResultSchema = z.strictObject({
  task: z.string().min(1),
  metric: z.string().min(1),
  value: z.number().finite(),
  tolerance: z.number().nonnegative().finite(),
});
export const expectedResultsSchema = z.array(expectedResultSchema);
export type ExpectedResult = z.infer<typeof expectedResultSchema>;

export interface ComparisonRow extends ExpectedResult {
  actual: number | null;
  difference: number | null;
  passed: boolean;
  reason: "within_tolerance" | "outside_tolerance" | "missing_task" | "missing_metric";
}

export interface Comparison {
  passed: boolean;
  rows: ComparisonRow[];
}

/** Checks every expected row against `results`. `expected` is validated (errors name the row). */
export function compareWithExpected(params: { results: EvalResults; expected: unknown }): Comparison {
  const expected = parseWithSchema({
    schema: expectedResultsSchema,
    value: params.expected,
    label: "expected results",
  });
  const rows = expected.map((row): ComparisonRow => {
    const task = params.results.tasks.find((candidate) => candidate.task.name === row.task);
    if (task === undefined)
      return { ...row, actual: null, difference: null, passed: false, reason: "missing_task" };
    const estimate = row.metric === "primary_score" ? { value: task.primaryScore } : task.metrics[row.metric];
    if (estimate === undefined)
      return { ...row, actual: null, difference: null, passed: false, reason: "missing_metric" };
    const difference = estimate.value - row.value;
    const passed = Math.abs(difference) <= row.tolerance + 1e-12;
    return {
      ...row,
      actual: estimate.value,
      difference,
      passed,
      reason: passed ? "within_tolerance" : "outside_tolerance",
    };
  });
  return { passed: rows.every((row) => row.passed), rows };
}
