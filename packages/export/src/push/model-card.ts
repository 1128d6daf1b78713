/**
 * The model card (`README.md`) of a pushed checkpoint or dataset: YAML front matter the Hub
 * reads (license, base model, datasets, tags), then the recipe name and version, the lock's
 * data SHAs, every stage's hyperparameters, the eval table with expected numbers, tolerances
 * and confidence intervals, and the verifier probe results.
 */

import { type Recipe, type RecipeLock, rowBand } from "@posttrain/recipe";
import type { ProbeReport } from "@posttrain/verifiers";
import type { ResultsComparison } from "../results/compare.js";

export interface ModelCardParams {
  recipe: Recipe;
  lock: RecipeLock | null;
  /** The stage whose output this is (default the last). */
  stage?: string;
  /** `model` (a checkpoint) or `dataset` (a dataset the recipe produced). */
  kind?: "model" | "dataset";
  comparison?: ResultsComparison | null;
  probes?: ProbeReport | null;
  license?: string;
}

const yamlString = (value: string) => JSON.stringify(value);
const percent = (value: number | null) => (value === null ? "—" : (value * 100).toFixed(1));
const cell = (value: string) => value.replaceAll("|", "\\|").replaceAll("\n", " ");

function flatten(value: unknown, prefix: string, into: Array<[string, string]>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value))
      flatten(inner, prefix === "" ? key : `${prefix}.${key}`, into);
  } else into.push([prefix, JSON.stringify(value)]);
}

/** Renders the card; deterministic for the same inputs. */
export function renderModelCard(params: ModelCardParams): string {
  const { recipe, lock } = params;
  const kind = params.kind ?? "model";
  const stageName = params.stage ?? recipe.stages.at(-1)?.name ?? "";
  const datasets = [
    ...new Set(
      recipe.stages.flatMap((stage) =>
        stage.data.train.flatMap((spec) => (spec.kind === "hub" ? [spec.repo] : [])),
      ),
    ),
  ];
  const front = [
    "---",
    `license: ${params.license ?? "apache-2.0"}`,
    ...(kind === "model" && recipe.model.kind === "hub"
      ? [`base_model: ${yamlString(recipe.model.repo)}`]
      : []),
    ...(datasets.length === 0 ? [] : ["datasets:", ...datasets.map((name) => `- ${yamlString(name)}`)]),
    "tags:",
    "- posttrain",
    `- ${yamlString(`recipe:${recipe.name}`)}`,
    "---",
  ];
  const lines: string[] = [
    ...front,
    "",
    `# ${recipe.name} ${recipe.version} — ${kind === "model" ? `checkpoint after stage \`${stageName}\`` : "dataset"}`,
    "",
    recipe.description,
    "",
    `Produced with posttrain recipe **${recipe.name}** version **${recipe.version}** (seed ${recipe.seed}).`,
    "",
    "## Lock",
    "",
  ];
  if (lock === null)
    lines.push("No lock was recorded: the data revisions below are the recipe's, not pinned SHAs.", "");
  else {
    lines.push(`Recipe fingerprint \`${lock.recipe.fingerprint}\`.`, "");
    if (lock.model.kind === "hub")
      lines.push(`- base model \`${lock.model.repo}\` at \`${lock.model.revision}\``);
    if (lock.tokenizer.source.kind === "hub")
      lines.push(`- tokenizer \`${lock.tokenizer.source.repo}\` at \`${lock.tokenizer.source.revision}\``);
    lines.push("", "| place | dataset | revision |", "|---|---|---|");
    for (const [place, spec] of Object.entries(lock.datasets).sort(([a], [b]) => a.localeCompare(b)))
      lines.push(
        `| ${cell(place)} | ${cell(spec.kind === "hub" ? spec.repo : spec.directory)} | ${spec.kind === "hub" ? `\`${spec.revision}\`` : "local"} |`,
      );
    lines.push("");
  }
  lines.push("## Hyperparameters", "");
  for (const stage of recipe.stages) {
    lines.push(`### ${stage.name} (${stage.type})`, "", "| setting | value |", "|---|---|");
    const settings: Array<[string, string]> = [];
    flatten(stage.hyperparameters, "", settings);
    settings.push(["data.maxLength", String(stage.data.maxLength)]);
    for (const [key, value] of settings) lines.push(`| ${cell(key)} | ${cell(value)} |`);
    lines.push("");
  }
  lines.push("## Evaluation", "");
  const comparison = params.comparison ?? null;
  if (comparison === null || comparison.rows.length === 0) {
    lines.push(
      "No eval results were given; the recipe expects:",
      "",
      "| after | task | metric | expected | ± | source |",
    );
    lines.push("|---|---|---|---|---|---|");
    for (const row of recipe.expected) {
      // Seed rows: the recorded mean and its prediction interval; tolerance rows: value ± tolerance.
      const band = rowBand({ row, runs: 1 });
      const spread =
        band.tolerance === null
          ? `${percent(band.band.lower)}–${percent(band.band.upper)} (${band.recordedSeeds} seeds)`
          : percent(band.tolerance);
      lines.push(
        `| ${row.after} | ${row.task} | ${row.metric} | ${percent(band.center)} | ${spread} | ${cell(row.source)} |`,
      );
    }
  } else {
    lines.push("| after | task | metric | actual | 95% CI | expected | ± | status | source |");
    lines.push("|---|---|---|---|---|---|---|---|---|");
    for (const row of comparison.rows) {
      const interval =
        row.confidenceInterval === null
          ? "—"
          : `${percent(row.confidenceInterval.lower)}–${percent(row.confidenceInterval.upper)}`;
      lines.push(
        `| ${row.after} | ${row.task} | ${row.metric} | ${percent(row.actual)} | ${interval} | ${percent(row.value)} | ${percent(row.tolerance)} | ${row.passed ? "pass" : `FAIL (${row.reason})`} | ${cell(row.source)} |`,
      );
    }
    if (comparison.missingStages.length > 0)
      lines.push("", `No results for stage(s): ${comparison.missingStages.join(", ")}.`);
  }
  lines.push("", "## Verifier probes", "");
  const probes = params.probes ?? null;
  if (probes === null) lines.push("The verifier probe suite was not run for this upload.");
  else {
    lines.push(
      `${probes.passed} passed, ${probes.failed} failed.`,
      "",
      "| verifier | version | passed | failed |",
    );
    lines.push("|---|---|---|---|");
    for (const report of probes.verifiers)
      lines.push(`| ${report.verifier} | ${report.version} | ${report.passed} | ${report.failed} |`);
    const failures = probes.verifiers.flatMap((report) =>
      report.probes
        .filter((probe) => !probe.passed)
        .map((probe) => `${report.verifier}/${probe.name}: ${probe.why}`),
    );
    if (failures.length > 0)
      lines.push("", "Failed probes:", "", ...failures.map((failure) => `- ${cell(failure)}`));
  }
  lines.push("");
  return lines.join("\n");
}
