/**
 * A synthetic preference task for tests and the kill/resume child: prompts of random tokens;
 * the chosen completion uses even token ids, the rejected one odd ids (both end with EOS), so
 * the preference generalises to held-out pairs through shared token embeddings.
 */
import { Random } from "@posttrain/core";
import type { LlamaConfigInput } from "@posttrain/engine";
import type { ConfigInput } from "../config.js";
import type { PreferenceRow } from "../pairs.js";

export const toyModelConfig: LlamaConfigInput = {
  vocab_size: 32,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
};

export function toyPreferenceRows(params: { count: number; seed: number; stream: string }): PreferenceRow[] {
  const random = Random.fromSeed(params.seed).stream(params.stream);
  const even = () => 4 + 2 * random.nextInt(14);
  const odd = () => 5 + 2 * random.nextInt(14);
  return Array.from({ length: params.count }, () => {
    const prompt = [1, ...Array.from({ length: 3 }, () => 4 + random.nextInt(28)), 2];
    const chosenLength = 2 + random.nextInt(3);
    const rejectedLength = 2 + random.nextInt(3);
    return {
      promptIds: Int32Array.from(prompt),
      chosenIds: Int32Array.from([...Array.from({ length: chosenLength }, even), 3]),
      rejectedIds: Int32Array.from([...Array.from({ length: rejectedLength }, odd), 3]),
    };
  });
}

export function toyDpoConfig(overrides: Partial<ConfigInput> = {}): ConfigInput {
  return {
    seed: 5,
    batch: { devices: 1, perDeviceBatchSize: 4, gradientAccumulationSteps: 2, effectiveBatchSize: 8 },
    loss: { type: "dpo_norm", beta: 5, labelSmoothing: 0, gammaBetaRatio: 0.3 },
    duration: { steps: 8 },
    learningRate: { peak: 3e-3, schedule: "linear", warmup: { ratio: 0.1 } },
    adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    maxGradientNorm: 1,
    checkpointEverySteps: 1,
    evaluation: null,
    referenceCacheDirectory: null,
    lossChunks: 2,
    threads: 1,
    ...overrides,
  };
}
