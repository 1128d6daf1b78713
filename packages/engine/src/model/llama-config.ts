import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";

/**
 * The configuration of a decoder built from scratch, in Hugging Face `config.json` field
 * names (so a stage's output folder is a `LlamaForCausalLM` checkpoint and
 * `parseHuggingFaceConfig` reads it back). Unknown keys are ignored.
 */
export const llamaConfigSchema = z
  .object({
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().optional(),
    head_dim: z.number().int().positive().optional(),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    tie_word_embeddings: z.boolean().default(false),
  })
  .superRefine((value, context) => {
    const headDimension = value.head_dim ?? value.hidden_size / value.num_attention_heads;
    if (!Number.isInteger(headDimension) || headDimension % 2 !== 0) {
      context.addIssue({
        code: "custom",
        path: ["head_dim"],
        message: "the head dimension must be an even integer",
      });
    }
    if (value.num_attention_heads % (value.num_key_value_heads ?? value.num_attention_heads) !== 0) {
      context.addIssue({
        code: "custom",
        path: ["num_key_value_heads"],
        message: "num_attention_heads must be a multiple of num_key_value_heads",
      });
    }
  });

export type LlamaConfigInput = z.input<typeof llamaConfigSchema>;

/** A validated config with derived sizes filled in. */
export interface LlamaConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
}

/** Validates a config (errors name the offending field) and derives `head_dim` and the KV head count. */
export function parseLlamaConfig(value: unknown): LlamaConfig {
  const parsed = parseWithSchema({ schema: llamaConfigSchema, value, label: "llama config" });
  return {
    ...parsed,
    num_key_value_heads: parsed.num_key_value_heads ?? parsed.num_attention_heads,
    head_dim: parsed.head_dim ?? parsed.hidden_size / parsed.num_attention_heads,
  };
}
