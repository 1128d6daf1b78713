/**
 * Tiny deterministic fixtures for tests and the kill/resume child: a small Llama config and
 * random prompt → answer rows (prompt tokens masked with -100, answer tokens + EOS trained).
 */
import { Random } from "@posttrain/core";
import type { LlamaConfigInput } from "@posttrain/engine";
import type { SftRow } from "../batches.js";
import type { ConfigInput } from "../config.js";

export const toyVocabularySize = 32;
export const toyEndOfSequence = 3;

export const toyModelConfig: LlamaConfigInput = {
  vocab_size: toyVocabularySize,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
};

export interface ToyExample {
  prompt: number[];
  answer: number[];
  row: SftRow;
}

/** `count` examples: prompt = [1, i+4, 3 random tokens, 2], answer = 4 random tokens + EOS. */
export function toyExamples(params: { count: number; seed: number }): ToyExample[] {
  const random = Random.fromSeed(params.seed).stream("toy-sft");
  return Array.from({ length: params.count }, (_, index) => {
    const prompt = [1, 4 + index, ...Array.from({ length: 3 }, () => 4 + random.nextInt(28)), 2];
    const answer = [...Array.from({ length: 4 }, () => 4 + random.nextInt(28)), toyEndOfSequence];
    const ids = [...prompt, ...answer];
    const labels = ids.map((id, position) => (position < prompt.length ? -100 : id));
    return { prompt, answer, row: { inputIds: Int32Array.from(ids), labels: Int32Array.from(labels) } };
  });
}

export function toySftConfig(overrides: Partial<ConfigInput> = {}): ConfigInput {
  return {
    seed: 7,
    batch: { devices: 1, perDeviceBatchSize: 2, gradientAccumulationSteps: 2, effectiveBatchSize: 4 },
    reduction: "sum",
    duration: { steps: 12 },
    learningRate: { peak: 3e-3, schedule: "cosine", warmup: { ratio: 0.1 } },
    adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 },
    maxGradientNorm: 1,
    checkpointEverySteps: 1,
    evaluation: null,
    lossChunks: 2,
    threads: 1,
    ...overrides,
  };
}
