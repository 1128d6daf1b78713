/**
 * Multi-seed runs (`posttrain run|reproduce <recipe> --seeds 1,2,3`): one run per root seed,
 * sequentially, each a full run folder `seed-<N>/` inside
 * `runs/<recipe>-<version>[-<variant>]/<run-id>-seeds/`, then one aggregate `summary.json`,
 * `report.md` and `report.html` there: per row the per-seed values, their mean, standard
 * deviation and seed-level 95% interval, the item-level interval of each seed, the verdict of
 * every expected row (the mean of k seeds against the row's band for k runs) and of every claim
 * (paired test over the seeds), and the expected rows these seeds would record.
 *
 * Resumable: `seeds.json` fixes the seed list; a seed whose run completed is read back, the
 * first unfinished one resumes from its checkpoints (`resume: true` on its folder).
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { PosttrainError, parseWithSchema, writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import { z } from "zod";
import { describeEnvironment, type RunEnvironment } from "./environment.js";
import { RecipeError } from "./errors.js";
import { formatInterval } from "./report.js";
import { assertRunId, newRunId, observedMetric, type RunRecipeParams, runRecipe } from "./runner.js";
import {
  type ExpectedRow,
  type Recipe,
  type RecordingMachine,
  recordingMachineSchema,
  reportedTasks,
} from "./schema.js";
import { describeSample, type Interval, meanInterval } from "./statistics.js";
import type { RunSummary } from "./summary.js";
import { type ClaimVerdict, judgeExpected, type RowVerdict } from "./verdict.js";

/** Parses `--seeds`: a list `1,2,3` or a count `5` (= seeds 1..5). */
export function parseSeedList(text: string): number[] {
  const trimmed = text.trim();
  const fail = (): never => {
    throw new RecipeError({
      code: "recipe_invalid_seed",
      message: `--seeds ${JSON.stringify(text)}: give a count (5 = seeds 1..5) or a comma-separated list of distinct non-negative integers (1,2,3)`,
      details: { seeds: text },
    });
  };
  if (/^\d+$/.test(trimmed)) {
    const count = Number(trimmed);
    if (count < 1 || count > 1000) fail();
    return Array.from({ length: count }, (_, index) => index + 1);
  }
  const parts = trimmed.split(",").map((part) => part.trim());
  if (parts.some((part) => !/^\d{1,9}$/.test(part))) fail();
  const seeds = parts.map(Number);
  if (new Set(seeds).size !== seeds.length) fail();
  return seeds;
}

/** One seed's run in an aggregate. */
export interface SeedRun {
  seed: number;
  runDirectory: string;
  status: RunSummary["status"] | "pending";
  /** stage → SHA-256 of its model (different seeds give different models). */
  modelSha256: Record<string, string | null>;
}

/** One evaluated number across seeds. */
export interface SeedRow {
  after: string;
  task: string;
  metric: string;
  /** seed → value (null: that seed has no value). */
  perSeed: Record<string, number | null>;
  /** seed → the item-level 95% interval of that seed's value. */
  itemIntervals: Record<string, Interval | null>;
  /** The eval's item count (the first seed's; null when unknown). */
  items: number | null;
  mean: number | null;
  standardDeviation: number | null;
  /** The 95% t interval of the mean over seeds (null with fewer than two values). */
  seedInterval: Interval | null;
  /** This row's expected-table verdict (null: the table has no such row). */
  verdict: RowVerdict | null;
}

/** The aggregate `summary.json` of a multi-seed run. */
export interface SeedsSummary {
  schemaVersion: 1;
  kind: "seeds";
  recipe: { name: string; version: string; variant: string | null; packageName: string | null };
  runId: string;
  runDirectory: string;
  seeds: number[];
  status: "completed" | "interrupted" | "failed";
  environment: RunEnvironment;
  runs: SeedRun[];
  rows: SeedRow[];
  claims: ClaimVerdict[];
  expected: { passed: boolean; rows: number; failed: number } | null;
  /**
   * The expected rows these seeds record (paste into the recipe's `expected` to publish them;
   * null while a seed is missing).
   */
  recordedRows: ExpectedRow[] | null;
}

export interface RunSeedsParams extends Omit<RunRecipeParams, "seed" | "runDirectory" | "runId" | "resume"> {
  /** The root seeds, run in this order. With `resume`, must match the run's `seeds.json` when given. */
  seeds?: readonly number[];
  /** The multi-seed run's folder name; with `resume`, default the latest multi-seed run. */
  runId?: string;
  resume?: boolean;
}

async function latestSeedsRun(directory: string): Promise<string | null> {
  if (!existsSync(directory)) return null;
  const entries = (await readdir(directory, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && existsSync(join(directory, entry.name, "seeds.json")))
    .map((entry) => entry.name)
    .sort();
  return entries.at(-1) ?? null;
}

/** `seeds.json`: the seed list a multi-seed run was started with. */
const seedPlanSchema = z.strictObject({
  seeds: z.array(z.number().int().nonnegative()).min(1),
});

/** The parts of a seed's summary.json that decide whether it is reused (the rest is kept as written). */
const writtenSummarySchema = z.looseObject({
  status: z.enum(["completed", "interrupted", "failed"]),
  seed: z.looseObject({ root: z.number().int() }),
  stages: z.array(z.looseObject({ name: z.string() })),
});

/** A seed's summary.json as written by runRecipe; null when absent or not a summary (the seed then runs again). */
async function readSummary(path: string): Promise<RunSummary | null> {
  try {
    const value: unknown = JSON.parse(await readFile(path, "utf8"));
    return writtenSummarySchema.safeParse(value).success ? (value as RunSummary) : null;
  } catch {
    return null;
  }
}

/** Runs (or resumes) a recipe over several root seeds; returns the aggregate (also written as summary.json). */
export async function runSeeds(params: RunSeedsParams): Promise<SeedsSummary> {
  const { loaded } = params;
  const { recipe } = loaded;
  const log = params.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const recipeDirectory = resolve(
    params.runsDirectory ?? "runs",
    `${recipe.name}-${recipe.version}${loaded.variant === null ? "" : `-${loaded.variant}`}`,
  );
  if (params.runId !== undefined) assertRunId(params.runId);
  const runId =
    params.runId ??
    (params.resume === true ? await latestSeedsRun(recipeDirectory) : null) ??
    `${newRunId()}-seeds`;
  const runDirectory = join(recipeDirectory, runId);
  const planPath = join(runDirectory, "seeds.json");
  let seeds: number[];
  if (existsSync(planPath)) {
    const planned = parseWithSchema({
      schema: seedPlanSchema,
      value: JSON.parse(await readFile(planPath, "utf8")),
      label: planPath,
    }).seeds;
    if (params.seeds !== undefined && params.seeds.join(",") !== planned.join(","))
      throw new RecipeError({
        code: "run_state_mismatch",
        message: `${runDirectory} runs seeds ${planned.join(",")}, not ${params.seeds.join(",")}`,
        details: { runDirectory, planned, requested: params.seeds },
      });
    seeds = planned;
    log(`resuming the multi-seed run ${runDirectory} (seeds ${seeds.join(", ")})`);
  } else {
    if (params.seeds === undefined || params.seeds.length === 0)
      throw new RecipeError({
        code: "recipe_invalid_seed",
        message: `no seeds given, and ${recipeDirectory} has no multi-seed run to resume`,
      });
    seeds = [...params.seeds];
    await mkdir(runDirectory, { recursive: true });
    await writeJsonAtomic({ path: planPath, value: { seeds } });
  }

  const summaries = new Map<number, RunSummary>();
  let status: SeedsSummary["status"] = "completed";
  let failure: unknown = null;
  const { seeds: _seeds, runId: _runId, resume: _resume, ...runParams } = params;
  for (const seed of seeds) {
    const seedDirectory = join(runDirectory, `seed-${seed}`);
    const previous = await readSummary(join(seedDirectory, "summary.json"));
    if (previous !== null && previous.status === "completed" && previous.seed.root === seed) {
      log(`seed ${seed}: completed earlier, read from ${seedDirectory}`);
      summaries.set(seed, previous);
      continue;
    }
    log(`seed ${seed} (${seeds.indexOf(seed) + 1} of ${seeds.length}): ${seedDirectory}`);
    try {
      const summary = await runRecipe({
        ...runParams,
        seed,
        seeds,
        runDirectory: seedDirectory,
        resume: true,
        log,
      });
      summaries.set(seed, summary);
      if (summary.status !== "completed") {
        status = summary.status;
        break;
      }
    } catch (error) {
      status = "failed";
      failure = error;
      const written = await readSummary(join(seedDirectory, "summary.json"));
      if (written !== null) summaries.set(seed, written);
      break;
    }
  }

  const aggregate = aggregateSeeds({
    recipe,
    loaded: {
      name: recipe.name,
      version: recipe.version,
      variant: loaded.variant,
      packageName: loaded.packageName,
    },
    runId: basename(runDirectory),
    runDirectory,
    seeds,
    summaries,
    status,
  });
  await writeJsonAtomic({ path: join(runDirectory, "summary.json"), value: aggregate });
  await writeFileAtomic({
    path: join(runDirectory, "report.md"),
    content: renderSeedsMarkdown({ summary: aggregate }),
  });
  await writeFileAtomic({
    path: join(runDirectory, "report.html"),
    content: renderSeedsHtml({ summary: aggregate }),
  });
  if (failure !== null) {
    if (PosttrainError.isInstance(failure)) throw failure;
    throw new RecipeError({
      code: "stage_failed",
      message: `multi-seed run ${runId} failed: ${(failure as Error).message}`,
      cause: failure,
      details: { runDirectory },
    });
  }
  return aggregate;
}

/** Builds the aggregate from the per-seed summaries (pure; exported for tests and `reproduce`). */
export function aggregateSeeds(params: {
  recipe: Recipe;
  loaded: SeedsSummary["recipe"];
  runId: string;
  runDirectory: string;
  seeds: readonly number[];
  summaries: ReadonlyMap<number, RunSummary>;
  status: SeedsSummary["status"];
}): SeedsSummary {
  const { recipe, seeds, summaries } = params;
  const observe = ({
    after,
    task,
    metric,
    seed,
  }: {
    after: string;
    task: string;
    metric: string;
    seed: number;
  }) => {
    const stage = summaries.get(seed)?.stages.find((candidate) => candidate.name === after);
    return stage === undefined ? null : observedMetric({ recipe, stage, task, metric });
  };
  const finished = seeds.filter((seed) => summaries.get(seed)?.status === "completed");
  const complete = finished.length === seeds.length;
  // The table is judged once every seed finished (a partial mean would be judged against the wrong band).
  const verdict = complete ? judgeExpected({ recipe, seeds, observe }) : null;

  const keys: Array<{ after: string; task: string; metric: string }> = [];
  const seen = new Set<string>();
  const add = (key: { after: string; task: string; metric: string }) => {
    const id = `${key.after}\0${key.task}\0${key.metric}`;
    if (seen.has(id)) return;
    seen.add(id);
    keys.push(key);
  };
  for (const stage of recipe.stages) {
    if (!stage.evaluate) continue;
    for (const task of reportedTasks(recipe))
      add({ after: stage.name, task: task.name, metric: task.primaryMetric });
    for (const row of recipe.expected.filter((candidate) => candidate.after === stage.name)) add(row);
  }
  const rows: SeedRow[] = keys.map((key) => {
    const perSeed: Record<string, number | null> = {};
    const itemIntervals: Record<string, Interval | null> = {};
    for (const seed of seeds) {
      perSeed[String(seed)] = observe({ ...key, seed });
      const stage = summaries.get(seed)?.stages.find((candidate) => candidate.name === key.after);
      const interval = stage?.evals[key.task]?.[key.metric]?.confidenceInterval ?? null;
      itemIntervals[String(seed)] = interval;
    }
    const counted = seeds
      .map((seed) => summaries.get(seed)?.stages.find((candidate) => candidate.name === key.after))
      .map((stage) => stage?.evals[key.task]?.[key.metric]?.count)
      .find((count) => count !== undefined);
    const values = Object.values(perSeed).filter((value): value is number => value !== null);
    const description = values.length === 0 ? null : describeSample(values);
    return {
      ...key,
      perSeed,
      itemIntervals,
      items: counted ?? null,
      mean: description?.mean ?? null,
      standardDeviation: description?.standardDeviation ?? null,
      seedInterval: meanInterval(values),
      verdict:
        verdict?.rows.find(
          (row) => row.after === key.after && row.task === key.task && row.metric === key.metric,
        ) ?? null,
    };
  });
  const environment = describeEnvironment();
  const machine = {
    cpu: environment.cpu,
    instructionSets: environment.instructionSets.filter((name) =>
      (recordingMachineSchema.shape.instructionSets.element.options as readonly string[]).includes(name),
    ) as RecordingMachine["instructionSets"],
    threads: environment.threads,
  };
  const recordedRows: ExpectedRow[] | null =
    complete && seeds.length >= 2
      ? rows.map((row) => ({
          after: row.after,
          task: row.task,
          metric: row.metric,
          perSeed: Object.fromEntries(
            Object.entries(row.perSeed).filter((entry): entry is [string, number] => entry[1] !== null),
          ),
          machines: [machine],
          codeVersion: recipe.version,
          ...(row.items === null ? {} : { items: row.items }),
          source: `posttrain run --seeds ${seeds.join(",")} (${params.runId}), ${environment.cpu}, ${environment.threads} threads`,
        }))
      : null;
  return {
    schemaVersion: 1,
    kind: "seeds",
    recipe: params.loaded,
    runId: params.runId,
    runDirectory: params.runDirectory,
    seeds: [...seeds],
    status: params.status,
    environment,
    runs: seeds.map((seed) => {
      const summary = summaries.get(seed);
      return {
        seed,
        runDirectory: summary?.runDirectory ?? join(params.runDirectory, `seed-${seed}`),
        status: summary?.status ?? "pending",
        modelSha256: Object.fromEntries(
          (summary?.stages ?? []).map((stage) => [stage.name, stage.modelSha256]),
        ),
      };
    }),
    rows,
    claims: verdict?.claims ?? [],
    expected:
      verdict === null || verdict.rows.length + verdict.claims.length === 0
        ? null
        : {
            passed: verdict.passed,
            rows: verdict.rows.length + verdict.claims.length,
            failed: verdict.failed,
          },
    recordedRows,
  };
}

const format = (value: number | null) => (value === null ? "—" : value.toFixed(3));

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((cell) => cell.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function verdictLine(summary: SeedsSummary): string {
  return summary.expected === null
    ? "expected table: not checked"
    : `expected table: ${summary.expected.passed ? "PASS" : "FAIL"} (${summary.expected.rows - summary.expected.failed}/${summary.expected.rows} over ${summary.seeds.length} seeds)`;
}

function rowCells(summary: SeedsSummary): { header: string[]; cells: string[][] } {
  const header = [
    "after",
    "task",
    "metric",
    ...summary.seeds.map((seed) => `seed ${seed}`),
    "mean",
    "sd",
    "95% interval of the mean (seeds)",
    "expected",
    "verdict",
  ];
  const cells = summary.rows.map((row) => [
    row.after,
    row.task,
    row.metric,
    ...summary.seeds.map((seed) => {
      const value = row.perSeed[String(seed)] ?? null;
      const interval = row.itemIntervals[String(seed)] ?? null;
      return value === null ? "—" : `${format(value)} ${formatInterval(interval)}`;
    }),
    format(row.mean),
    format(row.standardDeviation),
    formatInterval(row.seedInterval),
    row.verdict === null
      ? "—"
      : row.verdict.kind === "tolerance"
        ? `tolerance ${format(row.verdict.expected)} ± ${format(row.verdict.tolerance)}`
        : `seeds ${format(row.verdict.expected)} [${format(row.verdict.band.lower)}, ${format(row.verdict.band.upper)}]`,
    row.verdict === null ? "—" : row.verdict.passed ? "pass" : "FAIL",
  ]);
  return { header, cells };
}

/** The aggregate report.md. */
export function renderSeedsMarkdown(params: { summary: SeedsSummary }): string {
  const { summary } = params;
  const { header, cells } = rowCells(summary);
  const environment = summary.environment;
  return [
    `# ${summary.recipe.name} ${summary.recipe.version}${summary.recipe.variant === null ? "" : ` (${summary.recipe.variant})`} — ${summary.seeds.length} seeds, run ${summary.runId}`,
    "",
    `**Status:** ${summary.status}. **${verdictLine(summary)}**.`,
    "",
    "## Evals over seeds",
    "",
    "Each seed's value has its item-level 95% bootstrap interval beside it (the eval's sampling noise); mean, sd and the interval of the mean are over seeds (the seed spread). A row's verdict compares the mean of the seeds with the band for the mean of that many runs.",
    "",
    table(header, cells),
    "",
    ...summary.rows
      .filter((row) => row.verdict !== null)
      .map(
        (row) =>
          `- ${row.after} / ${row.task} / ${row.metric}: ${row.verdict?.passed ? "pass" : "FAIL"} — ${row.verdict?.explanation}`,
      ),
    "",
    "## Claims",
    "",
    summary.claims.length === 0
      ? "none"
      : summary.claims
          .map((claim) => `- ${claim.statement}: ${claim.status} — ${claim.explanation}`)
          .join("\n"),
    "",
    "## Runs",
    "",
    table(
      [
        "seed",
        "status",
        "folder",
        ...Object.keys(summary.runs[0]?.modelSha256 ?? {}).map((stage) => `${stage} model`),
      ],
      summary.runs.map((run) => [
        String(run.seed),
        run.status,
        run.runDirectory,
        ...Object.values(run.modelSha256).map((hash) => hash?.slice(0, 16) ?? "—"),
      ]),
    ),
    "",
    "## Expected rows these seeds record",
    "",
    summary.recordedRows === null
      ? "Not yet: every seed must finish (and at least 2 seeds; publishing needs 5)."
      : ["```json", JSON.stringify(summary.recordedRows, null, 2), "```"].join("\n"),
    "",
    "## Environment",
    "",
    `${environment.cpu} (${environment.instructionSets.join(", ") || "instruction sets unknown"}), ${environment.cores} cores (${environment.threads} threads used), Node ${environment.node}, ${environment.platform}.`,
    "",
  ].join("\n");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The aggregate report.html (self-contained, no script). */
export function renderSeedsHtml(params: { summary: SeedsSummary }): string {
  const { summary } = params;
  const { header, cells } = rowCells(summary);
  const htmlTable = (head: string[], body: string[][]) =>
    `<table><thead><tr>${head.map((cell) => `<th>${escapeHtml(cell)}</th>`).join("")}</tr></thead><tbody>${body
      .map(
        (row) =>
          `<tr>${row.map((cell) => `<td class="${cell === "FAIL" ? "fail" : cell === "pass" ? "pass" : ""}">${escapeHtml(cell)}</td>`).join("")}</tr>`,
      )
      .join("")}</tbody></table>`;
  const list = (items: string[]) =>
    items.length === 0
      ? "<p>none</p>"
      : `<ul>${items.map((item) => `<li>${escapeHtml(item)}</li>`).join("")}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`${summary.recipe.name} ${summary.recipe.version} — ${summary.seeds.length} seeds`)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
td.fail{color:#b00;font-weight:bold}td.pass{color:#070}pre{background:#f6f6f6;padding:8px}</style></head>
<body>
<h1>${escapeHtml(`${summary.recipe.name} ${summary.recipe.version}${summary.recipe.variant === null ? "" : ` (${summary.recipe.variant})`} — seeds ${summary.seeds.join(", ")}`)}</h1>
<p id="verdict"><b>Status:</b> ${escapeHtml(summary.status)} · <b>${escapeHtml(verdictLine(summary))}</b></p>
<h2>Evals over seeds</h2>
<p>Each seed's value has its item-level 95% bootstrap interval beside it; mean, sd and the interval of the mean are over seeds.</p>
${htmlTable(header, cells)}
${list(summary.rows.filter((row) => row.verdict !== null).map((row) => `${row.after} / ${row.task} / ${row.metric}: ${row.verdict?.passed ? "pass" : "FAIL"} — ${row.verdict?.explanation}`))}
<h2>Claims</h2>
${list(summary.claims.map((claim) => `${claim.statement}: ${claim.status} — ${claim.explanation}`))}
<h2>Runs</h2>
${htmlTable(
  ["seed", "status", "folder", "model sha256 per stage"],
  summary.runs.map((run) => [
    String(run.seed),
    run.status,
    run.runDirectory,
    Object.entries(run.modelSha256)
      .map(([stage, hash]) => `${stage} ${hash?.slice(0, 16) ?? "—"}`)
      .join(", "),
  ]),
)}
<h2>Expected rows these seeds record</h2>
${summary.recordedRows === null ? "<p>Not yet: every seed must finish.</p>" : `<pre>${escapeHtml(JSON.stringify(summary.recordedRows, null, 2))}</pre>`}
</body></html>
`;
}
