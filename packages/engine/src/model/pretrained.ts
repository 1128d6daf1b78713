/**
 * Models in the Hugging Face folder layout: `config.json`, optional `generation_config.json`,
 * `model.safetensors` or shards listed by `model.safetensors.index.json`, tokenizer files.
 * The engine reads local folders only (the CLI pulls `hub:` references through @posttrain/hub).
 *
 * Hugging Face stores Linear weights `[out, in]` (and `lm_head.weight` `[vocab, hidden]`);
 * the engine stores `[in, out]`, so every 2-D weight except the embedding is transposed on load
 * and on save. `lm_head.weight` is absent when the embeddings are tied.
 */

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import {
  PosttrainError,
  type PosttrainErrorParams,
  parseWithSchema,
  Random,
  sha256Hex,
  writeFileAtomic,
  writeJsonAtomic,
} from "@posttrain/core";
import { z } from "zod";
import { ParameterLayout } from "../parameters.js";
import {
  readSafetensors,
  type SafetensorsDtype,
  type TensorToWrite,
  writeSafetensors,
} from "../safetensors.js";
import { type DecoderConfig, parseHuggingFaceConfig } from "./architecture.js";
import { DecoderModel } from "./decoder.js";

type ErrorParams = Omit<PosttrainErrorParams, "code">;

/** A model folder is missing files or holds tensors that do not match its config. */
export class ModelFolderError extends PosttrainError {
  constructor(params: ErrorParams & { code?: "model_folder_missing" | "model_weights_mismatch" }) {
    super({ ...params, code: params.code ?? "model_weights_mismatch" });
    this.name = "ModelFolderError";
  }
}

/** A model in memory: its architecture, flat float32 parameters and where it came from. */
export interface PretrainedModel {
  model: DecoderModel;
  config: DecoderConfig;
  layout: ParameterLayout;
  /** All parameters in {@link ParameterLayout} order, engine layout (`[in, out]`). */
  parameters: Float32Array;
  /** `generation_config.json`, when the folder had one. */
  generationConfig: Record<string, unknown> | null;
  /** The folder it was loaded from (null for {@link initializePretrainedModel}). */
  directory: string | null;
  /** Stored dtype of the weights that were read (null for {@link initializePretrainedModel}). */
  storedDtype: SafetensorsDtype | null;
}

/** Tokenizer files carried through {@link savePretrainedModel} when present. */
export const tokenizerFileNames = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.json",
  "merges.txt",
  "tokenizer.model",
  "added_tokens.json",
  "chat_template.jinja",
] as const;

/** Whether an engine parameter is stored transposed relative to Hugging Face. */
function isTransposed(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && name !== "model.embed_tokens.weight";
}

/** Transposes a row-major `[rows, columns]` matrix into `target` (`[columns, rows]`). */
function transposeInto(source: Float32Array, rows: number, columns: number, target: Float32Array): void {
  const block = 64;
  for (let rowStart = 0; rowStart < rows; rowStart += block) {
    const rowEnd = Math.min(rows, rowStart + block);
    for (let columnStart = 0; columnStart < columns; columnStart += block) {
      const columnEnd = Math.min(columns, columnStart + block);
      for (let row = rowStart; row < rowEnd; row += 1) {
        const offset = row * columns;
        for (let column = columnStart; column < columnEnd; column += 1)
          target[column * rows + row] = source[offset + column]!;
      }
    }
  }
}

const indexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string()),
});

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch (error) {
    throw new ModelFolderError({
      message: `cannot read ${path}`,
      cause: error,
      code: "model_folder_missing",
    });
  }
}

/** The weight files of a folder: the sharded index's files, or `model.safetensors`. */
async function weightFiles(directory: string): Promise<string[]> {
  const indexPath = join(directory, "model.safetensors.index.json");
  if (existsSync(indexPath)) {
    const index = parseWithSchema({
      schema: indexSchema,
      value: await readJson(indexPath),
      label: indexPath,
    });
    return [...new Set(Object.values(index.weight_map))].sort();
  }
  if (existsSync(join(directory, "model.safetensors"))) return ["model.safetensors"];
  throw new ModelFolderError({
    code: "model_folder_missing",
    message: `${directory} has neither model.safetensors nor model.safetensors.index.json`,
  });
}

/** Builds a {@link PretrainedModel} around a validated config and a parameter buffer. */
function assemble(params: {
  config: DecoderConfig;
  parameters?: Float32Array;
  generationConfig: Record<string, unknown> | null;
  directory: string | null;
  storedDtype: SafetensorsDtype | null;
}): PretrainedModel {
  const model = new DecoderModel(params.config);
  const layout = new ParameterLayout(model.parameterSpecs());
  return {
    model,
    config: params.config,
    layout,
    parameters: params.parameters ?? new Float32Array(layout.length),
    generationConfig: params.generationConfig,
    directory: params.directory,
    storedDtype: params.storedDtype,
  };
}

/**
 * Loads a Hugging Face model folder (F32/BF16/F16 weights, single or sharded). Every tensor
 * the architecture needs must be present with the right shape; unexpected tensors are an
 * error (except `lm_head.weight` duplicated in a tied checkpoint and legacy `rotary_emb.inv_freq`).
 */
export async function loadPretrainedModel(params: { directory: string }): Promise<PretrainedModel> {
  const { directory } = params;
  const config = parseHuggingFaceConfig(await readJson(join(directory, "config.json")));
  const generationPath = join(directory, "generation_config.json");
  const generationConfig = existsSync(generationPath)
    ? parseWithSchema({
        schema: z.record(z.string(), z.unknown()),
        value: await readJson(generationPath),
        label: generationPath,
      })
    : null;
  const loaded = assemble({ config, generationConfig, directory, storedDtype: null });
  const expected = new Map(loaded.layout.entries.map((entry) => [entry.name, entry]));
  const seen = new Set<string>();
  const dtypes = new Set<SafetensorsDtype>();
  for (const file of await weightFiles(directory)) {
    const { tensors } = await readSafetensors({ path: join(directory, file) });
    for (const [name, tensor] of tensors) {
      const entry = expected.get(name);
      if (entry === undefined) {
        if (name.endsWith("rotary_emb.inv_freq") || (name === "lm_head.weight" && config.tie_word_embeddings))
          continue;
        throw new ModelFolderError({
          message: `${file}: unexpected tensor ${name} for ${config.architecture} (is config.json the right one?)`,
          details: { tensor: name },
        });
      }
      const transposed = isTransposed(name, entry.shape);
      const expectedShape = transposed ? [entry.shape[1]!, entry.shape[0]!] : [...entry.shape];
      if (tensor.shape.join(",") !== expectedShape.join(",")) {
        throw new ModelFolderError({
          message: `${file}: tensor ${name} has shape [${tensor.shape.join(", ")}], config.json implies [${expectedShape.join(", ")}]`,
          details: { tensor: name, shape: tensor.shape, expected: expectedShape },
        });
      }
      const target = loaded.layout.view(loaded.parameters, name);
      if (transposed) transposeInto(tensor.data, expectedShape[0]!, expectedShape[1]!, target);
      else target.set(tensor.data);
      seen.add(name);
      dtypes.add(tensor.dtype);
    }
  }
  const missing = [...expected.keys()].filter((name) => !seen.has(name));
  if (missing.length > 0) {
    throw new ModelFolderError({
      message: `${directory}: missing ${missing.length} tensor(s): ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}`,
      details: { missing },
    });
  }
  loaded.storedDtype = dtypes.size === 1 ? [...dtypes][0]! : "F32";
  return loaded;
}

/**
 * A fresh model from a Hugging Face config object with seeded initial values (N(0, 0.02²)
 * weights, unit norm gains, zero biases; one named {@link Random} stream per parameter).
 */
export function initializePretrainedModel(params: { config: unknown; seed: number }): PretrainedModel {
  const config = parseHuggingFaceConfig(params.config);
  const loaded = assemble({ config, generationConfig: null, directory: null, storedDtype: null });
  loaded.model.initializeFlat({
    random: Random.fromSeed(params.seed),
    layout: loaded.layout,
    buffer: loaded.parameters,
  });
  return loaded;
}

/** sha256 of the parameters (each tensor's float32 bytes in layout order, padding excluded). */
export function modelHash(model: PretrainedModel): string {
  const bytes = new Uint8Array(model.layout.elementCount() * 4);
  const floats = new Float32Array(bytes.buffer);
  let offset = 0;
  for (const entry of model.layout.entries) {
    floats.set(model.layout.view(model.parameters, entry.name), offset);
    offset += entry.size;
  }
  return sha256Hex(bytes);
}

/** The tensors of `model` in Hugging Face names and layout (`[out, in]`). */
export function huggingFaceTensors(model: PretrainedModel): TensorToWrite[] {
  return model.layout.entries.map((entry) => {
    const view = model.layout.view(model.parameters, entry.name);
    if (!isTransposed(entry.name, entry.shape)) return { name: entry.name, shape: entry.shape, data: view };
    const [rows, columns] = entry.shape as [number, number];
    const data = new Float32Array(view.length);
    transposeInto(view, rows, columns, data);
    return { name: entry.name, shape: [columns, rows], data };
  });
}

/**
 * Writes `model` as a Hugging Face folder that transformers and vLLM load unchanged:
 * `config.json` (the source config, `torch_dtype` set to what is written), `generation_config.json`
 * when known, `model.safetensors` — or `model-0000i-of-0000n.safetensors` shards plus
 * `model.safetensors.index.json` when larger than `maxShardBytes` (default 5 GB, as
 * `save_pretrained`) — and the tokenizer files: `tokenizerFiles` (paths) or, by default, the
 * known tokenizer files of the folder the model was loaded from.
 */
export async function savePretrainedModel(params: {
  model: PretrainedModel;
  directory: string;
  dtype?: "F32" | "BF16";
  maxShardBytes?: number;
  tokenizerFiles?: readonly string[];
}): Promise<{ files: string[] }> {
  const { model, directory } = params;
  const dtype = params.dtype ?? "F32";
  const width = dtype === "F32" ? 4 : 2;
  const maxShardBytes = params.maxShardBytes ?? 5_000_000_000;
  const tensors = huggingFaceTensors(model);
  const shards: TensorToWrite[][] = [[]];
  let shardBytes = 0;
  for (const tensor of tensors) {
    const size = tensor.data.length * width;
    if (shardBytes > 0 && shardBytes + size > maxShardBytes) {
      shards.push([]);
      shardBytes = 0;
    }
    shards.at(-1)!.push(tensor);
    shardBytes += size;
  }
  const files: string[] = [];
  if (shards.length === 1) {
    await writeSafetensors({ path: join(directory, "model.safetensors"), tensors, dtype });
    files.push("model.safetensors");
  } else {
    const weightMap: Record<string, string> = {};
    const pad = (value: number) => String(value).padStart(5, "0");
    for (const [index, shard] of shards.entries()) {
      const name = `model-${pad(index + 1)}-of-${pad(shards.length)}.safetensors`;
      await writeSafetensors({ path: join(directory, name), tensors: shard, dtype });
      for (const tensor of shard) weightMap[tensor.name] = name;
      files.push(name);
    }
    await writeJsonAtomic({
      path: join(directory, "model.safetensors.index.json"),
      value: {
        metadata: { total_size: tensors.reduce((sum, t) => sum + t.data.length * width, 0) },
        weight_map: weightMap,
      },
    });
    files.push("model.safetensors.index.json");
  }
  const config = {
    ...model.config.source,
    architectures: [architectureClass(model.config)],
    model_type: model.config.architecture,
    torch_dtype: dtype === "F32" ? "float32" : "bfloat16",
  };
  await writeJsonAtomic({ path: join(directory, "config.json"), value: config });
  files.push("config.json");
  if (model.generationConfig !== null) {
    await writeJsonAtomic({ path: join(directory, "generation_config.json"), value: model.generationConfig });
    files.push("generation_config.json");
  }
  const tokenizerFiles =
    params.tokenizerFiles ??
    (model.directory === null
      ? []
      : tokenizerFileNames.map((name) => join(model.directory!, name)).filter((path) => existsSync(path)));
  for (const path of tokenizerFiles) {
    await writeFileAtomic({ path: join(directory, basename(path)), content: await readFile(path) });
    files.push(basename(path));
  }
  return { files };
}

function architectureClass(config: DecoderConfig): string {
  return { llama: "LlamaForCausalLM", qwen2: "Qwen2ForCausalLM", olmo2: "Olmo2ForCausalLM" }[
    config.architecture
  ];
}
