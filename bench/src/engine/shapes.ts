// The training shapes bench:engine and its profile run: a ~9M model at 8×256 and the
// SmolLM2-135M shape at 1×512, their model FLOPs per step and a deterministic random batch.
import { type LlamaConfigInput, parseLlamaConfig, type TokenBatch } from "@posttrain/engine";

export interface Shape {
  config: LlamaConfigInput;
  batch: number;
  sequence: number;
}

export const shapes: Record<string, Shape> = {
  small: {
    config: {
      vocab_size: 8192,
      hidden_size: 256,
      intermediate_size: 688,
      num_hidden_layers: 6,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
    },
    batch: 8,
    sequence: 256,
  },
  smollm2_135m: {
    config: {
      vocab_size: 49152,
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      tie_word_embeddings: true,
    },
    batch: 1,
    sequence: 512,
  },
};

/** Model FLOPs of one fwd+bwd step: 6·(non-embedding matmul params incl. LM head)·tokens + attention. */
export function stepFlops(shape: Shape): number {
  const c = parseLlamaConfig(shape.config);
  const attention = c.num_attention_heads * c.head_dim;
  const keyValue = c.num_key_value_heads * c.head_dim;
  const perLayer =
    c.hidden_size * (attention + 2 * keyValue) +
    attention * c.hidden_size +
    3 * c.hidden_size * c.intermediate_size;
  const matmulParameters = c.num_hidden_layers * perLayer + c.hidden_size * c.vocab_size;
  const tokens = shape.batch * shape.sequence;
  // Attention scores and weighted values: 2·2·T·attention per token per layer forward, ×3 with backward.
  const attentionFlops = 12 * c.num_hidden_layers * shape.sequence * attention * tokens;
  return 6 * matmulParameters * tokens + attentionFlops;
}

export function randomBatch(shape: Shape, vocabulary: number, seed: number): TokenBatch {
  const count = shape.batch * shape.sequence;
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % vocabulary;
  };
  return {
    batchSize: shape.batch,
    sequenceLength: shape.sequence,
    inputIds: BigInt64Array.from({ length: count }, () => BigInt(next())),
    labels: BigInt64Array.from({ length: count }, () => BigInt(next())),
    lossMask: new Float32Array(count).fill(1),
  };
}
