/**
 * `posttrain train <stage> --config FILE`: runs one stage of the recipe's `stageRegistry`
 * (sft, dpo, rlvr) outside a recipe, through the stage's own `StageDefinition`. The config
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
 * `data.train`/`data.evaluation` are a prepared tokenized-cache folder from @posttrain/data
 * (`manifest.json` + shards), a JSONL file of tokenized rows, or a data file (JSONL, Parquet,
 * Arrow) of raw rows that are tokenized here with `tokenizer` and its chat template, as
 * `posttrain data prepare` would: see {@link trainRowFormatHelp} and docs/training-configs.md.
 *
 * rlvr rollouts on an external SGLang or vLLM server (`training.generation`, see
 * @posttrain/rlvr): `--generation-server sglang|vllm` switches a config to a remote server,
 * `--generation-url` gives its URL (else `training.generation.url`, else
 * `POSTTRAIN_GENERATION_URL`), `--generation-weights-directory` where the pushed weights go
 * (vLLM: the folder the server serves), `--sync-every-steps N` how often they are pushed. An
 * API key is read from `POSTTRAIN_GENERATION_API_KEY` (else `POSTTRAIN_WEIGHT_UPDATE_TOKEN`,
 * the token of `posttrain serve --enable-weight-updates`) only, never from a flag.
 */
import { existsSync, statSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { createRunContext, interruptSignal, PosttrainError, parseWithSchema } from "@posttrain/core";
import {
  type Chunk,
  dataFileFormat,
  type LoadedTokenizer,
  loadTokenizer,
  lookupTokenizedCache,
  processChunk,
  readTableBatches,
  rowsFromTable,
} from "@posttrain/data";
import { stageRegistry } from "@posttrain/recipe";
import { type AnyStageDefinition, parseModelSource, type StageData } from "@posttrain/training";
import type { Command } from "commander";
import { z } from "zod";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

const fileSchema = z.strictObject({
  /** Run directory (checkpoints, events.jsonl, config.json, model/). */
  output: z.string().min(1),
  /** Seed of the run context's random stream. */
  seed: z.number().int(),
  model: z.unknown(),
  data: z.strictObject({
    train: z.string().min(1),
    evaluation: z.string().min(1).optional(),
    /** Raw rows: maximum tokens per conversation (sft, dpo) or prompt (rlvr); longer rows are skipped and counted. */
    maxLength: z.number().int().positive().optional(),
  }),
  training: z.unknown(),
  /** The tokenizer folder: tokenizes raw rows (any stage); rlvr also decodes completions with it. */
  tokenizer: z
    .strictObject({
      directory: z.string().min(1),
      chatTemplate: z.enum(["tulu", "chatml", "zephyr"]).optional(),
    })
    .optional(),
});

/** The `--help` text of the row formats `train --config` reads (also in docs/training-configs.md). */
export const trainRowFormatHelp = `
Data rows (data.train / data.evaluation, paths relative to the config file):
  a prepared cache folder    from \`posttrain data prepare\` (manifest.json + shards)
  tokenized JSONL            sft: {"input_ids": [...], "labels": [...]} (labels -100 = no loss;
                             optional position_ids, segment_ids for packed rows)
                             dpo: {"prompt_ids": [...], "chosen_ids": [...], "rejected_ids": [...]}
                             rlvr: {"prompt_ids": [...], "ground_truth": "42", "dataset": "gsm8k"}
  raw rows (JSONL, Parquet, Arrow), tokenized with "tokenizer" and its chat template:
                             sft: {"messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}]}
                             dpo: {"chosen": [messages...], "rejected": [messages...]} (shared prompt turns)
                             rlvr: {"messages": [...prompt...], "ground_truth": "42", "dataset": "gsm8k"}
  raw rows need "tokenizer": {"directory": ..., "chatTemplate"?: "tulu"|"chatml"|"zephyr"} and take
  "data": {"maxLength": N} (default 2048; longer rows are skipped and counted).
`;

const defaultMaxLength = 2048;

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

/** Whether a file holds pre-tokenized rows: its first row has the stage's id column. */
async function holdsTokenizedRows(params: { path: string; stage: AnyStageDefinition }): Promise<boolean> {
  const format = dataFileFormat(params.path);
  if (format !== "jsonl") return false;
  const text = await readFile(params.path, "utf8");
  const first = text.split("\n").find((line) => line.trim() !== "");
  if (first === undefined) return true; // empty: the trainer names it
  try {
    const row = JSON.parse(first) as Record<string, unknown>;
    return typeof row === "object" && row !== null && params.stage.rows.tokenizedColumn in row;
  } catch {
    return true; // let the tokenized reader name the line
  }
}

/**
 * Raw chat / preference / prompt rows, checked and tokenized as \`posttrain data prepare\`
 * does (@posttrain/data's row checks and transforms): a malformed row is an error naming
 * the file, row and reason; rows over \`maxLength\` or with nothing to learn are skipped and
 * counted on stderr.
 */
async function tokenizeRawRows(params: {
  path: string;
  stage: AnyStageDefinition;
  tokenizer: LoadedTokenizer | null;
  maxLength: number;
  configPath: string;
}): Promise<unknown[]> {
  const { format, tokenizedColumn } = params.stage.rows;
  if (params.tokenizer === null)
    throw new PosttrainError({
      code: "train_data_invalid",
      message: `${params.path} holds raw rows (no ${tokenizedColumn} column): add "tokenizer": { "directory": ... } to ${params.configPath} to tokenize them, or give tokenized rows`,
    });
  const items: Chunk["items"] = [];
  for await (const table of readTableBatches({ path: params.path }))
    for (const row of rowsFromTable(table)) items.push({ row, rowNumber: items.length + 1, copies: 1 });
  const result = processChunk({
    tokenizer: params.tokenizer,
    settings: { format, maxLength: params.maxLength },
    chunk: { index: 0, source: params.path, items },
  });
  if (result.malformed.malformed > 0) {
    const examples = Object.entries(result.malformed.reasons).flatMap(([reason, entry]) =>
      (entry?.examples ?? [])
        .slice(0, 3)
        .map((example) => `row ${example.row}: ${reason}: ${example.detail}`),
    );
    throw new PosttrainError({
      code: "train_data_invalid",
      message: `${params.path}: ${result.malformed.malformed} of ${result.malformed.checked} rows are not ${format} rows:\n  ${examples.join("\n  ")}`,
      details: { path: params.path, malformed: result.malformed },
    });
  }
  const skipped = Object.entries(result.filtered);
  if (skipped.length > 0)
    process.stderr.write(
      `${params.path}: skipped ${skipped.map(([reason, count]) => `${count} ${reason.replace(/_/g, " ")}`).join(", ")} (maxLength ${params.maxLength})\n`,
    );
  if (result.records.length === 0)
    throw new PosttrainError({
      code: "train_data_invalid",
      message: `${params.path}: no trainable rows after tokenization (maxLength ${params.maxLength})`,
    });
  return result.records.map((record) => params.stage.rows.fromTokenized(record));
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

interface RowSource {
  path: string;
  tokenizer: LoadedTokenizer | null;
  maxLength: number;
  configPath: string;
}

/** A stage's rows from a prepared cache folder, a tokenized JSONL file or raw rows (tokenized here). */
async function stageRows(stage: AnyStageDefinition, source: RowSource): Promise<unknown[]> {
  const { path } = source;
  if (isDirectory(path))
    return stage.rows.readPrepared({ directory: path, manifest: await preparedManifest(path) });
  if (!(await holdsTokenizedRows({ path, stage }))) return tokenizeRawRows({ ...source, stage });
  return jsonlRows(path, stage.rows.tokenizedSchema);
}

export interface TrainCommandResult {
  stage: string;
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

/** A sampling stage's `training` config with the generation flags applied (they override the file). */
function withGenerationFlags(params: { training: unknown; flags: GenerationFlags }): unknown {
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
  generation = {
    ...generation,
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
  const stage = stageRegistry.get(params.stage);
  if (stage === undefined)
    throw new UsageError(`unknown stage ${params.stage}; stages: ${[...stageRegistry.keys()].join(", ")}`);
  const generationFlags = params.generation ?? {};
  if (!stage.generation && Object.values(generationFlags).some((value) => value !== undefined))
    throw new UsageError(
      `--generation-* and --sync-every-steps apply to ${[...stageRegistry.values()]
        .filter((definition) => definition.generation)
        .map((definition) => `train ${definition.name}`)
        .join(", ")} only`,
    );
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
  if (stage.needsTokenizer && file.tokenizer === undefined)
    throw new UsageError(`${params.configPath}: train ${stage.name} needs "tokenizer": { "directory": ... }`);
  // Everything that can be checked before training is, before the run folder exists: a bad
  // config or data file leaves no empty output folder behind.
  const tokenizer =
    file.tokenizer === undefined
      ? null
      : await loadTokenizer({
          directory: at(file.tokenizer.directory),
          ...(file.tokenizer.chatTemplate === undefined ? {} : { chatTemplate: file.tokenizer.chatTemplate }),
        });
  const source = (path: string): RowSource => ({
    path: at(path),
    tokenizer,
    maxLength: file.data.maxLength ?? defaultMaxLength,
    configPath: params.configPath,
  });
  // Paths in the file are relative to it: the model folder and the stage's own paths.
  const model = parseModelSource(file.model);
  const training = stage.resolveConfigPaths?.({ config: file.training, resolvePath: at }) ?? file.training;
  const config = stage.generation ? withGenerationFlags({ training, flags: generationFlags }) : training;
  const existedBefore = existsSync(directory);
  const interrupt = interruptSignal();
  try {
    const data: StageData<unknown> = {
      train: await stageRows(stage, source(file.data.train)),
      ...(file.data.evaluation === undefined
        ? {}
        : { evaluation: await stageRows(stage, source(file.data.evaluation)) }),
    };
    const result = await stage.train({
      config,
      model: model.kind === "directory" ? { ...model, directory: at(model.directory) } : model,
      data,
      context: contextFor({ directory, seed: file.seed, stage: stage.name, signal: interrupt.signal }),
      tokenizer,
      ...(generationFlags.url === undefined ? {} : { generationUrl: generationFlags.url }),
    });
    return { stage: stage.name, directory, ...pick(result) };
  } catch (error) {
    // A run that failed before its first checkpoint (e.g. the trainer refused the `training`
    // config) leaves nothing: the folder this command created goes again.
    if (!existedBefore && !(await holdsCheckpoint(directory)))
      await rm(directory, { recursive: true, force: true });
    throw error;
  } finally {
    interrupt.dispose();
  }
}

function contextFor(params: { directory: string; seed: number; stage: string; signal: AbortSignal }) {
  return createRunContext({
    directory: params.directory,
    seed: params.seed,
    streamName: params.stage,
    signal: params.signal,
  });
}

/** Whether a run folder holds a checkpoint (then it is kept, to resume from). */
async function holdsCheckpoint(directory: string): Promise<boolean> {
  const checkpoints = join(directory, "checkpoints");
  if (!existsSync(checkpoints)) return false;
  return (await readdir(checkpoints)).length > 0;
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
    .description(
      `run one training stage (${[...stageRegistry.keys()].join(", ")}) from a JSON config file (data: tokenized rows, a prepared cache, or raw chat/preference/prompt rows with a tokenizer); rerun to resume`,
    )
    .argument("<stage>", [...stageRegistry.keys()].join(" | "))
    .requiredOption("--config <file>", "the stage's JSON config file")
    .option("--generation-server <server>", "rlvr: generate rollouts on an external sglang or vllm server")
    .option("--generation-url <url>", "rlvr: the generation server's URL (else POSTTRAIN_GENERATION_URL)")
    .option(
      "--generation-weights-directory <directory>",
      "rlvr: where pushed weights are written (vllm: the folder the server serves)",
    )
    .option("--sync-every-steps <n>", "rlvr: push the policy to the server every n steps (default 1)")
    .option("--json", "print the result as JSON")
    .addHelpText("after", trainRowFormatHelp)
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
