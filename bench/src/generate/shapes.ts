// The decoding benchmarks' model shapes and helpers, shared by bench:generate (main.ts),
// bench:generate-profile (profile.ts) and bench:generate-ab (ab.ts).

/** Hugging Face configs of the two benchmarked shapes (the ~9M shape and SmolLM2-135M's). */
export const generateShapes: Record<string, Record<string, unknown>> = {
  small: {
    architectures: ["LlamaForCausalLM"],
    vocab_size: 8192,
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 6,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
  },
  smollm2_135m: {
    architectures: ["LlamaForCausalLM"],
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
};

/** Deterministic synthetic prompts `[batch][length]` (the same on both sides of a comparison). */
export function syntheticPrompts(params: { batch: number; length: number; vocabulary: number }): number[][] {
  return Array.from({ length: params.batch }, (_, row) =>
    Array.from({ length: params.length }, (_, index) => (row * 31 + index * 17 + 3) % params.vocabulary),
  );
}

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Greedy token of each row of `logits [rows, vocabulary]` (first maximum). */
export function argmaxRows(logits: Float32Array, rows: number, vocabulary: number): number[] {
  return Array.from({ length: rows }, (_, row) => {
    let best = 0;
    const offset = row * vocabulary;
    for (let index = 1; index < vocabulary; index += 1)
      if (logits[offset + index]! > logits[offset + best]!) best = index;
    return best;
  });
}
