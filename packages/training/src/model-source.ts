/**
 * Where a training stage's initial weights come from: a fresh initialisation, a flat buffer in
 * memory, or a model folder written by {@link writeModelDirectory} (which every stage writes
 * as its final output, so SFT → DPO → RLVR chain): `loadTrainingModel` → `TrainingModel`. The
 * engine's `loadPretrainedModel` → `PretrainedModel` reads Hugging Face checkpoint folders.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseWithSchema, Random, readFileVerified, sha256Hex } from "@posttrain/core";
import {
  DecoderModel,
  type LlamaConfig,
  type LlamaConfigInput,
  llamaConfigSchema,
  ParameterLayout,
  parseLlamaConfig,
} from "@posttrain/engine";
import { z } from "zod";
import { TrainError } from "./errors.js";

export type ModelSource =
  /** Fresh weights from `DecoderModel`'s initialiser, seeded (`Random.fromSeed(seed).stream("init")`). */
  | { kind: "initialize"; config: LlamaConfigInput; seed: number }
  /** A flat buffer in the engine's `ParameterLayout` order (copied). */
  | { kind: "parameters"; config: LlamaConfigInput; parameters: Float32Array }
  /** A model folder: `config.json` (HF names) + `parameters.bin` (flat float32, sha256 sidecar). */
  | { kind: "directory"; directory: string };

/** The JSON-expressible sources (what a config file may name). */
export const modelSourceSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("initialize"), config: llamaConfigSchema, seed: z.number().int() }),
  z.strictObject({ kind: z.literal("directory"), directory: z.string().min(1) }),
]);

/** A training stage's model: the Llama graph builder, its config, layout and initial weights. */
export interface TrainingModel {
  model: DecoderModel;
  config: LlamaConfig;
  layout: ParameterLayout;
  /** A fresh copy the caller owns. */
  parameters: Float32Array;
  /** sha256 of the parameter bytes: identifies the weights (reference-log-prob cache key). */
  hash: string;
}

/** The bytes of a float32 buffer (a view, not a copy). */
export function parameterBytes(parameters: Float32Array): Uint8Array {
  return new Uint8Array(parameters.buffer, parameters.byteOffset, parameters.byteLength);
}

/** Builds the model and its initial parameters from a {@link ModelSource}. */
export async function loadTrainingModel(params: { source: ModelSource }): Promise<TrainingModel> {
  const { source } = params;
  let config: LlamaConfig;
  let parameters: Float32Array;
  if (source.kind === "directory") {
    const raw = JSON.parse(await readFile(join(source.directory, "config.json"), "utf8")) as unknown;
    config = parseLlamaConfig(raw);
    const bytes = await readFileVerified({ path: join(source.directory, "parameters.bin") });
    parameters = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(parameters.buffer).set(bytes);
  } else {
    config = parseLlamaConfig(source.config);
    if (source.kind === "parameters") parameters = Float32Array.from(source.parameters);
    else {
      const model = new DecoderModel(config, { threadInvariantGemms: false });
      const layout = new ParameterLayout(model.parameterSpecs());
      parameters = new Float32Array(layout.length);
      model.initializeFlat({
        random: Random.fromSeed(source.seed).stream("init"),
        layout,
        buffer: parameters,
      });
    }
  }
  const model = new DecoderModel(config, { threadInvariantGemms: false });
  const layout = new ParameterLayout(model.parameterSpecs());
  if (parameters.length !== layout.length) {
    throw new TrainError({
      code: "train_model_invalid",
      message: `the parameters have ${parameters.length} floats; the model config needs ${layout.length}`,
    });
  }
  return { model, config, layout, parameters, hash: sha256Hex(parameterBytes(parameters)) };
}

/** Parses a JSON model source (from a config file), naming offending fields. */
export function parseModelSource(value: unknown): ModelSource {
  return parseWithSchema({ schema: modelSourceSchema, value, label: "model" }) as ModelSource;
}
