/**
 * The Stage seam: what a training stage package (@posttrain/sft, dpo, rlvr, or a new one)
 * exports so the recipe runner and `posttrain train` can run it without knowing it — the
 * way @posttrain/verifiers registers a verifier (name, version, schema, one function).
 *
 * A stage's rows come from @posttrain/data (a prepared tokenized dataset, tokenized JSONL, or
 * raw rows tokenized in that package's `format`); this layer sits below data, so it names
 * data's objects only by the fields it needs (`PreparedRows`, `TokenizedRecord`).
 */
import type { RunContext } from "@posttrain/core";
import type { GenerationTokenizer } from "@posttrain/engine";
import type { z } from "zod";
import type { TrainingRunResult } from "./run-result.js";

/** A prepared tokenized dataset: @posttrain/data's `prepareDataset` result (folder + verified manifest). */
export interface PreparedRows {
  directory: string;
  /** @posttrain/data's `CacheManifest` (the stage package, which may import data, reads it). */
  manifest: unknown;
}

/** The rows a stage trains on: a training set and an optional held-out set. */
export interface StageData<Row> {
  train: readonly Row[];
  evaluation?: readonly Row[];
}

/** How a stage reads its rows from each kind of input. */
export interface StageRows<Row> {
  /** @posttrain/data's dataset format of the rows (`prepareDataset`, raw-row tokenization). */
  format: "sft" | "preference" | "rlvr";
  /** The id column that marks a JSONL file as tokenized rows of this stage (e.g. `input_ids`). */
  tokenizedColumn: string;
  /** One tokenized JSONL row (snake_case id arrays) → a row; zod names the bad field. */
  tokenizedSchema: z.ZodType<Row>;
  /** Every row of a prepared dataset. */
  readPrepared(prepared: PreparedRows): Promise<Row[]>;
  /** A record @posttrain/data tokenized from a raw row of `format` (its `TokenizedSft`, …) → a row. */
  fromTokenized(record: unknown): Row;
}

/** What every stage's `train` takes. */
export interface StageTrainParams<Row> {
  /** The stage's hyperparameters as given (the stage validates them with its `configSchema`). */
  config: unknown;
  /** A JSON model source (`modelSourceSchema`: a seeded initialisation or a model folder). */
  model: unknown;
  data: StageData<Row>;
  context: RunContext;
  /** The run's tokenizer; stages with `needsTokenizer` get one, others may ignore it. */
  tokenizer: GenerationTokenizer | null;
  /** A remote generation server's URL given on the command line (stages with `generation`). */
  generationUrl?: string;
}

/**
 * One training stage. `Row` is its data row, `Metrics` the summary its `train` returns.
 * Adding a stage = a package that exports one of these + one line in the recipe's
 * `stageRegistry`.
 */
export interface StageDefinition<Row = unknown, Metrics extends object = object> {
  /** The stage type in recipes (`type`) and `posttrain train <name>`. */
  name: string;
  /** Bumped when the same config and data would train a different model. */
  version: string;
  /** One line for `--help` and docs. */
  description: string;
  /** The stage's hyperparameters; the recipe validates a stage with exactly this schema. */
  configSchema: z.ZodType;
  rows: StageRows<Row>;
  /** Whether `train` needs the run's tokenizer (RLVR decodes completions for its verifiers). */
  needsTokenizer: boolean;
  /** Whether the stage samples through a generation backend (then it takes `--generation-*` flags). */
  generation: boolean;
  /** The numeric fields of every `step-end` event this stage writes. */
  stepMetricNames: readonly string[];
  /**
   * The config of a `posttrain train --config` file with its file paths made absolute
   * (`resolvePath` resolves against the config file); absent = no paths in the config.
   */
  resolveConfigPaths?(params: { config: unknown; resolvePath: (path: string) => string }): unknown;
  /** Runs (or resumes) the stage in `context.directory`. */
  train(params: StageTrainParams<Row>): Promise<TrainingRunResult<Metrics>>;
  /**
   * The evaluation hook: the flat numbers of a finished (or interrupted) run that the recipe
   * records as the stage's training metrics (last step, held-out checks).
   */
  summaryMetrics(metrics: Metrics): Record<string, number | null>;
}

/** Any stage definition (a registry holds stages of different row and metric types). */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds definitions of every row type; each is used through its own methods only
export type AnyStageDefinition = StageDefinition<any, any>;

/** The numeric fields of `value` (nested objects skipped), each key prefixed. */
export function numericFields(params: {
  value: object | null | undefined;
  prefix?: string;
}): Record<string, number | null> {
  const metrics: Record<string, number | null> = {};
  if (params.value === null || params.value === undefined) return metrics;
  for (const [key, entry] of Object.entries(params.value))
    if (typeof entry === "number") metrics[`${params.prefix ?? ""}${key}`] = entry;
  return metrics;
}
