/**
 * How a stage runs inside a recipe, for every stage of the registry alike: prepare its data
 * with @posttrain/data (tokenized cache) in the stage's row format, read the rows with the
 * stage's reader, load the tokenizer when the stage needs one, call the stage's `train`, and
 * record its summary metrics. A stage type without a trainer (`ppo`) fails with
 * `stage_unavailable`.
 */

import type { RunContext } from "@posttrain/core";
import { type DatasetSpec, loadTokenizer, prepareDataset } from "@posttrain/data";
import type { AnyStageDefinition } from "@posttrain/training";
import { RecipeError } from "./errors.js";
import type { Recipe, Stage } from "./schema.js";
import { type StageRegistry, stageRegistry } from "./stage-registry.js";

/** Where a stage's initial weights come from (the shape both trainers accept). */
export type StageModelSource =
  | { kind: "initialize"; config: Record<string, unknown>; seed: number }
  | { kind: "directory"; directory: string };

export interface StageRunParams {
  recipe: Recipe;
  stage: Stage;
  /** Locked dataset specs of this stage (train, evaluation). */
  train: DatasetSpec[];
  evaluation: DatasetSpec[];
  model: StageModelSource;
  tokenizerDirectory: string;
  packageDirectory: string;
  context: RunContext;
}

export interface StageRunResult {
  status: "completed" | "interrupted";
  /** The final model folder (null when interrupted). */
  modelDirectory: string | null;
  /** Final training metrics (last step, held-out figures). */
  metrics: Record<string, number | null>;
}

export type StageRunner = (params: StageRunParams) => Promise<StageRunResult>;

function chatTemplateChoice(recipe: Recipe) {
  const template = recipe.tokenizer.chatTemplate;
  return template === "tokenizer" ? {} : { chatTemplate: template };
}

async function prepare(
  params: StageRunParams,
  sources: DatasetSpec[],
  format: AnyStageDefinition["rows"]["format"],
) {
  return prepareDataset({
    sources,
    format,
    tokenizer: { directory: params.tokenizerDirectory, ...chatTemplateChoice(params.recipe) },
    maxLength: params.stage.data.maxLength,
    ...(format === "sft" && params.stage.data.packing !== null ? { packing: params.stage.data.packing } : {}),
    ...(format === "sft" && params.stage.data.maskedSpans !== undefined
      ? { maskedSpans: params.stage.data.maskedSpans }
      : {}),
    seed: params.recipe.seed,
    baseDirectory: params.packageDirectory,
    progress: "silent",
  });
}

/** The runner of a registered stage (see the module comment). */
export function registeredStageRunner(definition: AnyStageDefinition): StageRunner {
  return async (params) => {
    const rowsOf = async (sources: DatasetSpec[]) =>
      definition.rows.readPrepared(await prepare(params, sources, definition.rows.format));
    const train = await rowsOf(params.train);
    const evaluation = params.evaluation.length === 0 ? undefined : await rowsOf(params.evaluation);
    const tokenizer = definition.needsTokenizer
      ? await loadTokenizer({ directory: params.tokenizerDirectory, ...chatTemplateChoice(params.recipe) })
      : null;
    const result = await definition.train({
      config: params.stage.hyperparameters,
      model: params.model,
      data: { train, ...(evaluation === undefined ? {} : { evaluation }) },
      context: params.context,
      tokenizer,
    });
    return {
      status: result.status,
      modelDirectory: result.modelDirectory,
      metrics: definition.summaryMetrics(result.metrics),
    };
  };
}

const unavailable =
  (type: string): StageRunner =>
  async (params) => {
    throw new RecipeError({
      code: "stage_unavailable",
      message: `stage "${params.stage.name}" is of type ${type}: posttrain has no ${type} trainer (the recipe pins its hyperparameters as data)`,
      details: { stage: params.stage.name, type },
    });
  };

/**
 * The runner of every stage type: each stage of `registry` (default {@link stageRegistry}),
 * and `ppo`, which has no trainer here (`stage_unavailable`; the recipe pins its
 * hyperparameters as data).
 */
export function stageRunnersOf(registry: StageRegistry = stageRegistry): Record<string, StageRunner> {
  const runners: Record<string, StageRunner> = { ppo: unavailable("ppo") };
  for (const [name, definition] of registry) runners[name] = registeredStageRunner(definition);
  return runners;
}

/** The runner of each stage type of the default registry (`ppo`: `stage_unavailable`). */
export const defaultStageRunners: Record<string, StageRunner> = stageRunnersOf();
