/**
 * The DPO stage as the recipe runner and `posttrain train dpo` see it (@posttrain/training's
 * `StageDefinition`): its config schema, how its rows are read, `train`, and the metrics it
 * reports (`initialEvaluation.*` is the held-out baseline under the input model).
 */
import { isAbsolute } from "node:path";
import { parseWithSchema } from "@posttrain/core";
import type { TokenizedPreference } from "@posttrain/data";
import { numericFields, parseModelSource, type StageDefinition } from "@posttrain/training";
import { z } from "zod";
import { Config } from "./config.js";
import { type PreferenceRow, readPreferenceRows } from "./pairs.js";
import { type TrainResult, train } from "./train.js";

const int32Array = z.array(z.number().int()).transform((values) => Int32Array.from(values));

/** One tokenized preference pair of a JSONL file (the shared prompt once, then each completion). */
export const preferenceRowSchema: z.ZodType<PreferenceRow> = z
  .object({ prompt_ids: int32Array, chosen_ids: int32Array, rejected_ids: int32Array })
  .transform((row) => ({
    promptIds: row.prompt_ids,
    chosenIds: row.chosen_ids,
    rejectedIds: row.rejected_ids,
  }));

export const dpoStage: StageDefinition<PreferenceRow, TrainResult["metrics"]> = {
  name: "dpo",
  version: "1",
  description: "direct preference optimisation: dpo, dpo_norm, simpo, wpo (open-instruct dpo_tune_cache.py)",
  configSchema: Config,
  rows: {
    format: "preference",
    tokenizedColumn: "prompt_ids",
    tokenizedSchema: preferenceRowSchema,
    readPrepared: readPreferenceRows,
    fromTokenized: (row: TokenizedPreference): PreferenceRow => ({
      promptIds: row.promptIds,
      chosenIds: row.chosenIds,
      rejectedIds: row.rejectedIds,
    }),
  },
  needsTokenizer: false,
  generation: false,
  stepMetricNames: [
    "loss",
    "pairs",
    "chosenReward",
    "rejectedReward",
    "margin",
    "accuracy",
    "policyAccuracy",
    "tokens",
    "gradientNorm",
    "learningRate",
    "tokensPerSecond",
  ],
  // A relative reference-cache folder is relative to the config file, like every path in it.
  resolveConfigPaths: ({ config, resolvePath }) => {
    const folder = (config as { referenceCacheDirectory?: unknown } | null)?.referenceCacheDirectory;
    return typeof folder === "string" && !isAbsolute(folder)
      ? { ...(config as object), referenceCacheDirectory: resolvePath(folder) }
      : config;
  },
  train: (params) =>
    train({
      config: parseWithSchema({ schema: Config, value: params.config, label: "dpo config" }),
      model: parseModelSource(params.model),
      data: params.data,
      context: params.context,
    }),
  summaryMetrics: (metrics) => ({
    ...numericFields({ value: metrics.lastStep }),
    ...numericFields({ value: metrics.initialEvaluation, prefix: "initialEvaluation." }),
    ...numericFields({ value: metrics.evaluation, prefix: "evaluation." }),
  }),
};
