/**
 * The checks every stage's `train` starts with, in this order (each fails before anything is
 * written): the config against the stage's schema, the effective batch, the model source, the
 * training rows, and the held-out rows when the config asks for a held-out check.
 */
import { parseWithSchema } from "@posttrain/core";
import type { z } from "zod";
import type { batchConfigSchema } from "./config-schemas.js";
import { TrainError } from "./errors.js";
import { loadTrainingModel, type ModelSource, type TrainingModel } from "./model-source.js";
import { effectiveBatchSize } from "./run-support.js";
import type { StageData } from "./stage.js";

export interface StageInputs<Config, Row> {
  config: Config;
  effectiveBatchSize: number;
  model: TrainingModel;
  /** The held-out rows (empty when none were given). */
  evaluationRows: readonly Row[];
}

export async function checkStageInputs<
  Schema extends z.ZodType<{ batch: z.output<typeof batchConfigSchema> }>,
  Row,
>(params: {
  /** The stage name (`sft config` in messages). */
  stage: string;
  schema: Schema;
  config: unknown;
  model: ModelSource;
  data: StageData<Row>;
  /** Throws a `train_data_invalid` TrainError naming the first bad row of `label`. */
  validateRows(params: { rows: readonly Row[]; vocabularySize: number; label: string }): void;
  /** The config field that needs held-out rows when set (`evaluation`, `monitor`), or null. */
  heldOutField(config: z.output<Schema>): string | null;
}): Promise<StageInputs<z.output<Schema>, Row>> {
  const config = parseWithSchema({
    schema: params.schema,
    value: params.config,
    label: `${params.stage} config`,
  });
  const effectiveBatch = effectiveBatchSize(config.batch);
  const model = await loadTrainingModel({ source: params.model });
  const vocabularySize = model.config.vocab_size;
  params.validateRows({ rows: params.data.train, vocabularySize, label: "data.train" });
  const evaluationRows = params.data.evaluation ?? [];
  const field = params.heldOutField(config);
  if (field !== null) {
    if (evaluationRows.length === 0)
      throw new TrainError({
        code: "train_data_invalid",
        message: `${field} is configured but data.evaluation is empty`,
      });
    params.validateRows({ rows: evaluationRows, vocabularySize, label: "data.evaluation" });
  }
  return { config, effectiveBatchSize: effectiveBatch, model, evaluationRows };
}
