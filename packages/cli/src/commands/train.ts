/**
 * `posttrain train sft|dpo|rlvr --config FILE`: runs one stage outside a recipe. The config
 * file (JSON) names the run directory, the seed, the initial model, the data and the stage's
 * own `training` config; paths are relative to the file. A SIGINT writes a checkpoint and
 * exits 0; running the same command again resumes.
 *
 * ```json
 * { "output": "runs/sft", "seed": 1,
 *   "model": { "kind": "initialize", "config": { "vocab_size": 32, ... }, "seed": 3 },
 *   "data": { "train": "train.jsonl", "evaluation": "held-out.jsonl" },
 *   "training": { ...the stage's Config... } }
 * ```
 * `data.train`/`data.evaluation` are either a prepared tokenized-cache folder from
 * @posttrain/data (`manifest.json` + shards) or a JSONL file of tokenized rows with the same
 * column names (`input_ids`, `labels`[, `position_ids`, `segment_ids`] for sft; `prompt_ids`,
 * `chosen_ids`, `rejected_ids` for dpo; `prompt_ids`, `ground_truth`, `dataset` for rlvr, which
 * also needs `"tokenizer": { "directory": ... }` to decode completions for the verifiers).
 *
 * rlvr rollouts on an external SGLang or vLLM server (`training.generation`, see
 * @posttrain/rlvr): `--generation-server sglang|vllm` switches a config to a remote server,
 * `--generation-url` gives its URL (else `training.generation.url`, else
 * `POSTTRAIN_GENERATION_URL`), `--generation-weights-directory` where the pushed weights go
 * (vLLM: the folder the server serves), `--sync-every-steps N` how often they are pushed. An
 * API key is read from `POSTTRAIN_GENERATION_API_KEY` (else `POSTTRAIN_WEIGHT_UPDATE_TOKEN`,
 * the token of `posttrain serve --enable-weight-updates`) only, never from a flag.
 */
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { createRunContext, interruptSignal, PosttrainError, parseWithSchema } from "@posttrain/core";
import { loadTokenizer, lookupTokenizedCache } from "@posttrain/data";
import * as dpo from "@posttrain/dpo";
import * as rlvr from "@posttrain/rlvr";
import * as sft from "@posttrain/sft";
import type { Command } from "commander";
import { z } from "zod";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

const stages = ["sft", "dpo", "rlvr"] as const;
type Stage = (typeof stages)[number];

const fileSchema = z.strictObject({
  /** Run directory (checkpoints, events.jsonl, config.json, model/). */
  output: z.string().min(1),
  /** Seed of the run context's random stream. */
  seed: z.number().int(),
  model: z.unknown(),
  data: z.strictObject({ train: z.string().min(1), evaluation: z.string().min(1).optional() }),
  training: z.unknown(),
  /** rlvr only: the tokenizer folder (decodes completions for the verifiers; EOS ids). */
  tokenizer: z
    .strictObject({
      directory: z.string().min(1),
      chatTemplate: z.enum(["tulu", "chatml", "zephyr"]).optional(),
    })
    .optional(),
});

const int32Array = z.array(z.number().int()).transform((values) => Int32Array.from(values));
const sftRowSchema = z.object({
  input_ids: int32Array,
  labels: int32Array,
  position_ids: int32Array.optional(),
  segment_ids: int32Array.optional(),
});
const preferenceRowSchema = z.object({
  prompt_ids: int32Array,
  chosen_ids: int32Array,
  rejected_ids: int32Array,
});
const stringList = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]));
const rlvrRowSchema = z.object({ prompt_ids: int32Array, ground_truth: stringList, dataset: stringList });

/** Tokenized rows from JSONL (each line validated, errors name the line and field). */
async function jsonlRows<T>(path: string, schema: z.ZodType<T>): Promise<T[]> {
  const rows: T[] = [];
  for (const [index, line] of (await readFile(path, "utf8")).split("\n").entries()) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new PosttrainError({
        code: "invalid_rows_file",
        message: `${path}:${index + 1}: not JSON: ${(error as Error).message}`,
      });
    }
    rows.push(parseWithSchema({ schema, value, label: `${path}:${index + 1}` }));
  }
  return rows;
}

async function preparedManifest(directory: string) {
  const lookup = await lookupTokenizedCache({ directory });
  if (lookup.status !== "hit") {
    throw new PosttrainError({
      code: "train_data_invalid",
      message: `${directory} is not a verified tokenized dataset (${lookup.status}${lookup.status === "corrupt" ? `: ${lookup.problems.join("; ")}` : ""})`,
    });
  }
  return lookup.manifest;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (error) {
    throw new UsageError(`cannot read data path ${path}: ${(error as Error).message}`);
  }
}

async function sftRows(path: string): Promise<sft.SftRow[]> {
  if (isDirectory(path)) return sft.readSftRows({ directory: path, manifest: await preparedManifest(path) });
  return (await jsonlRows(path, sftRowSchema)).map((row) => ({
    inputIds: row.input_ids,
    labels: row.labels,
    ...(row.position_ids === undefined ? {} : { positionIds: row.position_ids }),
    ...(row.segment_ids === undefined ? {} : { segmentIds: row.segment_ids }),
  }));
}

async function preferenceRows(path: string): Promise<dpo.PreferenceRow[]> {
  if (isDirectory(path))
    return dpo.readPreferenceRows({ directory: path, manifest: await preparedManifest(path) });
  return (await jsonlRows(path, preferenceRowSchema)).map((row) => ({
    promptIds: row.prompt_ids,
    chosenIds: row.chosen_ids,
    rejectedIds: row.rejected_ids,
  }));
}

async function rlvrRows(path: string): Promise<rlvr.RlvrRow[]> {
  if (isDirectory(path))
    return rlvr.readRlvrRows({ directory: path, manifest: await preparedManifest(path) });
  return (await jsonlRows(path, rlvrRowSchema)).map((row) => ({
    promptIds: row.prompt_ids,
    groundTruth: row.ground_truth,
    dataset: row.dataset,
  }));
}

export interface TrainCommandResult {
  stage: Stage;
  status: "completed" | "interrupted";
  step: number;
  totalSteps: number;
  directory: string;
  modelDirectory: string | null;
  metrics: unknown;
}

/** rlvr: remote generation settings given as flags (they override the config file). */
export interface GenerationFlags {
  server?: string;
  url?: string;
  weightsDirectory?: string;
  syncEverySteps?: string;
}

/** The rlvr `training` config with the generation flags applied (paths in the file are relative to it). */
function withGenerationFlags(params: {
  training: unknown;
  flags: GenerationFlags;
  at: (path: string) => string;
}): unknown {
  const { flags } = params;
  const training = (params.training ?? {}) as Record<string, unknown>;
  const current = training["generation"] as Record<string, unknown> | undefined;
  let generation: Record<string, unknown> | undefined = current;
  if (flags.server !== undefined) {
    if (flags.server !== "sglang" && flags.server !== "vllm")
      throw new UsageError(`--generation-server must be sglang or vllm, got ${flags.server}`);
    generation = {
      ...(current?.["backend"] === "remote" ? current : {}),
      backend: "remote",
      server: flags.server,
    };
  }
  const remote = generation?.["backend"] === "remote";
  if (
    !remote &&
    (flags.url !== undefined || flags.weightsDirectory !== undefined || flags.syncEverySteps !== undefined)
  )
    throw new UsageError(
      "--generation-url, --generation-weights-directory and --sync-every-steps need a remote server (--generation-server or training.generation)",
    );
  if (generation === undefined || !remote) return params.training;
  const folder = generation["weightsDirectory"];
  generation = {
    ...generation,
    ...(typeof folder === "string" ? { weightsDirectory: params.at(folder) } : {}),
    ...(flags.weightsDirectory === undefined ? {} : { weightsDirectory: resolve(flags.weightsDirectory) }),
  };
  if (flags.syncEverySteps !== undefined) {
    const every = Number(flags.syncEverySteps);
    if (!Number.isSafeInteger(every) || every < 1)
      throw new UsageError(`--sync-every-steps must be a positive integer, got ${flags.syncEverySteps}`);
    generation["syncEverySteps"] = every;
  }
  return { ...training, generation };
}

/** Reads the config file and runs the stage. */
export async function runTrainCommand(params: {
  stage: string;
  configPath: string;
  /** rlvr only. */
  generation?: GenerationFlags;
}): Promise<TrainCommandResult> {
  if (!(stages as readonly string[]).includes(params.stage)) {
    throw new UsageError(`unknown stage ${params.stage}; stages: ${stages.join(", ")}`);
  }
  const stage = params.stage as Stage;
  const generationFlags = params.generation ?? {};
  if (stage !== "rlvr" && Object.values(generationFlags).some((value) => value !== undefined))
    throw new UsageError("--generation-* and --sync-every-steps apply to train rlvr only");
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(params.configPath, "utf8"));
  } catch (error) {
    throw new UsageError(`cannot read --config ${params.configPath}: ${(error as Error).message}`);
  }
  const file = parseWithSchema({ schema: fileSchema, value: raw, label: params.configPath });
  const base = dirname(resolve(params.configPath));
  const at = (path: string) => (isAbsolute(path) ? path : join(base, path));
  const directory = at(file.output);
  const interrupt = interruptSignal();
  const context = createRunContext({
    directory,
    seed: file.seed,
    streamName: stage,
    signal: interrupt.signal,
  });
  try {
    if (stage === "sft") {
      const model = sft.parseModelSource(file.model);
      const result = await sft.train({
        config: file.training as sft.ConfigInput,
        model: model.kind === "directory" ? { ...model, directory: at(model.directory) } : model,
        data: {
          train: await sftRows(at(file.data.train)),
          ...(file.data.evaluation === undefined
            ? {}
            : { evaluation: await sftRows(at(file.data.evaluation)) }),
        },
        context,
      });
      return { stage, directory, ...pick(result) };
    }
    if (stage === "rlvr") {
      if (file.tokenizer === undefined)
        throw new UsageError(`${params.configPath}: train rlvr needs "tokenizer": { "directory": ... }`);
      const model = rlvr.parseModelSource(file.model);
      const tokenizer = await loadTokenizer({
        directory: at(file.tokenizer.directory),
        ...(file.tokenizer.chatTemplate === undefined ? {} : { chatTemplate: file.tokenizer.chatTemplate }),
      });
      const result = await rlvr.train({
        config: withGenerationFlags({
          training: file.training,
          flags: generationFlags,
          at,
        }) as rlvr.ConfigInput,
        model: model.kind === "directory" ? { ...model, directory: at(model.directory) } : model,
        data: {
          train: await rlvrRows(at(file.data.train)),
          ...(file.data.evaluation === undefined
            ? {}
            : { evaluation: await rlvrRows(at(file.data.evaluation)) }),
        },
        context,
        tokenizer,
        ...(generationFlags.url === undefined ? {} : { generationEndpoint: { url: generationFlags.url } }),
      });
      return { stage, directory, ...pick(result) };
    }
    const model = dpo.parseModelSource(file.model);
    const training = file.training as dpo.ConfigInput;
    const cache = training?.referenceCacheDirectory;
    const result = await dpo.train({
      // A relative reference-cache folder is relative to the config file, like every path in it.
      config: typeof cache === "string" ? { ...training, referenceCacheDirectory: at(cache) } : training,
      model: model.kind === "directory" ? { ...model, directory: at(model.directory) } : model,
      data: {
        train: await preferenceRows(at(file.data.train)),
        ...(file.data.evaluation === undefined
          ? {}
          : { evaluation: await preferenceRows(at(file.data.evaluation)) }),
      },
      context,
    });
    return { stage, directory, ...pick(result) };
  } finally {
    interrupt.dispose();
  }
}

function pick(result: {
  status: "completed" | "interrupted";
  step: number;
  totalSteps: number;
  modelDirectory: string | null;
  metrics: unknown;
}) {
  return {
    status: result.status,
    step: result.step,
    totalSteps: result.totalSteps,
    modelDirectory: result.modelDirectory,
    metrics: result.metrics,
  };
}

interface TrainCommandOptions {
  config: string;
  json?: boolean;
  generationServer?: string;
  generationUrl?: string;
  generationWeightsDirectory?: string;
  syncEverySteps?: string;
}

export function register(program: Command): void {
  program
    .command("train")
    .description("run one training stage (sft, dpo, rlvr) from a JSON config file; rerun to resume")
    .argument("<stage>", "sft | dpo | rlvr")
    .requiredOption("--config <file>", "the stage's JSON config file")
    .option("--generation-server <server>", "rlvr: generate rollouts on an external sglang or vllm server")
    .option("--generation-url <url>", "rlvr: the generation server's URL (else POSTTRAIN_GENERATION_URL)")
    .option(
      "--generation-weights-directory <directory>",
      "rlvr: where pushed weights are written (vllm: the folder the server serves)",
    )
    .option("--sync-every-steps <n>", "rlvr: push the policy to the server every n steps (default 1)")
    .option("--json", "print the result as JSON")
    .action(async (stage: string, options: TrainCommandOptions) => {
      const result = await runTrainCommand({
        stage,
        configPath: options.config,
        generation: {
          ...(options.generationServer === undefined ? {} : { server: options.generationServer }),
          ...(options.generationUrl === undefined ? {} : { url: options.generationUrl }),
          ...(options.generationWeightsDirectory === undefined
            ? {}
            : { weightsDirectory: options.generationWeightsDirectory }),
          ...(options.syncEverySteps === undefined ? {} : { syncEverySteps: options.syncEverySteps }),
        },
      });
      output({
        json: options.json,
        value: result,
        human: () =>
          result.status === "completed"
            ? `${stage}: completed ${result.step}/${result.totalSteps} steps; model in ${result.modelDirectory}`
            : `${stage}: interrupted at step ${result.step}/${result.totalSteps}; checkpoint written, rerun the same command to resume`,
      });
    });
}
