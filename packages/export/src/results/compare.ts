/**
 * Comparing eval results produced elsewhere (an open-instruct/OLMES run on a cluster, or an
 * embedded run on another machine) with a recipe's expected table. Uses @posttrain/evals'
 * `compareWithExpected` per stage; the recipe's rows say after which stage each number holds.
 *
 * A results folder holds either one `results.json` (the eval results JSON that `posttrain
 * eval` writes) — compared with the rows of `after` (default: the last stage that has
 * expected rows) — or one `<stage>/results.json` per stage.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseWithSchema } from "@posttrain/core";
import { type ComparisonRow, compareWithExpected, type EvalResults } from "@posttrain/evals";
import type { Recipe } from "@posttrain/recipe";
import { z } from "zod";
import { ExportError } from "../errors.js";

const estimateSchema = z.looseObject({
  value: z.number(),
  standardError: z.number().nullable().optional(),
  confidenceInterval: z
    .looseObject({ lower: z.number(), upper: z.number(), confidence: z.number() })
    .optional(),
  count: z.number().optional(),
});

/** The parts of an eval results file the comparison reads (the rest is kept). */
export const evalResultsFileSchema = z.looseObject({
  schemaVersion: z.literal(1),
  tasks: z.array(
    z.looseObject({
      task: z.looseObject({ name: z.string().min(1) }),
      metrics: z.record(z.string(), estimateSchema),
      primaryScore: z.number(),
    }),
  ),
});

/** One expected row with the stage it belongs to, the actual value and its interval. */
export interface StageComparisonRow extends ComparisonRow {
  after: string;
  source: string;
  confidenceInterval: { lower: number; upper: number; confidence: number } | null;
  standardError: number | null;
}

export interface ResultsComparison {
  passed: boolean;
  rows: StageComparisonRow[];
  /** Stages with expected rows but no results. */
  missingStages: string[];
}

/** Reads and validates one eval results JSON file. */
export async function readEvalResults(params: { path: string }): Promise<EvalResults> {
  const text = await readFile(params.path, "utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ExportError({
      code: "export_unsupported",
      message: `${params.path} is not JSON: ${(error as Error).message}`,
      cause: error,
      details: { fields: [params.path] },
    });
  }
  return parseWithSchema({
    schema: evalResultsFileSchema,
    value,
    label: params.path,
  }) as unknown as EvalResults;
}

/** Finds the results of each stage in `directory` (see the module comment). */
export async function readResultsDirectory(params: {
  directory: string;
  recipe: Recipe;
  after?: string;
}): Promise<Map<string, EvalResults>> {
  const { recipe, directory } = params;
  const stageNames = recipe.stages.map((stage) => stage.name);
  if (params.after !== undefined && !stageNames.includes(params.after))
    throw new ExportError({
      code: "export_unknown_stage",
      message: `recipe ${recipe.name} has no stage "${params.after}" (stages: ${stageNames.join(", ")})`,
      details: { stage: params.after },
    });
  const found = new Map<string, EvalResults>();
  const single = join(directory, "results.json");
  if (existsSync(single)) {
    const after =
      params.after ??
      [...stageNames].reverse().find((name) => recipe.expected.some((row) => row.after === name));
    if (after === undefined)
      throw new ExportError({
        code: "export_unknown_stage",
        message: `recipe ${recipe.name} has no expected rows to compare ${single} with`,
        details: { path: single },
      });
    found.set(after, await readEvalResults({ path: single }));
    return found;
  }
  for (const name of stageNames) {
    const path = join(directory, name, "results.json");
    if (existsSync(path)) found.set(name, await readEvalResults({ path }));
  }
  if (found.size === 0)
    throw new ExportError({
      code: "export_unknown_stage",
      message: `${directory} has neither results.json nor <stage>/results.json for any of ${stageNames.join(", ")}`,
      details: { directory },
    });
  return found;
}

/** Compares each stage's results with the recipe's expected rows for that stage. */
export function compareResultsWithRecipe(params: {
  recipe: Recipe;
  results: ReadonlyMap<string, EvalResults>;
}): ResultsComparison {
  const rows: StageComparisonRow[] = [];
  const missingStages: string[] = [];
  for (const stage of params.recipe.stages) {
    const expected = params.recipe.expected.filter((row) => row.after === stage.name);
    if (expected.length === 0) continue;
    const results = params.results.get(stage.name);
    if (results === undefined) {
      missingStages.push(stage.name);
      continue;
    }
    const comparison = compareWithExpected({
      results,
      expected: expected.map(({ task, metric, value, tolerance }) => ({ task, metric, value, tolerance })),
    });
    comparison.rows.forEach((row, index) => {
      const task = results.tasks.find((candidate) => candidate.task.name === row.task);
      const estimate = task?.metrics[row.metric];
      const interval = estimate?.confidenceInterval;
      rows.push({
        ...row,
        after: stage.name,
        source: expected[index]!.source,
        confidenceInterval:
          interval === undefined
            ? null
            : { lower: interval.lower, upper: interval.upper, confidence: interval.confidence },
        standardError: estimate?.standardError ?? null,
      });
    });
  }
  return { passed: rows.length > 0 && rows.every((row) => row.passed), rows, missingStages };
}

const percent = (value: number | null) => (value === null ? "—" : (value * 100).toFixed(1));

/** A plain-text table of a comparison (one row per expected number). */
export function formatResultsComparison(comparison: ResultsComparison): string {
  const header =
    "stage       task            metric                    expected  ±tol   actual   95% CI          status";
  const lines = comparison.rows.map((row) => {
    const interval =
      row.confidenceInterval === null
        ? "—"
        : `${percent(row.confidenceInterval.lower)}–${percent(row.confidenceInterval.upper)}`;
    return [
      row.after.padEnd(11),
      row.task.padEnd(15),
      row.metric.padEnd(25),
      percent(row.value).padStart(8),
      percent(row.tolerance).padStart(5),
      percent(row.actual).padStart(8),
      interval.padStart(14),
      `  ${row.passed ? "PASS" : `FAIL (${row.reason})`}`,
    ].join(" ");
  });
  const missing =
    comparison.missingStages.length === 0
      ? []
      : [`no results for stage(s): ${comparison.missingStages.join(", ")}`];
  return [
    header,
    ...lines,
    ...missing,
    comparison.passed ? "all expected numbers reproduced" : "NOT reproduced",
  ].join("\n");
}
