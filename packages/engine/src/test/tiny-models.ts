/**
 * Tiny random configs of every supported architecture (test support), and a perturbation
 * that makes a freshly initialised model's outputs non-trivial (larger weights, non-unit norm
 * gains, non-zero biases), so parity and decoding tests exercise every parameter.
 */
import { Random } from "@posttrain/core";
import { initializePretrainedModel, type PretrainedModel } from "../model/pretrained.js";

const shared = {
  vocab_size: 67,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  hidden_act: "silu",
  max_position_embeddings: 256,
  bos_token_id: 1,
  eos_token_id: 2,
};

/** One Hugging Face `config.json` per architecture variant. */
export const tinyConfigs: Record<string, Record<string, unknown>> = {
  "llama (tied, GQA)": {
    ...shared,
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    tie_word_embeddings: true,
  },
  "llama 3 (rope_scaling llama3, untied)": {
    ...shared,
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    tie_word_embeddings: false,
    hidden_size: 64,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    rope_theta: 500000,
    rope_scaling: {
      rope_type: "llama3",
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 64,
    },
  },
  "qwen2 (qkv bias, tied)": {
    ...shared,
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    tie_word_embeddings: true,
    use_sliding_window: false,
  },
  "olmo2 (post-norm, qk-norm, untied)": {
    ...shared,
    architectures: ["Olmo2ForCausalLM"],
    model_type: "olmo2",
    tie_word_embeddings: false,
    attention_bias: false,
  },
};

/** {@link initializePretrainedModel} then perturbed: weights ×10, norm gains 1 + 0.2·N(0,1), biases 0.3·N(0,1). */
export function tinyModel(params: { config: Record<string, unknown>; seed: number }): PretrainedModel {
  const model = initializePretrainedModel(params);
  const random = Random.fromSeed(params.seed).stream("perturb");
  for (const entry of model.layout.entries) {
    const view = model.layout.view(model.parameters, entry.name);
    for (let index = 0; index < view.length; index += 1) {
      if (entry.name.endsWith(".bias")) view[index] = 0.3 * random.nextNormal();
      else if (entry.shape.length === 1) view[index] = 1 + 0.2 * random.nextNormal();
      else view[index] = view[index]! * 10;
    }
  }
  return model;
}
