/**
 * How each stage type runs: prepare its data with @posttrain/data (tokenized cache), read the
 * rows the stage package wants, and call that package's `train({ config, model, data,
 * context })`. A stage type without a trainer fails with `stage_unavailable`.
 */

import type { RunContext } from "@posttrain/core";
import { type DatasetSpec, prepareDataset } from "@posttrain/data";
import { RecipeError } from "./errors.js";
import type { Recipe, Stage } from "./schema.js";

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
  format: "sft" | "preference" | "rlvr",
) {
  return prepareDataset({
    sources,
    format,
    tokenizer: { directory: params.tokenizerDirectory, ...chatTemplateChoice(params.recipe) },
    maxLength: params.stage.data.maxLength,
    ...(format === "sft" && params.stage.data.packing !== null ? { packing: params.stage.data.packing } : {}),
    seed: params.recipe.seed,
    baseDirectory: params.packageDirectory,
    progress: "silent",
  });
}

function numericMetrics(value: object | null | undefined, prefix = ""): Record<string, number | null> {
  const metrics: Record<string, number | null> = {};
  if (value === null || value === undefined) return metrics;
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === "number") metrics[`${prefix}${key}`] = entry;
  }
  return metrics;
}

const runSft: StageRunner = async (params) => {
  const sft = await import("@posttrain/sft");
  const prepared = await prepare(params, params.train, "sft");
  const train = await sft.readSftRows(prepared);
  const evaluation =
    params.evaluation.length === 0
      ? undefined
      : await sft.readSftRows(await prepare(params, params.evaluation, "sft"));
  const result = await sft.train({
    config: params.stage.hyperparameters as Parameters<typeof sft.train>[0]["config"],
    model: params.model as Parameters<typeof sft.train>[0]["model"],
    data: { train, ...(evaluation === undefined ? {} : { evaluation }) },
    context: params.context,
  });
  return {
    status: result.status,
    modelDirectory: result.modelDirectory,
    metrics: { ...numericMetrics(result.metrics.lastStep), evaluationLoss: result.metrics.evaluationLoss },
  };
};

const runDpo: StageRunner = async (params) => {
  const dpo = await import("@posttrain/dpo");
  const prepared = await prepare(params, params.train, "preference");
  const train = await dpo.readPreferenceRows(prepared);
  const evaluation =
    params.evaluation.length === 0
      ? undefined
      : await dpo.readPreferenceRows(await prepare(params, params.evaluation, "preference"));
  const result = await dpo.train({
    config: params.stage.hyperparameters as Parameters<typeof dpo.train>[0]["config"],
    model: params.model as Parameters<typeof dpo.train>[0]["model"],
    data: { train, ...(evaluation === undefined ? {} : { evaluation }) },
    context: params.context,
  });
  const metrics = result.metrics as {
    lastStep?: object | null;
    initialEvaluation?: object | null;
    evaluation?: object | null;
  };
  return {
    status: result.status,
    modelDirectory: result.modelDirectory,
    // `initialEvaluation.*`: the held-out pairs under the input (SFT) model, DPO's baseline.
    metrics: {
      ...numericMetrics(metrics.lastStep),
      ...numericMetrics(metrics.initialEvaluation, "initialEvaluation."),
      ...numericMetrics(metrics.evaluation, "evaluation."),
    },
  };
};

const runRlvr: StageRunner = async (params) => {
  const [rlvr, { loadTokenizer }] = await Promise.all([import("@posttrain/rlvr"), import("@posttrain/data")]);
  const train = await rlvr.readRlvrRows(await prepare(params, params.train, "rlvr"));
  const evaluation =
    params.evaluation.length === 0
      ? undefined
      : await rlvr.readRlvrRows(await prepare(params, params.evaluation, "rlvr"));
  const tokenizer = await loadTokenizer({
    directory: params.tokenizerDirectory,
    ...chatTemplateChoice(params.recipe),
  });
  const result = await rlvr.train({
    config: params.stage.hyperparameters as Parameters<typeof rlvr.train>[0]["config"],
    model: params.model as Parameters<typeof rlvr.train>[0]["model"],
    data: { train, ...(evaluation === undefined ? {} : { evaluation }) },
    context: params.context,
    tokenizer,
  });
  const last = result.metrics.lastStep;
  const perVerifier: Record<string, number | null> = {};
  for (const [name, statistics] of Object.entries(last?.perVerifier ?? {})) {
    perVerifier[`reward.${name}`] = statistics.rewardMean;
    perVerifier[`accuracy.${name}`] = statistics.accuracy;
  }
  const check = result.metrics.checks.at(-1) as Record<string, unknown> | undefined;
  return {
    status: result.status,
    modelDirectory: result.modelDirectory,
    metrics: { ...numericMetrics(last), ...perVerifier, ...numericMetrics(check ?? null, "heldOut.") },
  };
};

const unavailable =
  (type: string): StageRunner =>
  async (params) => {
    throw new RecipeError({
      code: "stage_unavailable",
      message: `stage "${params.stage.name}" is of type ${type}: posttrain has no ${type} trainer (the recipe pins its hyperparameters as data)`,
      details: { stage: params.stage.name, type },
    });
  };

/** The runner of each stage type (`ppo`: `stage_unavailable`, no PPO trainer exists here). */
export const defaultStageRunners: Record<Stage["type"], StageRunner> = {
  sft: runSft,
  dpo: runDpo,
  rlvr: runRlvr,
  ppo: unavailable("ppo"),
};
