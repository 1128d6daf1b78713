/**
 * The SFT stage as the recipe runner and `posttrain train sft` see it (@posttrain/training's
 * `StageDefinition`): its config schema, how its rows are read, `train`, and the metrics it
 * reports.
 */
import { parseWithSchema } from "@posttrain/core";
import type { TokenizedSft } from "@posttrain/data";
import { numericFields, parseModelSource, type StageDefinition } from "@posttrain/training";
import { z } from "zod";
import { readSftRows, type SftRow } from "./batches.js";
import { Config } from "./config.js";
import { type TrainResult, train } from "./train.js";

const int32Array = z.array(z.number().int()).transform((values) => Int32Array.from(values));

/** One tokenized SFT row of a JSONL file: `labels` aligned with `input_ids` (-100 = no loss). */
export const sftRowSchema: z.ZodType<SftRow> = z
  .object({
    input_ids: int32Array,
    labels: int32Array,
    position_ids: int32Array.optional(),
    segment_ids: int32Array.optional(),
  })
  .transform((row) => ({
    inputIds: row.input_ids,
    labels: row.labels,
    ...(row.position_ids === undefined ? {} : { positionIds: row.position_ids }),
    ...(row.segment_ids === undefined ? {} : { segmentIds: row.segment_ids }),
  }));

export const sftStage: StageDefinition<SftRow, TrainResult["metrics"]> = {
  name: "sft",
  version: "1",
  description: "supervised fine-tuning (open-instruct finetune.py semantics)",
  configSchema: Config,
  rows: {
    format: "sft",
    tokenizedColumn: "input_ids",
    tokenizedSchema: sftRowSchema,
    readPrepared: readSftRows,
    fromTokenized: (row: TokenizedSft): SftRow => ({ inputIds: row.inputIds, labels: row.labels }),
  },
  needsTokenizer: false,
  generation: false,
  stepMetricNames: [
    "loss",
    "tokenLoss",
    "trainedTokens",
    "tokens",
    "gradientNorm",
    "learningRate",
    "tokensPerSecond",
  ],
  train: (params) =>
    train({
      config: parseWithSchema({ schema: Config, value: params.config, label: "sft config" }),
      model: parseModelSource(params.model),
      data: params.data,
      context: params.context,
    }),
  summaryMetrics: (metrics) => ({
    ...numericFields({ value: metrics.lastStep }),
    evaluationLoss: metrics.evaluationLoss,
  }),
};
