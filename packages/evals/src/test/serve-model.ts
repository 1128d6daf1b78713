/**
 * A tiny random Llama over the micro recipe's 512-token byte-level BPE tokenizer (in the repo at
 * recipes/micro/tokenizer), for the serve tests and `bench:serve`: `createTinyServeModel`
 * initialises it in memory; `saveTinyServeModel` writes it as a Hugging Face folder with the
 * tokenizer files.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initializePretrainedModel, type PretrainedModel, savePretrainedModel } from "@posttrain/engine";

/** recipes/micro/tokenizer, resolved from this file (src/test or dist/test). */
export const microTokenizerDirectory = fileURLToPath(
  new URL("../../../../recipes/micro/tokenizer/", import.meta.url),
);

const tokenizerFiles = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.json",
  "merges.txt",
];

/** Shape of the tiny model; `hiddenSize`/`layers` grow it for benchmarks. */
export function createTinyServeModel(params: {
  seed: number;
  eosTokenId: number;
  hiddenSize?: number;
  layers?: number;
  contextLength?: number;
}): PretrainedModel {
  const hidden = params.hiddenSize ?? 32;
  return initializePretrainedModel({
    seed: params.seed,
    config: {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      vocab_size: 512,
      hidden_size: hidden,
      intermediate_size: hidden * 2,
      num_hidden_layers: params.layers ?? 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      hidden_act: "silu",
      max_position_embeddings: params.contextLength ?? 512,
      bos_token_id: params.eosTokenId,
      eos_token_id: params.eosTokenId,
      tie_word_embeddings: true,
    },
  });
}

/** Writes `model` with the micro tokenizer's files to `directory`. */
export async function saveTinyServeModel(params: {
  model: PretrainedModel;
  directory: string;
}): Promise<void> {
  await savePretrainedModel({
    model: params.model,
    directory: params.directory,
    tokenizerFiles: tokenizerFiles.map((name) => join(microTokenizerDirectory, name)),
  });
}
