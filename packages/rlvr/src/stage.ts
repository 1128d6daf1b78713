/**
 * The RLVR stage as the recipe runner and `posttrain train rlvr` see it (@posttrain/training's
 * `StageDefinition`): its config schema, how its prompts are read, `train` (which needs the
 * tokenizer and may sample on a remote server), and the metrics it reports (`reward.<verifier>`,
 * `accuracy.<verifier>`, `heldOut.*` from the last over-optimisation check).
 */
import { isAbsolute } from "node:path";
import { parseWithSchema } from "@posttrain/core";
import type { TokenizedRlvr } from "@posttrain/data";
import { numericFields, parseModelSource, type StageDefinition, TrainError } from "@posttrain/training";
import { z } from "zod";
import { Config } from "./config.js";
import { type RlvrRow, readRlvrRows } from "./prompts.js";
import { toolMetricNames } from "./step-metrics.js";
import { type TrainResult, train } from "./train.js";

const int32Array = z.array(z.number().int()).transform((values) => Int32Array.from(values));
const stringList = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]));

/** One tokenized RLVR prompt of a JSONL file (`ground_truth` and `dataset`: a string or a list). */
export const rlvrRowSchema: z.ZodType<RlvrRow> = z
  .object({ prompt_ids: int32Array, ground_truth: stringList, dataset: stringList })
  .transform((row) => ({ promptIds: row.prompt_ids, groundTruth: row.ground_truth, dataset: row.dataset }));

export const rlvrStage: StageDefinition<RlvrRow, TrainResult["metrics"]> = {
  name: "rlvr",
  version: "1",
  description: "reinforcement learning with verifiable rewards (GRPO family: rollout, score, optimize)",
  configSchema: Config,
  rows: {
    format: "rlvr",
    tokenizedColumn: "prompt_ids",
    tokenizedSchema: rlvrRowSchema,
    readPrepared: readRlvrRows,
    fromTokenized: (row: TokenizedRlvr): RlvrRow => ({
      promptIds: row.promptIds,
      groundTruth: row.groundTruth,
      dataset: row.dataset,
    }),
  },
  needsTokenizer: true,
  generation: true,
  stepMetricNames: [
    "rewardMean",
    "rewardStd",
    "accuracy",
    "kl",
    "entropy",
    "clipFraction",
    "responseLength",
    "truncationRate",
    "filteredGroups",
    "trainedCompletions",
    "optimizerSteps",
    "loss",
    "gradientNorm",
    "learningRate",
    "trainTokensPerSecond",
    // With `tools` only.
    ...toolMetricNames,
  ],
  // A remote server's weights folder is relative to the config file, like every path in it.
  resolveConfigPaths: ({ config, resolvePath }) => {
    const generation = (config as { generation?: { weightsDirectory?: unknown } } | null)?.generation;
    const folder = generation?.weightsDirectory;
    return typeof folder === "string" && !isAbsolute(folder)
      ? { ...(config as object), generation: { ...generation, weightsDirectory: resolvePath(folder) } }
      : config;
  },
  train: (params) => {
    if (params.tokenizer === null)
      throw new TrainError({
        code: "train_data_invalid",
        message: "rlvr needs a tokenizer (it decodes completions for the verifiers)",
      });
    return train({
      config: parseWithSchema({ schema: Config, value: params.config, label: "rlvr config" }),
      model: parseModelSource(params.model),
      data: params.data,
      context: params.context,
      tokenizer: params.tokenizer,
      ...(params.generationUrl === undefined ? {} : { generationEndpoint: { url: params.generationUrl } }),
    });
  },
  summaryMetrics: (metrics) => {
    const last = metrics.lastStep;
    const perVerifier: Record<string, number | null> = {};
    for (const [name, statistics] of Object.entries(last?.perVerifier ?? {})) {
      perVerifier[`reward.${name}`] = statistics.rewardMean;
      perVerifier[`accuracy.${name}`] = statistics.accuracy;
    }
    return {
      ...numericFields({ value: last }),
      ...perVerifier,
      ...numericFields({ value: metrics.checks.at(-1) ?? null, prefix: "heldOut." }),
    };
  },
};
