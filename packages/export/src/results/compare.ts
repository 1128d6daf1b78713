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
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseWithSchema } from "@posttrain/core";
import type { EvalResults } from "@posttrain/evals";
import { type ClaimVerdict, judgeExpected, judgeRow, type Recipe } from "@posttrain/recipe";
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

/**
 * One expected row with the stage it belongs to, the actual value (the mean over seeds when the
 * folder holds several) and where it falls: `value` is the expected center (a seed row's recorded
 * mean, a tolerance row's published value), `band` the acceptance band, `explanation` the why.
 */
export interface StageComparisonRow {
  after: string;
  task: string;
  metric: string;
  source: string;
  /** `seeds`: band derived from recorded per-seed values; `tolerance`: an explicit override (no seed data). */
  kind: "seeds" | "tolerance";
  value: number;
  /** Tolerance rows: the tolerance; null for seed rows. */
  tolerance: number | null;
  band: { lower: number; upper: number };
  /** The observed value (mean over seeds); null when missing. */
  actual: number | null;
  /** The observed value of each seed (one entry without seeds). */
  perSeed: Record<string, number | null>;
  difference: number | null;
  passed: boolean;
  reason:
    | "within_tolerance"
    | "outside_tolerance"
    | "inside_band"
    | "below_band"
    | "above_band"
    | "missing_task"
    | "missing_metric";
  explanation: string;
  /** The item-level interval of a single results file (null with seeds or when absent). */
  confidenceInterval: { lower: number; upper: number; confidence: number } | null;
  standardError: number | null;
}

export interface ResultsComparison {
  passed: boolean;
  /** The seeds the results came from (`seed-<N>/` folders); empty for one run. */
  seeds: number[];
  rows: StageComparisonRow[];
  /** Ordering claims judged on the seeds (one run: reported as inconclusive, never failed). */
  claims: ClaimVerdict[];
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

/** The results of one run, or of several seeds (seed → stage → results). */
export type ResultsSet =
  | ReadonlyMap<string, EvalResults>
  | ReadonlyMap<number, ReadonlyMap<string, EvalResults>>;

interface FoundEstimate {
  value: number;
  standardError?: number | null | undefined;
  confidenceInterval?: { lower: number; upper: number; confidence: number } | undefined;
}

function metricOf(
  results: EvalResults | undefined,
  task: string,
  metric: string,
): { found: boolean; estimate: FoundEstimate | undefined } {
  const found = results?.tasks.find((candidate) => candidate.task.name === task);
  if (found === undefined) return { found: false, estimate: undefined };
  const estimate: FoundEstimate | undefined =
    metric === "primary_score" ? { value: found.primaryScore } : found.metrics[metric];
  return { found: true, estimate };
}

/**
 * Compares results with the recipe's expected rows (seed rows: the band for the mean of as many
 * runs as there are seeds; tolerance rows: value ± tolerance) and judges its claims.
 */
export function compareResultsWithRecipe(params: {
  recipe: Recipe;
  /** One run's stage → results, or seed → stage → results ({@link readSeedResultsDirectories}). */
  results: ResultsSet;
}): ResultsComparison {
  const { recipe } = params;
  const first = params.results.keys().next().value;
  const bySeed: ReadonlyMap<number, ReadonlyMap<string, EvalResults>> = typeof first === "number"
    ? (params.results as ReadonlyMap<number, ReadonlyMap<string, EvalResults>>)
    : new Map([[recipe.seed, params.results as ReadonlyMap<string, EvalResults>]]);
  const seeds = [...bySeed.keys()];
  const stagesWithResults = new Set([...bySeed.values()].flatMap((stages) => [...stages.keys()]));
  const rows: StageComparisonRow[] = [];
  const missingStages: string[] = [];
  for (const stage of recipe.stages) {
    const expected = recipe.expected.filter((row) => row.after === stage.name);
    if (expected.length === 0) continue;
    if (!stagesWithResults.has(stage.name)) {
      missingStages.push(stage.name);
      continue;
    }
    for (const row of expected) {
      const lookups = seeds.map((seed) => metricOf(bySeed.get(seed)?.get(stage.name), row.task, row.metric));
      const observed = lookups.map((lookup) => lookup.estimate?.value ?? null);
      const verdict = judgeRow({ row, observed });
      const missing = lookups.find((lookup) => lookup.estimate === undefined);
      const reason: StageComparisonRow["reason"] =
        missing !== undefined
          ? missing.found
            ? "missing_metric"
            : "missing_task"
          : verdict.kind === "tolerance"
            ? verdict.passed
              ? "within_tolerance"
              : "outside_tolerance"
            : (verdict.reason as "inside_band" | "below_band" | "above_band");
      const single = seeds.length === 1 ? lookups[0]?.estimate : undefined;
      const interval = single?.confidenceInterval;
      rows.push({
        after: stage.name,
        task: row.task,
        metric: row.metric,
        source: row.source,
        kind: verdict.kind,
        value: verdict.expected,
        tolerance: verdict.tolerance,
        band: verdict.band,
        actual: verdict.observedMean,
        perSeed: Object.fromEntries(seeds.map((seed, index) => [String(seed), observed[index] ?? null])),
        difference: verdict.difference,
        passed: verdict.passed,
        reason,
        explanation: verdict.explanation,
        confidenceInterval:
          interval === undefined
            ? null
            : { lower: interval.lower, upper: interval.upper, confidence: interval.confidence },
        standardError: single?.standardError ?? null,
      });
    }
  }
  const claims = judgeExpected({
    recipe,
    rows: false,
    seeds,
    observe: ({ after, task, metric, seed }) =>
      metricOf(bySeed.get(seed)?.get(after), task, metric).estimate?.value ?? null,
  }).claims.filter((claim) => claim.status !== "missing");
  return {
    passed: rows.length > 0 && rows.every((row) => row.passed) && claims.every((claim) => claim.passed),
    seeds: typeof first === "number" ? seeds : [],
    rows,
    claims,
    missingStages,
  };
}

/**
 * Reads a multi-seed results folder: one `seed-<N>/` per seed, each laid out as
 * {@link readResultsDirectory} reads (a `posttrain run --seeds` folder has this shape: its
 * `seed-<N>/evals/<stage>/results.json` are found through the `evals` folder). Null when the
 * folder has no `seed-<N>/` folders.
 */
export async function readSeedResultsDirectories(params: {
  directory: string;
  recipe: Recipe;
  after?: string;
}): Promise<Map<number, Map<string, EvalResults>> | null> {
  if (!existsSync(params.directory)) return null;
  const entries = (await readdir(params.directory, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && /^seed-(0|[1-9]\d{0,8})$/.test(entry.name))
    .map((entry) => ({ name: entry.name, seed: Number(entry.name.slice(5)) }))
    .sort((a, b) => a.seed - b.seed);
  if (entries.length === 0) return null;
  const seeds = new Map<number, Map<string, EvalResults>>();
  for (const { name, seed } of entries) {
    const folder = join(params.directory, name);
    const evals = join(folder, "evals");
    seeds.set(
      seed,
      await readResultsDirectory({
        ...params,
        directory: existsSync(evals) && !existsSync(join(folder, "results.json")) ? evals : folder,
      }),
    );
  }
  return seeds;
}

const percent = (value: number | null) => (value === null ? "—" : (value * 100).toFixed(1));

/** A plain-text table of a comparison (one row per expected number, then the claims). */
export function formatResultsComparison(comparison: ResultsComparison): string {
  const header = `stage       task            metric                    expected  band            ${comparison.seeds.length > 0 ? `mean of ${comparison.seeds.length} seeds` : "actual   95% CI (items)"}  status`;
  const lines = comparison.rows.map((row) => {
    const interval =
      row.confidenceInterval === null
        ? "—"
        : `${percent(row.confidenceInterval.lower)}–${percent(row.confidenceInterval.upper)}`;
    const band =
      row.kind === "tolerance"
        ? `±${percent(row.tolerance)} (tol.)`
        : `${percent(row.band.lower)}–${percent(row.band.upper)}`;
    return [
      row.after.padEnd(11),
      row.task.padEnd(15),
      row.metric.padEnd(25),
      percent(row.value).padStart(8),
      band.padStart(15),
      percent(row.actual).padStart(8),
      comparison.seeds.length > 0 ? "" : interval.padStart(14),
      `  ${row.passed ? "PASS" : `FAIL (${row.reason})`}`,
    ].join(" ");
  });
  const explanations = comparison.rows.map(
    (row) => `  ${row.after}/${row.task}/${row.metric}: ${row.explanation}`,
  );
  const claims = comparison.claims.map(
    (claim) => `claim "${claim.statement}": ${claim.status} — ${claim.explanation}`,
  );
  const missing =
    comparison.missingStages.length === 0
      ? []
      : [`no results for stage(s): ${comparison.missingStages.join(", ")}`];
  return [
    header,
    ...lines,
    ...explanations,
    ...claims,
    ...missing,
    comparison.passed ? "all expected numbers reproduced" : "NOT reproduced",
  ].join("\n");
}
