/**
 * What a stage's model folder gets beside its weights, as Hugging Face model folders have:
 * `generation_config.json` (bos/eos/pad token ids from the tokenizer, greedy decoding as the
 * recipe's evals use) and a `README.md` model card — which stage, from which recipe, version,
 * variant and seed, the run and its code (git commit, packages), the stage's locked data, its
 * hyperparameters and its evals with item counts and 95% intervals. `posttrain model card
 * <folder>` prints it offline; `posttrain push` replaces it with the Hub card it uploads.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import type { RecipeLock } from "./lock.js";
import type { Provenance } from "./provenance.js";
import type { Recipe, Stage } from "./schema.js";
import type { StageSummary } from "./summary.js";

function readJsonObject(path: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(readFileSync(path, "utf8")) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** A token's id from tokenizer.json (added tokens first, then the model's vocabulary). */
function tokenId(tokenizer: Record<string, unknown> | null, token: unknown): number | null {
  const content =
    typeof token === "string"
      ? token
      : typeof token === "object" &&
          token !== null &&
          typeof (token as { content?: unknown }).content === "string"
        ? (token as { content: string }).content
        : null;
  if (content === null || tokenizer === null) return null;
  const added = tokenizer["added_tokens"];
  if (Array.isArray(added)) {
    for (const entry of added) {
      const candidate = entry as { id?: unknown; content?: unknown };
      if (candidate.content === content && typeof candidate.id === "number") return candidate.id;
    }
  }
  const vocabulary = (tokenizer["model"] as { vocab?: unknown } | undefined)?.vocab;
  if (typeof vocabulary === "object" && vocabulary !== null && !Array.isArray(vocabulary)) {
    const id = (vocabulary as Record<string, unknown>)[content];
    if (typeof id === "number") return id;
  }
  return null;
}

/**
 * The generation_config.json of a model folder (from its tokenizer files): special-token ids
 * and greedy decoding; null ids are left out. An existing one (the tokenizer's own) is kept.
 */
export function generationConfigOf(params: { directory: string }): Record<string, unknown> {
  const tokenizerConfig = readJsonObject(join(params.directory, "tokenizer_config.json")) ?? {};
  const tokenizer = readJsonObject(join(params.directory, "tokenizer.json"));
  const config = readJsonObject(join(params.directory, "config.json")) ?? {};
  const ids = {
    bos_token_id: tokenId(tokenizer, tokenizerConfig["bos_token"]) ?? config["bos_token_id"] ?? null,
    eos_token_id: tokenId(tokenizer, tokenizerConfig["eos_token"]) ?? config["eos_token_id"] ?? null,
    pad_token_id: tokenId(tokenizer, tokenizerConfig["pad_token"]) ?? config["pad_token_id"] ?? null,
  };
  return {
    ...Object.fromEntries(Object.entries(ids).filter(([, value]) => value !== null)),
    do_sample: false,
    _from_model_config: false,
  };
}

function cell(value: string): string {
  return value.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function flatten(value: unknown, prefix: string, into: Array<[string, string]>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value))
      flatten(inner, prefix === "" ? key : `${prefix}.${key}`, into);
  } else into.push([prefix, JSON.stringify(value)]);
}

export interface StageCardParams {
  recipe: Recipe;
  variant: string | null;
  packageName: string | null;
  stage: Stage;
  summary: StageSummary;
  lock: RecipeLock;
  runId: string;
  provenance: Provenance;
}

/** The stage model card (README.md); deterministic for the same inputs. */
export function renderStageCard(params: StageCardParams): string {
  const { recipe, stage, summary, lock, provenance } = params;
  const datasets = Object.entries(lock.datasets).filter(([key]) => key.startsWith(`${stage.name}.`));
  const hyperparameters: Array<[string, string]> = [];
  flatten(stage.hyperparameters, "", hyperparameters);
  const evals = Object.entries(summary.evals).flatMap(([task, metrics]) =>
    Object.entries(metrics).map(([metric, estimate]) => {
      const check = summary.comparison?.rows.find((row) => row.task === task && row.metric === metric);
      return `| ${cell(task)} | ${cell(metric)} | ${estimate.value.toFixed(4)} | ${
        estimate.confidenceInterval === null
          ? "—"
          : `[${estimate.confidenceInterval.lower.toFixed(4)}, ${estimate.confidenceInterval.upper.toFixed(4)}]`
      } | ${estimate.count} | ${check === undefined ? "—" : check.passed ? "pass" : "FAIL"} |`;
    }),
  );
  const code =
    provenance.git === null
      ? `installed packages ${Object.entries(provenance.packages)
          .map(([name, version]) => `${name}@${version}`)
          .join(", ")}`
      : `git ${provenance.git.commit}${provenance.git.dirty ? " (with uncommitted changes)" : ""}`;
  return [
    "---",
    "library_name: posttrain",
    "tags:",
    "  - posttrain",
    `  - ${stage.type}`,
    `  - recipe-${recipe.name}`,
    "---",
    "",
    `# ${recipe.name} ${recipe.version}${params.variant === null ? "" : ` (${params.variant})`} — stage ${stage.name} (${stage.type})`,
    "",
    `The model after stage **${stage.name}** (${stage.type}) of recipe \`${params.packageName ?? recipe.name}\` version ${recipe.version}${params.variant === null ? "" : `, variant ${params.variant}`}, root seed ${recipe.seed}, run ${params.runId}.`,
    "",
    `- Code: ${code}; onnxruntime-node ${provenance.onnxruntimeNode ?? "unknown"}, Node ${provenance.node}.`,
    `- Stage fingerprint: \`${summary.fingerprint}\`${summary.modelSha256 === null ? "" : `; weights SHA-256 \`${summary.modelSha256}\``}.`,
    `- Base: ${
      lock.model.kind === "hub"
        ? `${lock.model.repo}@${lock.model.revision}`
        : `initialised from the recipe (${lock.model.fingerprint.slice(0, 16)})`
    }; tokenizer ${
      lock.tokenizer.source.kind === "hub"
        ? `${lock.tokenizer.source.repo}@${lock.tokenizer.source.revision}`
        : lock.tokenizer.source.directory
    }.`,
    "",
    "## Data (pinned by the recipe lock)",
    "",
    ...(datasets.length === 0
      ? ["none"]
      : [
          "| place | source | selection | rows |",
          "| --- | --- | --- | --- |",
          ...datasets.map(
            ([key, spec]) =>
              `| ${cell(key)} | ${cell(spec.kind === "hub" ? `${spec.repo}@${spec.revision}` : spec.directory)} | ${cell(
                [spec.config, spec.split].filter((part) => part !== undefined).join("/") || "—",
              )} | ${spec.expect?.rows ?? "?"} |`,
          ),
        ]),
    "",
    "## Hyperparameters",
    "",
    "| name | value |",
    "| --- | --- |",
    ...hyperparameters.map(([key, value]) => `| ${cell(key)} | ${cell(value)} |`),
    "",
    "## Evals",
    "",
    ...(evals.length === 0
      ? ["not evaluated"]
      : [
          "| task | metric | value | 95% CI (items, bootstrap) | items | expected |",
          "| --- | --- | --- | --- | --- | --- |",
          ...evals,
        ]),
    "",
    "## Use",
    "",
    "A Hugging Face-style folder (config.json, model.safetensors, tokenizer files, generation_config.json):",
    "`posttrain serve <this folder>` or `posttrain generate <this folder>`; `posttrain push` uploads it with a Hub card.",
    "",
  ].join("\n");
}

/** Writes generation_config.json (unless the tokenizer brought one) and README.md into a stage's model folder. */
export async function writeStageModelFiles(params: StageCardParams & { directory: string }): Promise<void> {
  const generationConfig = join(params.directory, "generation_config.json");
  if (!existsSync(generationConfig))
    await writeJsonAtomic({
      path: generationConfig,
      value: generationConfigOf({ directory: params.directory }),
    });
  await writeFileAtomic({ path: join(params.directory, "README.md"), content: renderStageCard(params) });
}
