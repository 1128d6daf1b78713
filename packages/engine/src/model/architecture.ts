/**
 * Maps a Hugging Face `config.json` onto the engine's decoder family. Supported:
 *
 * | `architectures[0]` / `model_type` | differences from Llama |
 * |---|---|
 * | `LlamaForCausalLM` / `llama` (Llama 2/3.x, SmolLM2) | `rope_scaling` `{rope_type: "llama3"}` rescales the RoPE inverse frequencies |
 * | `Qwen2ForCausalLM` / `qwen2` (Qwen2, Qwen2.5) | bias on q/k/v projections (not on o_proj) |
 * | `Olmo2ForCausalLM` / `olmo2` (OLMo 2) | post-norm (RMSNorm after attention and after the MLP, no input norm); RMSNorm on the full q and k projections (`q_norm`, `k_norm`) |
 *
 * Anything else (another architecture, an activation other than SiLU, sliding-window attention,
 * another RoPE scaling, Llama's `attention_bias`/`mlp_bias`) is an {@link UnsupportedModelError}
 * that says what is supported. The original JSON is kept so a saved checkpoint carries it
 * through unchanged.
 */
import { PosttrainError, type PosttrainErrorParams, parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { type LlamaConfig, parseLlamaConfig } from "./llama-config.js";

/** The architectures the engine implements, by `model_type`. */
export const supportedArchitectures = {
  llama: "LlamaForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  olmo2: "Olmo2ForCausalLM",
} as const;

export type ArchitectureName = keyof typeof supportedArchitectures;

/** Llama 3.x RoPE scaling (`rope_scaling.rope_type == "llama3"`). */
export interface Llama3RopeScaling {
  factor: number;
  lowFrequencyFactor: number;
  highFrequencyFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** A validated decoder configuration: {@link LlamaConfig} plus the per-architecture switches. */
export interface DecoderConfig extends LlamaConfig {
  architecture: ArchitectureName;
  /** Bias vectors on the q/k/v projections (Qwen2). */
  queryKeyValueBias: boolean;
  /** RMSNorm over the full q and k projections before RoPE (OLMo 2). */
  queryKeyNorm: boolean;
  /** `pre`: x + f(norm(x)) (Llama, Qwen2); `post`: x + norm(f(x)) (OLMo 2). */
  normPlacement: "pre" | "post";
  ropeScaling: Llama3RopeScaling | null;
  maxPositionEmbeddings: number;
  /** Token ids from the config (generation_config.json may add eos ids). */
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** The `config.json` this was read from (carried through on save). */
  source: Record<string, unknown>;
}

type ErrorParams = Omit<PosttrainErrorParams, "code">;

/** The config names an architecture or feature the engine does not implement. */
export class UnsupportedModelError extends PosttrainError {
  constructor(params: ErrorParams) {
    super({ ...params, code: "unsupported_model" });
    this.name = "UnsupportedModelError";
  }
}

const supportedList = Object.entries(supportedArchitectures)
  .map(([type, name]) => `${name} (model_type ${type})`)
  .join(", ");

const tokenIdSchema = z.union([z.number().int(), z.array(z.number().int()), z.null()]).optional();

const huggingFaceConfigSchema = z.looseObject({
  architectures: z.array(z.string()).optional(),
  model_type: z.string().optional(),
  hidden_act: z.string().optional(),
  max_position_embeddings: z.number().int().positive().optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  use_sliding_window: z.boolean().optional(),
  rope_scaling: z
    .looseObject({
      rope_type: z.string().optional(),
      type: z.string().optional(),
      factor: z.number().positive().optional(),
      low_freq_factor: z.number().positive().optional(),
      high_freq_factor: z.number().positive().optional(),
      original_max_position_embeddings: z.number().int().positive().optional(),
    })
    .nullable()
    .optional(),
  bos_token_id: tokenIdSchema,
  eos_token_id: tokenIdSchema,
});

function architectureOf(config: z.infer<typeof huggingFaceConfigSchema>): ArchitectureName {
  const declared = config.architectures?.[0];
  if (declared !== undefined) {
    const match = Object.entries(supportedArchitectures).find(([, name]) => name === declared);
    if (match === undefined) {
      throw new UnsupportedModelError({
        message: `unsupported architecture ${declared}; supported: ${supportedList}`,
        details: { architecture: declared },
      });
    }
    return match[0] as ArchitectureName;
  }
  const type = config.model_type;
  if (type !== undefined && type in supportedArchitectures) return type as ArchitectureName;
  throw new UnsupportedModelError({
    message: `config.json names no supported architecture (architectures: none, model_type: ${type ?? "none"}); supported: ${supportedList}`,
    details: { modelType: type ?? null },
  });
}

function unsupported(field: string, value: unknown, supported: string): never {
  throw new UnsupportedModelError({
    message: `unsupported config field ${field} = ${JSON.stringify(value)}; supported: ${supported}`,
    details: { field, value },
  });
}

const ids = (value: number | number[] | null | undefined): number[] =>
  value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];

/**
 * Parses a Hugging Face `config.json` object (errors name the offending field; an unknown
 * architecture or unsupported field lists what is supported).
 */
export function parseHuggingFaceConfig(value: unknown): DecoderConfig {
  const config = parseWithSchema({ schema: huggingFaceConfigSchema, value, label: "config.json" });
  const architecture = architectureOf(config);
  if (config.hidden_act !== undefined && config.hidden_act !== "silu")
    unsupported("hidden_act", config.hidden_act, '"silu"');
  if (architecture === "llama" && config.attention_bias === true)
    unsupported("attention_bias", true, "false for LlamaForCausalLM");
  if (config.mlp_bias === true) unsupported("mlp_bias", true, "false");
  if (architecture === "olmo2" && config.attention_bias === true)
    unsupported("attention_bias", true, "false for Olmo2ForCausalLM");
  if (config.use_sliding_window === true) unsupported("use_sliding_window", true, "false");
  let ropeScaling: Llama3RopeScaling | null = null;
  if (config.rope_scaling !== undefined && config.rope_scaling !== null) {
    const scaling = config.rope_scaling;
    const type = scaling.rope_type ?? scaling.type;
    if (type !== "llama3" || architecture !== "llama")
      unsupported(
        "rope_scaling.rope_type",
        type ?? null,
        '"llama3" (LlamaForCausalLM only) or no rope_scaling',
      );
    for (const field of [
      "factor",
      "low_freq_factor",
      "high_freq_factor",
      "original_max_position_embeddings",
    ] as const) {
      if (scaling[field] === undefined) unsupported(`rope_scaling.${field}`, null, "a positive number");
    }
    ropeScaling = {
      factor: scaling.factor!,
      lowFrequencyFactor: scaling.low_freq_factor!,
      highFrequencyFactor: scaling.high_freq_factor!,
      originalMaxPositionEmbeddings: scaling.original_max_position_embeddings!,
    };
  }
  const base = parseLlamaConfig(value);
  return {
    ...base,
    architecture,
    queryKeyValueBias: architecture === "qwen2",
    queryKeyNorm: architecture === "olmo2",
    normPlacement: architecture === "olmo2" ? "post" : "pre",
    ropeScaling,
    maxPositionEmbeddings: config.max_position_embeddings ?? 2048,
    bosTokenId: ids(config.bos_token_id)[0] ?? null,
    eosTokenIds: ids(config.eos_token_id),
    source: { ...(value as Record<string, unknown>) },
  };
}

/**
 * The {@link DecoderConfig} of a from-scratch {@link LlamaConfig}: a `LlamaForCausalLM` with
 * no biases, pre-norm and unscaled RoPE (the same config {@link parseHuggingFaceConfig} reads
 * back from the `config.json` a training stage writes for it).
 */
export function decoderConfigFromLlama(config: LlamaConfig): DecoderConfig {
  return parseHuggingFaceConfig({
    architectures: [supportedArchitectures.llama],
    model_type: "llama",
    hidden_act: "silu",
    ...config,
  });
}

/**
 * RoPE inverse frequencies `1 / θ^(2i/d)` for i < d/2, rescaled for Llama 3.x: long
 * wavelengths (> original_max / low_freq_factor) are divided by `factor`, short ones
 * (< original_max / high_freq_factor) kept, and the band between interpolated smoothly
 * (Hugging Face `_compute_llama3_parameters`).
 */
export function ropeInverseFrequencies(config: DecoderConfig): number[] {
  const half = config.head_dim / 2;
  const base = Array.from(
    { length: half },
    (_, index) => 1 / config.rope_theta ** ((2 * index) / config.head_dim),
  );
  const scaling = config.ropeScaling;
  if (scaling === null) return base;
  const lowWavelength = scaling.originalMaxPositionEmbeddings / scaling.lowFrequencyFactor;
  const highWavelength = scaling.originalMaxPositionEmbeddings / scaling.highFrequencyFactor;
  return base.map((frequency) => {
    const wavelength = (2 * Math.PI) / frequency;
    if (wavelength < highWavelength) return frequency;
    if (wavelength > lowWavelength) return frequency / scaling.factor;
    const smooth =
      (scaling.originalMaxPositionEmbeddings / wavelength - scaling.lowFrequencyFactor) /
      (scaling.highFrequencyFactor - scaling.lowFrequencyFactor);
    return ((1 - smooth) * frequency) / scaling.factor + smooth * frequency;
  });
}
