/**
 * The run report: `report.html` (self-contained — uPlot's script and stylesheet are inlined
 * from node_modules and the data is embedded as JSON, so it opens offline) and `report.md`.
 * Both lead with the verdict: the run's status (interrupted: the command that resumes it), the
 * expected-table verdict with item counts and 95% intervals, and evals across stages (HTML: a
 * chart); then the key curves (loss, reward per verifier, KL, held-out checks) smoothed with an
 * EMA over the raw series (Markdown: the mean of the first and last 10% and the trend), series
 * with one point as table rows, then the stages, probes, warnings, provenance, environment and
 * the lock. `posttrain report <run>` regenerates both from a run folder.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { readEvents, writeFileAtomic } from "@posttrain/core";
import { RecipeError } from "./errors.js";
import { formatProvenanceDifferences, type ProvenanceDifference } from "./provenance.js";
import { resumeCommandOf } from "./resume-command.js";
import { type ExpectedRow, type Recipe, reportedTasks } from "./schema.js";
import type { RunSummary, StageSummary } from "./summary.js";
import { eventMetrics } from "./tracking.js";
import { type RowVerdict, rowBand } from "./verdict.js";

/** One stage's curves: x = optimizer step, one series per numeric field of its events. */
export interface StageCurves {
  stage: string;
  /** From `step-end` events: loss, learningRate, gradientNorm, rewards, KL, lengths… */
  training: Record<string, Array<[number, number]>>;
  /** From `evaluation` and RLVR `over-optimization-check` events (held-out loss, accuracy, …). */
  heldOut: Record<string, Array<[number, number]>>;
}

/** The series a chart is drawn for, in this order, when the stage logged them. */
const preferredSeries = [
  "loss",
  "tokenLoss",
  "learningRate",
  "accuracy",
  "margin",
  "kl",
  "reward",
  "responseLength",
  "gradientNorm",
];
const ignoredSeries = new Set([
  "step",
  "epoch",
  "elapsed",
  "time",
  "tokensPerSecond",
  "trainedTokens",
  "tokens",
]);

function stageDirectory(summary: RunSummary, index: number, stage: StageSummary): string {
  return join(summary.runDirectory, "stages", `${index + 1}-${stage.name}`);
}

function numericSeries(events: Array<Record<string, unknown>>): Record<string, Array<[number, number]>> {
  const series: Record<string, Array<[number, number]>> = {};
  for (const event of events) {
    const step = event["step"];
    if (typeof step !== "number") continue;
    for (const [name, value] of eventMetrics(event)) {
      if (ignoredSeries.has(name)) continue;
      series[name] ??= [];
      series[name].push([step, value]);
    }
  }
  return series;
}

/** Reads every stage's event log into curves. */
export async function stageCurves(params: { summary: RunSummary }): Promise<StageCurves[]> {
  const curves: StageCurves[] = [];
  for (const [index, stage] of params.summary.stages.entries()) {
    const path = join(stageDirectory(params.summary, index, stage), "events.jsonl");
    if (!existsSync(path)) continue;
    const events = readEvents({ path }).events as unknown as Array<Record<string, unknown>>;
    curves.push({
      stage: stage.name,
      training: numericSeries(events.filter((event) => event["type"] === "step-end")),
      heldOut: numericSeries(
        events.filter(
          (event) => event["type"] === "evaluation" || event["type"] === "over-optimization-check",
        ),
      ),
    });
  }
  return curves;
}

/**
 * Warnings: the trainers' own monitor events (any event type containing `warning`), and every
 * held-out primary metric that fell after a stage by more than its 95% interval half-width
 * (after an RLVR stage that is the over-optimisation signature: reward up, held-out down).
 */
export async function collectWarnings(params: {
  runDirectory: string;
  stages: StageSummary[];
  recipe: Recipe;
}): Promise<string[]> {
  const warnings: string[] = [];
  for (const [index, stage] of params.stages.entries()) {
    const path = join(params.runDirectory, "stages", `${index + 1}-${stage.name}`, "events.jsonl");
    if (!existsSync(path)) continue;
    for (const event of readEvents({ path }).events as unknown as Array<Record<string, unknown>>) {
      if (typeof event["type"] === "string" && event["type"].includes("warning")) {
        warnings.push(
          `${stage.name} step ${String(event["step"] ?? "?")}: ${String(event["message"] ?? event["type"])}`,
        );
      }
    }
  }
  const evaluated = params.stages.filter((stage) => Object.keys(stage.evals).length > 0);
  for (let position = 1; position < evaluated.length; position += 1) {
    const before = evaluated[position - 1] as StageSummary;
    const after = evaluated[position] as StageSummary;
    for (const task of reportedTasks(params.recipe)) {
      const previous = before.evals[task.name]?.[task.primaryMetric];
      const current = after.evals[task.name]?.[task.primaryMetric];
      if (previous === undefined || current === undefined) continue;
      const halfWidth =
        current.confidenceInterval === null
          ? 0
          : (current.confidenceInterval.upper - current.confidenceInterval.lower) / 2;
      if (previous.value - current.value > halfWidth) {
        const kind = after.type === "rlvr" ? "possible over-optimisation: " : "";
        warnings.push(
          `${kind}held-out ${task.name} ${task.primaryMetric} fell from ${previous.value.toFixed(3)} to ${current.value.toFixed(3)} after ${after.name}`,
        );
      }
    }
  }
  return warnings;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined) return "—";
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)) return value.toExponential(2);
  return value.toFixed(digits);
}

/** An interval as `posttrain eval` prints it (4 decimals), so the two agree digit for digit. */
export function formatInterval(interval: { lower: number; upper: number } | null | undefined): string {
  if (interval === null || interval === undefined) return "—";
  return `[${interval.lower.toFixed(4)}, ${interval.upper.toFixed(4)}]`;
}

/** How an expected row's band reads in a table: "seeds 0.536 [0.41, 0.66]" or "tolerance 0.619 ± 0.060". */
export function formatBand(row: RowVerdict): string {
  return row.kind === "tolerance"
    ? `tolerance ${formatNumber(row.expected)} ± ${formatNumber(row.tolerance)}`
    : `seeds ${formatNumber(row.expected)} [${formatNumber(row.band.lower)}, ${formatNumber(row.band.upper)}]`;
}

/** One expected row of the recipe in words (its band for one run, its source). */
export function describeExpectedRow(row: ExpectedRow): string {
  const band = rowBand({ row, runs: 1 });
  return `${row.after} / ${row.task} / ${row.metric}: ${band.description} — ${row.source}`;
}

function formatSeconds(seconds: number | null): string {
  if (seconds === null) return "—";
  return seconds >= 60
    ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`
    : `${seconds.toFixed(1)} s`;
}

interface EvalRow {
  stage: string;
  task: string;
  metric: string;
  value: number;
  interval: string;
  count: number | null;
  expected: string;
  delta: string;
  verdict: string;
  explanation: string;
}

function evalRows(summary: RunSummary, recipe: Recipe): EvalRow[] {
  const rows: EvalRow[] = [];
  for (const stage of summary.stages) {
    for (const task of reportedTasks(recipe)) {
      const metrics = stage.evals[task.name];
      if (metrics === undefined) continue;
      const names = new Set([
        task.primaryMetric,
        ...(stage.comparison?.rows.filter((row) => row.task === task.name).map((row) => row.metric) ?? []),
      ]);
      for (const metric of names) {
        const estimate = metrics[metric];
        const check = stage.comparison?.rows.find((row) => row.task === task.name && row.metric === metric);
        rows.push({
          stage: stage.name,
          task: task.name,
          metric,
          value: estimate?.value ?? Number.NaN,
          interval: formatInterval(estimate?.confidenceInterval),
          count: estimate?.count ?? null,
          expected: check === undefined ? "—" : formatBand(check),
          delta:
            check?.difference == null
              ? "—"
              : `${check.difference >= 0 ? "+" : ""}${formatNumber(check.difference)}`,
          verdict: check === undefined ? "—" : check.passed ? "pass" : "FAIL",
          explanation: check?.explanation ?? "",
        });
      }
    }
  }
  return rows;
}

function lockRows(summary: RunSummary): Array<[string, string]> {
  const lock = summary.lock;
  const rows: Array<[string, string]> = [
    [
      "model",
      lock.model.kind === "hub"
        ? `${lock.model.repo}@${lock.model.revision}`
        : `initialised (${lock.model.fingerprint.slice(0, 16)})`,
    ],
    [
      "tokenizer",
      `${lock.tokenizer.source.kind === "hub" ? `${lock.tokenizer.source.repo}@${lock.tokenizer.source.revision}` : lock.tokenizer.source.directory}; template ${lock.tokenizer.chatTemplateSha256?.slice(0, 16) ?? "tokenizer's own"}`,
    ],
  ];
  for (const [key, spec] of Object.entries(lock.datasets)) {
    const where = spec.kind === "hub" ? `${spec.repo}@${spec.revision.slice(0, 12)}` : spec.directory;
    const selection = [spec.config, spec.split].filter((part) => part !== undefined).join("/");
    rows.push([
      key,
      `${where} ${selection} — ${spec.expect?.rows ?? "?"} rows, ${spec.expect?.files.length ?? 0} files`,
    ]);
  }
  for (const [name, task] of Object.entries(lock.evalTasks))
    rows.push([`task ${name}`, `${task.version} (${task.hash.slice(0, 12)})`]);
  for (const [name, version] of Object.entries(lock.verifiers)) rows.push([`verifier ${name}`, version]);
  for (const [name, version] of Object.entries(lock.packages)) rows.push([name, version]);
  return rows;
}

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((cell) => cell.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/**
 * An exponential moving average, debiased as TensorBoard's smoothing is (the first points are
 * not pulled towards 0). `weight` in [0, 1): 0 is the raw series.
 */
export function exponentialMovingAverage(params: { values: number[]; weight: number }): number[] {
  const { weight } = params;
  let last = 0;
  let debias = 0;
  return params.values.map((value) => {
    last = last * weight + (1 - weight) * value;
    debias = debias * weight + (1 - weight);
    return debias === 0 ? value : last / debias;
  });
}

/** The smoothing weight for a series of `count` points: an EMA spanning about a tenth of it. */
export function smoothingWeight(count: number): number {
  const span = Math.max(1, Math.round(count / 10));
  return span <= 1 ? 0 : 1 - 2 / (span + 1);
}

/** How a curve moved, robust to noise: the mean of its first and last 10% (at least one point each). */
export interface CurveSummary {
  points: number;
  firstStep: number;
  lastStep: number;
  startMean: number;
  endMean: number;
  /**
   * `rising` / `falling` when the two means differ by more than the series' step-to-step noise,
   * else `flat`; `too few points` below 5 points (no noise estimate to judge against).
   */
  trend: "rising" | "falling" | "flat" | "too few points";
}

export function summarizeCurve(points: Array<[number, number]>): CurveSummary | null {
  if (points.length === 0) return null;
  const values = points.map((point) => point[1]);
  const tail = Math.max(1, Math.ceil(values.length / 10));
  const mean = (slice: number[]) => slice.reduce((sum, value) => sum + value, 0) / slice.length;
  const startMean = mean(values.slice(0, tail));
  const endMean = mean(values.slice(-tail));
  // Noise: the standard deviation of consecutive differences / √2 (a trend does not inflate it).
  const differences = values.slice(1).map((value, index) => value - (values[index] as number));
  const noise =
    differences.length === 0
      ? 0
      : Math.sqrt(differences.reduce((sum, value) => sum + value * value, 0) / differences.length / 2);
  const threshold = Math.max(noise / Math.sqrt(tail), 1e-9 * Math.max(1, Math.abs(startMean)));
  const change = endMean - startMean;
  return {
    points: points.length,
    firstStep: points[0]?.[0] ?? 0,
    lastStep: points.at(-1)?.[0] ?? 0,
    startMean,
    endMean,
    trend:
      values.length < 5
        ? "too few points"
        : Math.abs(change) <= threshold
          ? "flat"
          : change > 0
            ? "rising"
            : "falling",
  };
}

/** A series' name is a key curve (charted first): loss, reward (per verifier), KL, held-out checks. */
function isKeySeries(name: string, heldOut: boolean): boolean {
  if (heldOut) return true;
  return /(^|\.)(loss|kl|rewardMean|reward|accuracy)$|^rewards\.|^perVerifier\.[^.]+\.rewardMean$/.test(name);
}

interface ChartSeries {
  stage: string;
  name: string;
  title: string;
  key: boolean;
  points: Array<[number, number]>;
}

function seriesOf(curves: StageCurves[]): { charts: ChartSeries[]; single: ChartSeries[] } {
  const all = curves.flatMap((curve) => [
    ...chartOrder(curve.training).map((name) => ({
      stage: curve.stage,
      name,
      title: `${curve.stage}: ${name}`,
      key: isKeySeries(name, false),
      points: curve.training[name] ?? [],
    })),
    ...chartOrder(curve.heldOut).map((name) => ({
      stage: curve.stage,
      name: `held-out ${name}`,
      title: `${curve.stage}: held-out ${name}`,
      key: isKeySeries(name, true),
      points: curve.heldOut[name] ?? [],
    })),
  ]);
  return {
    charts: all.filter((series) => series.points.length > 1),
    single: all.filter((series) => series.points.length === 1),
  };
}

/** The run's status in words: completed, or interrupted / failed with how to continue. */
export function describeStatus(summary: RunSummary): string {
  if (summary.status === "completed") return "completed";
  const stage = summary.stages.find((candidate) => candidate.status === summary.status);
  const where = stage === undefined ? "" : ` in stage ${stage.name}`;
  const error =
    stage?.error === null || stage?.error === undefined
      ? ""
      : ` ([${stage.error.code}] ${stage.error.message})`;
  const unfinished = summary.stages
    .filter((candidate) => candidate.status === "pending")
    .map((candidate) => candidate.name);
  return `${summary.status}${where}${error}${unfinished.length === 0 ? "" : `; not run: ${unfinished.join(", ")}`} — continue with \`${resumeCommandOf(summary)}\``;
}

/**
 * The headline verdict. A run that did not complete is not judged (its later stages' rows are
 * missing), whatever its finished stages' rows say — as `posttrain run` prints it.
 */
export function expectedVerdict(summary: RunSummary): string {
  if (summary.status !== "completed")
    return `expected table: not judged — the run ${summary.status === "interrupted" ? "was interrupted" : "failed"}${
      summary.expected === null
        ? ""
        : ` (${summary.expected.rows - summary.expected.failed} of ${summary.expected.rows} rows of the finished stages inside their band)`
    }`;
  return summary.expected === null
    ? "expected table: not checked"
    : summary.expected.passed
      ? `expected table: PASS (${summary.expected.rows} of ${summary.expected.rows} rows inside their band)`
      : `expected table: FAIL (${summary.expected.failed} of ${summary.expected.rows} rows outside their band)`;
}

/** The rows of the evals-across-stages table (one per evaluated stage × task primary metric). */
function acrossStages(
  summary: RunSummary,
  recipe: Recipe,
): Array<{
  task: string;
  metric: string;
  points: Array<{ stage: string; value: number; lower: number | null; upper: number | null; count: number }>;
}> {
  return reportedTasks(recipe).map((task) => ({
    task: task.name,
    metric: task.primaryMetric,
    points: summary.stages.flatMap((stage) => {
      const estimate = stage.evals[task.name]?.[task.primaryMetric];
      return estimate === undefined
        ? []
        : [
            {
              stage: stage.name,
              value: estimate.value,
              lower: estimate.confidenceInterval?.lower ?? null,
              upper: estimate.confidenceInterval?.upper ?? null,
              count: estimate.count,
            },
          ];
    }),
  }));
}

function provenanceLines(summary: RunSummary): string[] {
  const provenance = summary.provenance;
  if (provenance === undefined) return ["not recorded (a run from before provenance was recorded)"];
  return [
    `code: ${
      provenance.git === null
        ? "not a git checkout (installed packages below)"
        : `git ${provenance.git.commit}${provenance.git.branch === null ? "" : ` (${provenance.git.branch})`}${provenance.git.dirty ? ", with uncommitted changes (dirty)" : ", clean"}`
    }`,
    `packages: ${Object.entries(provenance.packages)
      .map(([name, version]) => `${name}@${version}`)
      .join(", ")}`,
    `onnxruntime-node ${provenance.onnxruntimeNode ?? "unknown"}, Node ${provenance.node}`,
    `command: ${provenance.commandLine.join(" ") || "—"}`,
    `seeds: root ${provenance.seeds.root}${provenance.seeds.all === null ? "" : ` (of ${provenance.seeds.all.join(", ")})`}`,
  ];
}

function environmentLine(summary: RunSummary): string {
  const environment = summary.environment;
  return `${environment.cpu} (${(environment.instructionSets ?? []).join(", ") || "instruction sets unknown"}), ${environment.cores} cores (${environment.threads} threads used), ${environment.memoryGiB} GiB, Node ${environment.node}, ${environment.platform}. Started ${summary.startedAt}, finished ${summary.finishedAt}.`;
}

const evalHeader = [
  "after",
  "task",
  "metric",
  "value",
  "95% CI (bootstrap)",
  "items",
  "expected",
  "delta",
  "verdict",
];

function evalCells(row: EvalRow): string[] {
  return [
    row.stage,
    row.task,
    row.metric,
    formatNumber(row.value),
    row.interval,
    row.count === null ? "—" : String(row.count),
    row.expected,
    row.delta,
    row.verdict,
  ];
}

function describeCurve(name: string, points: Array<[number, number]>): string {
  const curve = summarizeCurve(points);
  if (curve === null) return `- ${name}: no points`;
  return `- ${name}: ${formatNumber(curve.startMean)} (mean of the first 10%) → ${formatNumber(curve.endMean)} (mean of the last 10%), ${curve.trend}; ${curve.points} points, steps ${curve.firstStep}–${curve.lastStep}`;
}

/** report.md */
export function renderMarkdown(params: {
  summary: RunSummary;
  recipe: Recipe;
  curves: StageCurves[];
  /** Provenance differences to show (e.g. from the recipe's recording machines). */
  differences?: ProvenanceDifference[];
}): string {
  const { summary, recipe, curves } = params;
  const rows = evalRows(summary, recipe);
  const { charts, single } = seriesOf(curves);
  const checked = rows.filter((row) => row.verdict !== "—");
  const parts = [
    `# ${recipe.name} ${recipe.version}${summary.recipe.variant === null ? "" : ` (${summary.recipe.variant})`} — run ${summary.runId}`,
    "",
    `**Status:** ${describeStatus(summary)}. **${expectedVerdict(summary)}.** **Root seed:** ${summary.seed.root}${summary.seed.overridden ? " (--seed)" : " (the recipe's)"}. **Wall time:** ${formatSeconds(summary.wallSeconds)}.`,
    "",
    "## Verdict",
    "",
    checked.length === 0
      ? "No expected rows were checked."
      : markdownTable(evalHeader, checked.map(evalCells)),
    "",
    ...checked
      .filter((row) => row.explanation !== "")
      .map((row) => `- ${row.stage} / ${row.task} / ${row.metric}: ${row.verdict} — ${row.explanation}`),
    ...(summary.claims.length === 0
      ? []
      : [
          "",
          "Claims:",
          "",
          ...summary.claims.map((claim) => `- ${claim.statement}: ${claim.status} — ${claim.explanation}`),
        ]),
    "",
    "## Evals across stages",
    "",
    markdownTable(
      [
        "task",
        "metric",
        ...summary.stages.filter((stage) => Object.keys(stage.evals).length > 0).map((stage) => stage.name),
      ],
      acrossStages(summary, recipe).map((task) => [
        task.task,
        task.metric,
        ...task.points.map(
          (point) =>
            `${formatNumber(point.value)} ${formatInterval(point.lower === null || point.upper === null ? null : { lower: point.lower, upper: point.upper })} (n=${point.count})`,
        ),
      ]),
    ),
    "",
    "## All evals",
    "",
    markdownTable(evalHeader, rows.map(evalCells)),
    "",
    "The 95% CI is the item-level bootstrap interval (bootstrap seed 0, the same method and numbers as `posttrain eval`); it shows the eval's sampling noise, not the seed spread (run `--seeds` for that).",
    "",
    "Expected numbers and their sources:",
    "",
    ...recipe.expected.map((row) => `- ${describeExpectedRow(row)}`),
    "",
    "## Curves",
    "",
    "Each curve: the mean of its first 10% of points → the mean of its last 10%, and whether it rose, fell or stayed within its step-to-step noise.",
    "",
    ...curves.flatMap((curve) => {
      const stageCharts = charts.filter((series) => series.stage === curve.stage);
      return stageCharts.length === 0
        ? []
        : [
            `### ${curve.stage}`,
            "",
            ...stageCharts.map((series) => describeCurve(series.name, series.points)),
            "",
          ];
    }),
    ...(single.length === 0
      ? []
      : [
          "### Single-point series",
          "",
          markdownTable(
            ["stage", "series", "step", "value"],
            single.map((series) => [
              series.stage,
              series.name,
              String(series.points[0]?.[0] ?? "—"),
              formatNumber(series.points[0]?.[1]),
            ]),
          ),
          "",
        ]),
    "## Stages",
    "",
    markdownTable(
      ["stage", "type", "status", "model sha256", "train wall time", "eval wall time"],
      summary.stages.map((stage) => [
        stage.name,
        stage.type,
        stage.error === null ? stage.status : `${stage.status}: [${stage.error.code}] ${stage.error.message}`,
        stage.modelSha256?.slice(0, 16) ?? "—",
        formatSeconds(stage.wallSeconds),
        formatSeconds(stage.evalWallSeconds),
      ]),
    ),
    "",
    "## Verifier probes",
    "",
    summary.probes === null
      ? "not run"
      : markdownTable(
          ["verifier", "version", "passed", "failed", "failed probes"],
          summary.probes.map((probe) => [
            probe.verifier,
            probe.version,
            String(probe.passed),
            String(probe.failed),
            probe.failedProbes.join(", "),
          ]),
        ),
    "",
    "## Warnings",
    "",
    summary.warnings.length === 0 ? "none" : summary.warnings.map((warning) => `- ${warning}`).join("\n"),
    "",
    "## Provenance",
    "",
    ...provenanceLines(summary).map((line) => `- ${line}`),
    ...(params.differences === undefined || params.differences.length === 0
      ? []
      : [
          "",
          "Differences from the reference:",
          "",
          ...formatProvenanceDifferences(params.differences).map((line) => `- ${line}`),
        ]),
    "",
    "## Environment",
    "",
    environmentLine(summary),
    "",
    "## Lock",
    "",
    markdownTable(["what", "pinned"], lockRows(summary)),
    "",
  ];
  return parts.join("\n");
}

async function chartingAssets(): Promise<{ script: string; style: string }> {
  try {
    const require = createRequire(import.meta.url);
    const directory = join(dirname(require.resolve("uplot/package.json")), "dist");
    const [script, style] = await Promise.all([
      readFile(join(directory, "uPlot.iife.min.js"), "utf8"),
      readFile(join(directory, "uPlot.min.css"), "utf8"),
    ]);
    return { script, style };
  } catch (error) {
    throw new RecipeError({
      code: "report_failed",
      message: "could not read uPlot from node_modules",
      cause: error,
    });
  }
}

function chartOrder(series: Record<string, Array<[number, number]>>): string[] {
  const names = Object.keys(series).filter((name) => (series[name]?.length ?? 0) > 0);
  const rank = (name: string) => {
    const index = preferredSeries.findIndex((preferred) =>
      name.toLowerCase().includes(preferred.toLowerCase()),
    );
    return index === -1 ? preferredSeries.length : index;
  };
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** report.html: self-contained, charts drawn by uPlot in the page; the verdict comes first. */
export async function renderHtml(params: {
  summary: RunSummary;
  recipe: Recipe;
  curves: StageCurves[];
  differences?: ProvenanceDifference[];
}): Promise<string> {
  const { summary, recipe, curves } = params;
  const { script, style } = await chartingAssets();
  const { charts, single } = seriesOf(curves);
  const ordered = [...charts.filter((series) => series.key), ...charts.filter((series) => !series.key)];
  const chartData = ordered.map((series) => {
    const ys = series.points.map((point) => point[1]);
    return {
      title: series.title,
      key: series.key,
      xs: series.points.map((point) => point[0]),
      raw: ys,
      smoothed: exponentialMovingAverage({ values: ys, weight: smoothingWeight(ys.length) }),
    };
  });
  const across = acrossStages(summary, recipe).filter((task) => task.points.length > 0);
  const evaluatedStages = summary.stages
    .filter((stage) => Object.keys(stage.evals).length > 0)
    .map((stage) => stage.name);
  const table = (header: string[], rows: string[][]) =>
    `<table><thead><tr>${header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join("")}</tr></thead><tbody>${rows
      .map(
        (row) =>
          `<tr>${row.map((cell) => `<td class="${cell === "FAIL" ? "fail" : cell === "pass" ? "pass" : ""}">${escapeHtml(cell)}</td>`).join("")}</tr>`,
      )
      .join("")}</tbody></table>`;
  const rows = evalRows(summary, recipe);
  const checked = rows.filter((row) => row.verdict !== "—");
  const passed = summary.expected?.passed ?? null;
  // JSON inside <script>: escape "<" so no "</script>" can close it.
  const json = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(`${recipe.name} ${recipe.version} — ${summary.runId}`)}</title>
<style>${style}
body{font:14px/1.45 system-ui,sans-serif;margin:16px 24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:6px 0 16px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
td.fail{color:#b00;font-weight:bold}td.pass{color:#070}.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{border:1px solid #ddd;padding:4px}h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:18px 0 6px}
#verdict{border:2px solid #888;border-radius:6px;padding:8px 12px;margin-bottom:12px}
#verdict.passed{border-color:#070;background:#f3fbf3}#verdict.failed{border-color:#b00;background:#fdf3f3}
#verdict .headline{font-size:16px;font-weight:bold;margin:0 0 6px}code{background:#eee;padding:1px 4px}</style></head>
<body>
<h1>${escapeHtml(`${recipe.name} ${recipe.version}${summary.recipe.variant === null ? "" : ` (${summary.recipe.variant})`}`)} — run ${escapeHtml(summary.runId)}</h1>
<section id="verdict" class="${passed === null ? "unchecked" : passed ? "passed" : "failed"}">
<p class="headline" id="verdict-headline">${escapeHtml(expectedVerdict(summary))}</p>
<p id="run-status"><b>Status:</b> ${escapeHtml(describeStatus(summary))} · <b>root seed</b> ${summary.seed.root}${summary.seed.overridden ? " (--seed)" : ""} · <b>wall time</b> ${escapeHtml(formatSeconds(summary.wallSeconds))}</p>
${checked.length === 0 ? "<p>No expected rows were checked.</p>" : table(evalHeader, checked.map(evalCells))}
${summary.claims.length === 0 ? "" : `<ul>${summary.claims.map((claim) => `<li>${escapeHtml(`${claim.statement}: ${claim.status} — ${claim.explanation}`)}</li>`).join("")}</ul>`}
</section>
<h2>Evals across stages</h2>
<div class="charts" id="evals-across-stages"></div>
${table(
  ["task", "metric", ...evaluatedStages],
  across.map((task) => [
    task.task,
    task.metric,
    ...task.points.map(
      (point) =>
        `${formatNumber(point.value)} ${formatInterval(point.lower === null || point.upper === null ? null : { lower: point.lower, upper: point.upper })} (n=${point.count})`,
    ),
  ]),
)}
<h2>Key curves</h2>
<p>Thick line: an exponential moving average (about a tenth of the series wide); thin line: the raw values.</p>
<div class="charts" id="charts"></div>
${
  single.length === 0
    ? ""
    : `<h2>Single-point series</h2>${table(
        ["stage", "series", "step", "value"],
        single.map((series) => [
          series.stage,
          series.name,
          String(series.points[0]?.[0] ?? "—"),
          formatNumber(series.points[0]?.[1]),
        ]),
      )}`
}
<h2>All evals</h2>
${table(evalHeader, rows.map(evalCells))}
<p>The 95% CI is the item-level bootstrap interval (bootstrap seed 0, as <code>posttrain eval</code>): the eval's sampling noise, not the seed spread.</p>
<ul>${rows
    .filter((row) => row.explanation !== "")
    .map(
      (row) =>
        `<li>${escapeHtml(`${row.stage} / ${row.task} / ${row.metric}: ${row.verdict} — ${row.explanation}`)}</li>`,
    )
    .join("")}</ul>
<p>Expected numbers and their sources:</p>
<ul>${recipe.expected.map((row) => `<li>${escapeHtml(describeExpectedRow(row))}</li>`).join("")}</ul>
<h2>Stages</h2>
${table(
  ["stage", "type", "status", "model sha256", "train wall time", "eval wall time"],
  summary.stages.map((stage) => [
    stage.name,
    stage.type,
    stage.error === null ? stage.status : `${stage.status}: [${stage.error.code}] ${stage.error.message}`,
    stage.modelSha256?.slice(0, 16) ?? "—",
    formatSeconds(stage.wallSeconds),
    formatSeconds(stage.evalWallSeconds),
  ]),
)}
<h2>Verifier probes</h2>
${
  summary.probes === null
    ? "<p>not run</p>"
    : table(
        ["verifier", "version", "passed", "failed", "failed probes"],
        summary.probes.map((probe) => [
          probe.verifier,
          probe.version,
          String(probe.passed),
          String(probe.failed),
          probe.failedProbes.join(", "),
        ]),
      )
}
<h2>Warnings</h2>
${summary.warnings.length === 0 ? "<p>none</p>" : `<ul>${summary.warnings.map((warning) => `<li>${escapeHtml(warning)}</li>`).join("")}</ul>`}
<h2>Provenance</h2>
<ul id="provenance">${provenanceLines(summary)
    .map((line) => `<li>${escapeHtml(line)}</li>`)
    .join("")}</ul>
${
  params.differences === undefined || params.differences.length === 0
    ? ""
    : `<p>Differences from the reference:</p><ul>${formatProvenanceDifferences(params.differences)
        .map((line) => `<li>${escapeHtml(line)}</li>`)
        .join("")}</ul>`
}
<h2>Environment</h2>
<p>${escapeHtml(environmentLine(summary))}</p>
<h2>Lock</h2>
${table(["what", "pinned"], lockRows(summary))}
<script>${script}</script>
<script>
const charts = ${json(chartData)};
const across = ${json(across)};
const tickLabels = (plot, ticks) => ticks.map((value) => (value === 0 ? "0" : Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5 ? value.toExponential(1) : String(Number(value.toPrecision(3)))));
const stageNames = ${json(evaluatedStages)};
const acrossElement = document.getElementById("evals-across-stages");
if (across.length > 0) {
  const element = document.createElement("div");
  element.className = "chart";
  element.dataset.series = "evals across stages";
  acrossElement.appendChild(element);
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  const xs = stageNames.map((_, index) => index);
  const column = (task, field) => stageNames.map((name) => { const point = task.points.find((entry) => entry.stage === name); return point === undefined ? null : point[field]; });
  const series = [{ label: "stage" }];
  const data = [xs];
  across.forEach((task, index) => {
    const color = palette[index % palette.length];
    series.push({ label: task.task + " " + task.metric, stroke: color, width: 2, points: { show: true, size: 7 } });
    data.push(column(task, "value"));
    series.push({ label: task.task + " 95% CI low", stroke: color, width: 1, dash: [4, 4] });
    data.push(column(task, "lower"));
    series.push({ label: task.task + " 95% CI high", stroke: color, width: 1, dash: [4, 4] });
    data.push(column(task, "upper"));
  });
  new uPlot({ title: "primary metric after each stage (dashed: 95% CI)", width: 560, height: 260, scales: { x: { time: false } },
    axes: [{ values: (plot, ticks) => ticks.map((tick) => stageNames[tick] ?? "") , splits: () => xs }, { values: tickLabels, size: 60 }], series }, data, element);
}
const container = document.getElementById("charts");
for (const chart of charts) {
  const element = document.createElement("div");
  element.className = "chart";
  element.dataset.series = chart.title;
  container.appendChild(element);
  new uPlot({ title: chart.title, width: 360, height: 220, scales: { x: { time: false } },
    axes: [{}, { values: tickLabels, size: 60 }],
    series: [{ label: "step" }, { label: "raw", stroke: "rgba(31,119,180,0.35)", width: 1 }, { label: "EMA", stroke: "#1f77b4", width: 2.5 }] }, [chart.xs, chart.raw, chart.smoothed], element);
}
const verdictBox = document.getElementById("verdict").getBoundingClientRect();
document.body.dataset.verdictBottom = String(Math.round(verdictBox.bottom + window.scrollY));
document.body.dataset.chartsRendered = String(document.querySelectorAll("#charts .chart canvas").length);
document.body.dataset.acrossRendered = String(document.querySelectorAll("#evals-across-stages canvas").length);
</script>
</body></html>
`;
}

/** Writes report.html and report.md into the run directory; returns their paths. */
export async function writeReports(params: {
  summary: RunSummary;
  recipe: Recipe;
  differences?: ProvenanceDifference[];
}): Promise<{ html: string; markdown: string }> {
  const curves = await stageCurves({ summary: params.summary });
  const html = join(params.summary.runDirectory, "report.html");
  const markdown = join(params.summary.runDirectory, "report.md");
  await writeFileAtomic({ path: html, content: await renderHtml({ ...params, curves }) });
  await writeFileAtomic({ path: markdown, content: renderMarkdown({ ...params, curves }) });
  return { html, markdown };
}
