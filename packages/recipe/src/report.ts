/**
 * The run report: `report.html` (self-contained — uPlot's script and stylesheet are inlined
 * from node_modules and the data is embedded as JSON, so it opens offline) and `report.md`.
 * Both show the summary, the lock, per-stage curves (HTML: charts; Markdown: final values),
 * the eval table with expected numbers, deltas, CIs and pass/fail, the verifier probe table,
 * warnings, the environment and the wall time per stage.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { readEvents, writeFileAtomic } from "@posttrain/core";
import { RecipeError } from "./errors.js";
import type { ExpectedRow, Recipe } from "./schema.js";
import type { RunSummary, StageSummary } from "./summary.js";
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
    const visit = (prefix: string, value: Record<string, unknown>) => {
      for (const [key, entry] of Object.entries(value)) {
        const name = prefix === "" ? key : `${prefix}.${key}`;
        if (typeof entry === "number" && Number.isFinite(entry) && !ignoredSeries.has(name)) {
          series[name] ??= [];
          series[name].push([step, entry]);
        } else if (
          typeof entry === "object" &&
          entry !== null &&
          !Array.isArray(entry) &&
          prefix === "" &&
          key !== "seconds"
        ) {
          visit(name, entry as Record<string, unknown>);
        }
      }
    };
    visit("", event);
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
    for (const task of params.recipe.evals.tasks) {
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
  expected: string;
  delta: string;
  verdict: string;
  explanation: string;
}

function evalRows(summary: RunSummary, recipe: Recipe): EvalRow[] {
  const rows: EvalRow[] = [];
  for (const stage of summary.stages) {
    for (const task of recipe.evals.tasks) {
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

/** report.md */
export function renderMarkdown(params: {
  summary: RunSummary;
  recipe: Recipe;
  curves: StageCurves[];
}): string {
  const { summary, recipe, curves } = params;
  const environment = summary.environment;
  const parts = [
    `# ${recipe.name} ${recipe.version}${summary.recipe.variant === null ? "" : ` (${summary.recipe.variant})`} — run ${summary.runId}`,
    "",
    recipe.description,
    "",
    `**Status:** ${summary.status}. **Expected table:** ${
      summary.expected === null
        ? "not checked"
        : summary.expected.passed
          ? `PASS (${summary.expected.rows} rows)`
          : `FAIL (${summary.expected.failed} of ${summary.expected.rows} rows outside their band)`
    }. **Root seed:** ${summary.seed.root}${summary.seed.overridden ? " (--seed)" : " (the recipe's)"}. **Wall time:** ${formatSeconds(summary.wallSeconds)}.`,
    "",
    "## Stages",
    "",
    markdownTable(
      [
        "stage",
        "type",
        "status",
        "model sha256",
        "train wall time",
        "eval wall time",
        "final training metrics",
      ],
      summary.stages.map((stage) => [
        stage.name,
        stage.type,
        stage.error === null ? stage.status : `${stage.status}: [${stage.error.code}] ${stage.error.message}`,
        stage.modelSha256?.slice(0, 16) ?? "—",
        formatSeconds(stage.wallSeconds),
        formatSeconds(stage.evalWallSeconds),
        Object.entries(stage.trainingMetrics)
          .filter(
            ([key]) =>
              preferredSeries.some((name) => key.toLowerCase().includes(name.toLowerCase())) ||
              key.startsWith("evaluation"),
          )
          .map(([key, value]) => `${key} ${formatNumber(value)}`)
          .join(", "),
      ]),
    ),
    "",
    "## Evals",
    "",
    markdownTable(
      ["after", "task", "metric", "value", "95% CI (items)", "expected", "delta", "verdict"],
      evalRows(summary, recipe).map((row) => [
        row.stage,
        row.task,
        row.metric,
        formatNumber(row.value),
        row.interval,
        row.expected,
        row.delta,
        row.verdict,
      ]),
    ),
    "",
    "The 95% CI is the item-level bootstrap interval (the same as `posttrain eval`); it shows the eval's sampling noise, not the seed spread (run `--seeds` for that).",
    "",
    ...evalRows(summary, recipe)
      .filter((row) => row.explanation !== "")
      .map((row) => `- ${row.stage} / ${row.task} / ${row.metric}: ${row.verdict} — ${row.explanation}`),
    "",
    "Expected numbers and their sources:",
    "",
    ...recipe.expected.map((row) => `- ${describeExpectedRow(row)}`),
    "",
    ...(summary.claims.length === 0
      ? []
      : [
          "## Claims",
          "",
          ...summary.claims.map((claim) => `- ${claim.statement}: ${claim.status} — ${claim.explanation}`),
          "",
        ]),
    "## Curves (first → last logged value)",
    "",
    ...curves.flatMap((curve) => [
      `### ${curve.stage}`,
      "",
      ...Object.entries({
        ...curve.training,
        ...Object.fromEntries(
          Object.entries(curve.heldOut).map(([key, value]) => [`held-out ${key}`, value]),
        ),
      }).map(
        ([key, points]) =>
          `- ${key}: ${formatNumber(points[0]?.[1])} → ${formatNumber(points.at(-1)?.[1])} over ${points.length} points (steps ${points[0]?.[0]}–${points.at(-1)?.[0]})`,
      ),
      "",
    ]),
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
    "## Lock",
    "",
    markdownTable(["what", "pinned"], lockRows(summary)),
    "",
    "## Environment",
    "",
    `${environment.cpu} (${(environment.instructionSets ?? []).join(", ") || "instruction sets unknown"}), ${environment.cores} cores (${environment.threads} threads used), ${environment.memoryGiB} GiB, Node ${environment.node}, ${environment.platform}. Started ${summary.startedAt}, finished ${summary.finishedAt}.`,
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

/** report.html: self-contained, charts drawn by uPlot in the page. */
export async function renderHtml(params: {
  summary: RunSummary;
  recipe: Recipe;
  curves: StageCurves[];
}): Promise<string> {
  const { summary, recipe, curves } = params;
  const { script, style } = await chartingAssets();
  const charts = curves.flatMap((curve) => [
    ...chartOrder(curve.training).map((name) => ({
      stage: curve.stage,
      title: `${curve.stage}: ${name}`,
      points: curve.training[name] ?? [],
    })),
    ...chartOrder(curve.heldOut).map((name) => ({
      stage: curve.stage,
      title: `${curve.stage}: held-out ${name}`,
      points: curve.heldOut[name] ?? [],
    })),
  ]);
  const table = (header: string[], rows: string[][]) =>
    `<table><thead><tr>${header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join("")}</tr></thead><tbody>${rows
      .map(
        (row) =>
          `<tr>${row.map((cell) => `<td class="${cell === "FAIL" ? "fail" : cell === "pass" ? "pass" : ""}">${escapeHtml(cell)}</td>`).join("")}</tr>`,
      )
      .join("")}</tbody></table>`;
  const verdict =
    summary.expected === null
      ? "expected table not checked"
      : summary.expected.passed
        ? `expected table: PASS (${summary.expected.rows} rows)`
        : `expected table: FAIL (${summary.expected.failed} of ${summary.expected.rows} rows outside their band)`;
  const environment = summary.environment;
  // JSON inside <script>: escape "<" so no "</script>" can close it.
  const data = JSON.stringify(charts).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`${recipe.name} ${recipe.version} — ${summary.runId}`)}</title>
<style>${style}
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
td.fail{color:#b00;font-weight:bold}td.pass{color:#070}.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{border:1px solid #ddd;padding:4px}h1{font-size:22px}</style></head>
<body>
<h1>${escapeHtml(`${recipe.name} ${recipe.version}${summary.recipe.variant === null ? "" : ` (${summary.recipe.variant})`}`)} — run ${escapeHtml(summary.runId)}</h1>
<p>${escapeHtml(recipe.description)}</p>
<p id="verdict"><b>Status:</b> ${escapeHtml(summary.status)} · <b>${escapeHtml(verdict)}</b> · <b>root seed</b> ${summary.seed.root}${summary.seed.overridden ? " (--seed)" : ""} · <b>wall time</b> ${escapeHtml(formatSeconds(summary.wallSeconds))}</p>
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
<h2>Curves</h2>
<div class="charts" id="charts"></div>
<h2>Evals</h2>
${table(
  ["after", "task", "metric", "value", "95% CI (items)", "expected", "delta", "verdict"],
  evalRows(summary, recipe).map((row) => [
    row.stage,
    row.task,
    row.metric,
    formatNumber(row.value),
    row.interval,
    row.expected,
    row.delta,
    row.verdict,
  ]),
)}
<ul>${evalRows(summary, recipe)
    .filter((row) => row.explanation !== "")
    .map(
      (row) =>
        `<li>${escapeHtml(`${row.stage} / ${row.task} / ${row.metric}: ${row.verdict} — ${row.explanation}`)}</li>`,
    )
    .join("")}</ul>
<p>Expected numbers and their sources:</p>
<ul>${recipe.expected.map((row) => `<li>${escapeHtml(describeExpectedRow(row))}</li>`).join("")}</ul>
${summary.claims.length === 0 ? "" : `<h2>Claims</h2><ul>${summary.claims.map((claim) => `<li>${escapeHtml(`${claim.statement}: ${claim.status} — ${claim.explanation}`)}</li>`).join("")}</ul>`}
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
<h2>Lock</h2>
${table(["what", "pinned"], lockRows(summary))}
<h2>Environment</h2>
<p>${escapeHtml(`${environment.cpu} (${(environment.instructionSets ?? []).join(", ") || "instruction sets unknown"}), ${environment.cores} cores (${environment.threads} threads used), ${environment.memoryGiB} GiB, Node ${environment.node}, ${environment.platform}. Started ${summary.startedAt}, finished ${summary.finishedAt}.`)}</p>
<script>${script}</script>
<script>
const charts = ${data};
const container = document.getElementById("charts");
for (const chart of charts) {
  const element = document.createElement("div");
  element.className = "chart";
  element.dataset.series = chart.title;
  container.appendChild(element);
  const xs = chart.points.map((point) => point[0]);
  const ys = chart.points.map((point) => point[1]);
  const tickLabels = (plot, ticks) => ticks.map((value) => (value === 0 ? "0" : Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5 ? value.toExponential(1) : String(Number(value.toPrecision(3)))));
  new uPlot({ title: chart.title, width: 360, height: 220, scales: { x: { time: false } },
    axes: [{}, { values: tickLabels, size: 60 }],
    series: [{ label: "step" }, { label: chart.title.split(": ")[1], stroke: "#1f77b4", width: 1.5 }] }, [xs, ys], element);
}
document.body.dataset.chartsRendered = String(document.querySelectorAll(".chart canvas").length);
</script>
</body></html>
`;
}

/** Writes report.html and report.md into the run directory; returns their paths. */
export async function writeReports(params: {
  summary: RunSummary;
  recipe: Recipe;
}): Promise<{ html: string; markdown: string }> {
  const curves = await stageCurves({ summary: params.summary });
  const html = join(params.summary.runDirectory, "report.html");
  const markdown = join(params.summary.runDirectory, "report.md");
  await writeFileAtomic({ path: html, content: await renderHtml({ ...params, curves }) });
  await writeFileAtomic({ path: markdown, content: renderMarkdown({ ...params, curves }) });
  return { html, markdown };
}
