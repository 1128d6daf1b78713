/**
 * Reading a finished (or interrupted) run folder back: `posttrain report <run>` regenerates its
 * report.md/report.html (a multi-seed folder: the aggregate report and every seed's), and
 * `posttrain compare <run> <run>…` puts runs — and the seeds of multi-seed runs — side by side:
 * every evaluated number with its 95% interval and item count, the expected-table verdicts and
 * the provenance differences from the first run.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "@posttrain/core";
import { z } from "zod";
import type { RunEnvironment } from "./environment.js";
import { RecipeError } from "./errors.js";
import { type Provenance, type ProvenanceDifference, provenanceDifferences } from "./provenance.js";
import { formatInterval, writeReports } from "./report.js";
import { parseRecipe, type Recipe } from "./schema.js";
import { renderSeedsHtml, renderSeedsMarkdown, type SeedsSummary } from "./seeds.js";
import type { RunSummary } from "./summary.js";

const intervalSchema = z.strictObject({ lower: z.number(), upper: z.number() }).nullable();

/** The parts of summary.json that report and compare read (the rest is kept as written). */
const runSummarySchema = z.looseObject({
  schemaVersion: z.literal(1),
  recipe: z.looseObject({
    name: z.string(),
    version: z.string(),
    variant: z.string().nullable(),
    packageName: z.string().nullable(),
  }),
  runId: z.string(),
  runDirectory: z.string(),
  seed: z.looseObject({ root: z.number().int() }),
  status: z.enum(["completed", "interrupted", "failed"]),
  environment: z.looseObject({ cpu: z.string(), threads: z.number() }),
  stages: z.array(
    z.looseObject({
      name: z.string(),
      status: z.string(),
      evals: z.record(
        z.string(),
        z.record(
          z.string(),
          z.looseObject({ value: z.number(), confidenceInterval: intervalSchema, count: z.number() }),
        ),
      ),
    }),
  ),
  expected: z.looseObject({ passed: z.boolean(), rows: z.number(), failed: z.number() }).nullable(),
});

const seedsSummarySchema = z.looseObject({
  schemaVersion: z.literal(1),
  kind: z.literal("seeds"),
  recipe: z.looseObject({ name: z.string(), version: z.string() }),
  runId: z.string(),
  runDirectory: z.string(),
  seeds: z.array(z.number().int()),
  status: z.enum(["completed", "interrupted", "failed"]),
  runs: z.array(z.looseObject({ seed: z.number().int(), runDirectory: z.string() })),
  rows: z.array(
    z.looseObject({
      after: z.string(),
      task: z.string(),
      metric: z.string(),
      mean: z.number().nullable(),
      items: z.number().nullable(),
      seedInterval: intervalSchema,
      verdict: z.looseObject({ passed: z.boolean() }).nullable(),
    }),
  ),
  expected: z.looseObject({ passed: z.boolean(), rows: z.number(), failed: z.number() }).nullable(),
});

/** A run folder as read back: one run, or a multi-seed run with its seeds' runs. */
export type RunFolder =
  | { kind: "single"; directory: string; summary: RunSummary; recipe: Recipe }
  | { kind: "seeds"; directory: string; summary: SeedsSummary; seeds: RunFolder[] };

function invalid(message: string, details: Record<string, unknown> = {}, cause?: unknown): RecipeError {
  return new RecipeError({
    code: "run_folder_invalid",
    message,
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

async function readJsonFile(path: string): Promise<unknown> {
  if (!existsSync(path)) throw invalid(`${path} does not exist`, { path });
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch (error) {
    throw invalid(`${path} is not valid JSON: ${(error as Error).message}`, { path }, error);
  }
}

function validate<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join(".") ?? "";
  throw invalid(`${path}: ${field === "" ? "" : `field ${field}: `}${issue?.message ?? "invalid"}`, {
    path,
    field,
  });
}

/**
 * Reads a run folder: `summary.json` (and `recipe.json`) of a single run, or the aggregate
 * `summary.json` + `seeds.json` of a multi-seed run and each `seed-<N>/` run in it. The folder
 * read is the one given, even when the summary records another path (a moved run folder).
 */
export async function readRunFolder(params: { directory: string }): Promise<RunFolder> {
  const directory = resolve(params.directory);
  if (!existsSync(directory)) throw invalid(`no run folder at ${directory}`, { directory });
  const summaryPath = join(directory, "summary.json");
  const value = await readJsonFile(summaryPath);
  if (typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "seeds") {
    validate(seedsSummarySchema, value, summaryPath);
    const summary = { ...(value as SeedsSummary), runDirectory: directory };
    const seeds: RunFolder[] = [];
    for (const run of summary.runs) {
      const seedDirectory = join(directory, `seed-${run.seed}`);
      if (existsSync(join(seedDirectory, "summary.json")))
        seeds.push(await readRunFolder({ directory: seedDirectory }));
    }
    return { kind: "seeds", directory, summary, seeds };
  }
  validate(runSummarySchema, value, summaryPath);
  const summary = { ...(value as RunSummary), runDirectory: directory };
  const recipePath = join(directory, "recipe.json");
  let recipe: Recipe;
  try {
    recipe = parseRecipe({ value: await readJsonFile(recipePath), label: recipePath });
  } catch (error) {
    if (error instanceof RecipeError && error.code === "run_folder_invalid") throw error;
    throw invalid(`${recipePath}: ${(error as Error).message}`, { path: recipePath }, error);
  }
  return { kind: "single", directory, summary, recipe };
}

/** Regenerates report.md and report.html from a run folder; returns the files written. */
export async function regenerateReports(params: { directory: string }): Promise<string[]> {
  const folder = await readRunFolder(params);
  return writeFolderReports(folder);
}

async function writeFolderReports(folder: RunFolder): Promise<string[]> {
  if (folder.kind === "single") {
    const { html, markdown } = await writeReports({ summary: folder.summary, recipe: folder.recipe });
    return [markdown, html];
  }
  const written: string[] = [];
  for (const seed of folder.seeds) written.push(...(await writeFolderReports(seed)));
  const markdown = join(folder.directory, "report.md");
  const html = join(folder.directory, "report.html");
  await writeFileAtomic({ path: markdown, content: renderSeedsMarkdown({ summary: folder.summary }) });
  await writeFileAtomic({ path: html, content: renderSeedsHtml({ summary: folder.summary }) });
  written.push(markdown, html);
  return written;
}

/** One run (or one seed of a multi-seed run, or a multi-seed mean) in a comparison. */
export interface ComparedRun {
  /** The folder as given (seeds: `<folder>/seed-<N>`; a mean: `<folder> (mean)`). */
  label: string;
  directory: string;
  kind: "run" | "seed" | "mean";
  status: string;
  seeds: number[];
  /** "PASS (4/4)", "FAIL (1 of 4)", "not checked". */
  verdict: string;
  provenance: Provenance | null;
  environment: Partial<RunEnvironment> | null;
}

export interface ComparedCell {
  value: number | null;
  /** Item-level bootstrap interval of one run; the seed interval of a mean. */
  interval: { lower: number; upper: number } | null;
  items: number | null;
  /** This number's expected-row verdict (null: no such row). */
  passed: boolean | null;
}

export interface RunComparison {
  runs: ComparedRun[];
  /** One row per after/task/metric any run has; `cells[i]` belongs to `runs[i]`. */
  rows: Array<{ after: string; task: string; metric: string; cells: ComparedCell[] }>;
  /** Per run (from the second on): how its code and machine differ from the first run's. */
  differences: Array<{ label: string; differences: ProvenanceDifference[] }>;
}

function verdictOf(expected: { passed: boolean; rows: number; failed: number } | null): string {
  if (expected === null) return "not checked";
  return expected.passed
    ? `PASS (${expected.rows}/${expected.rows})`
    : `FAIL (${expected.failed} of ${expected.rows})`;
}

function singleEntry(
  folder: Extract<RunFolder, { kind: "single" }>,
  label: string,
  kind: "run" | "seed",
): {
  run: ComparedRun;
  cells: Map<string, ComparedCell>;
} {
  const { summary } = folder;
  const cells = new Map<string, ComparedCell>();
  for (const stage of summary.stages)
    for (const [task, metrics] of Object.entries(stage.evals))
      for (const [metric, estimate] of Object.entries(metrics)) {
        const check = stage.comparison?.rows.find((row) => row.task === task && row.metric === metric);
        cells.set(`${stage.name}\u0000${task}\u0000${metric}`, {
          value: estimate.value,
          interval: estimate.confidenceInterval,
          items: estimate.count,
          passed: check === undefined ? null : check.passed,
        });
      }
  return {
    run: {
      label,
      directory: folder.directory,
      kind,
      status: summary.status,
      seeds: [summary.seed.root],
      verdict: verdictOf(summary.expected),
      provenance: summary.provenance ?? null,
      environment: summary.environment,
    },
    cells,
  };
}

/** Compares run folders (each multi-seed folder: its mean and each of its seeds). */
export async function compareRuns(params: { directories: string[] }): Promise<RunComparison> {
  const entries: Array<{ run: ComparedRun; cells: Map<string, ComparedCell> }> = [];
  for (const directory of params.directories) {
    const folder = await readRunFolder({ directory });
    if (folder.kind === "single") {
      entries.push(singleEntry(folder, directory, "run"));
      continue;
    }
    const cells = new Map<string, ComparedCell>();
    for (const row of folder.summary.rows)
      cells.set(`${row.after}\u0000${row.task}\u0000${row.metric}`, {
        value: row.mean,
        interval: row.seedInterval,
        items: row.items,
        passed: row.verdict === null ? null : row.verdict.passed,
      });
    const first = folder.seeds[0];
    entries.push({
      run: {
        label: `${directory} (mean)`,
        directory: folder.directory,
        kind: "mean",
        status: folder.summary.status,
        seeds: folder.summary.seeds,
        verdict: verdictOf(folder.summary.expected),
        provenance: first?.kind === "single" ? (first.summary.provenance ?? null) : null,
        environment: folder.summary.environment,
      },
      cells,
    });
    for (const seed of folder.seeds)
      if (seed.kind === "single")
        entries.push(singleEntry(seed, join(directory, `seed-${seed.summary.seed.root}`), "seed"));
  }
  const keys: string[] = [];
  for (const entry of entries) for (const key of entry.cells.keys()) if (!keys.includes(key)) keys.push(key);
  const empty: ComparedCell = { value: null, interval: null, items: null, passed: null };
  const reference = entries[0]?.run;
  return {
    runs: entries.map((entry) => entry.run),
    rows: keys.map((key) => {
      const [after, task, metric] = key.split("\u0000") as [string, string, string];
      return { after, task, metric, cells: entries.map((entry) => entry.cells.get(key) ?? empty) };
    }),
    differences:
      reference === undefined
        ? []
        : entries.slice(1).map((entry) => ({
            label: entry.run.label,
            differences: provenanceDifferences({
              reference: { provenance: reference.provenance, environment: reference.environment },
              current: { provenance: entry.run.provenance, environment: entry.run.environment },
            }),
          })),
  };
}

/** The comparison as a text table (one column per run), then the provenance differences. */
export function formatRunComparison(comparison: RunComparison): string {
  const header = ["after / task / metric", ...comparison.runs.map((_, index) => `[${index + 1}]`)];
  const cell = (value: ComparedCell) =>
    value.value === null
      ? "—"
      : `${value.value.toFixed(4)} ${formatInterval(value.interval)}${value.items === null ? "" : ` n=${value.items}`}${
          value.passed === null ? "" : value.passed ? " pass" : " FAIL"
        }`;
  const table = [
    header,
    ["status", ...comparison.runs.map((run) => run.status)],
    ["expected table", ...comparison.runs.map((run) => run.verdict)],
    ["seeds", ...comparison.runs.map((run) => run.seeds.join(","))],
    ...comparison.rows.map((row) => [`${row.after} / ${row.task} / ${row.metric}`, ...row.cells.map(cell)]),
  ];
  const widths = header.map((_, column) => Math.max(...table.map((line) => (line[column] ?? "").length)));
  const lines = table.map((line) =>
    line
      .map((text, column) => text.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  return [
    ...comparison.runs.map((run, index) => `[${index + 1}] ${run.label}`),
    "",
    ...lines,
    "",
    "intervals: one run — the item-level 95% bootstrap CI (seed 0); a mean — the 95% t interval over its seeds",
    ...comparison.differences.flatMap((entry) =>
      entry.differences.length === 0
        ? [`provenance of ${entry.label}: same code and machine as [1]`]
        : [
            `provenance of ${entry.label} differs from [1]:`,
            ...entry.differences.map(
              (difference) => `  ${difference.field}: ${difference.reference} → ${difference.current}`,
            ),
          ],
    ),
  ].join("\n");
}
