/**
 * A synthetic verifiable task for tests, the kill/resume child and the benchmark: the prompt
 * `Q<d>:` asks for the digit d; the `gsm8k` verifier (last number equals the label) scores the
 * answer. A character-level tokenizer covers it: 0 `<pad>`, 1 `<s>`, 2 `</s>` (EOS), 3 `Q`,
 * 4 `:`, 5–14 the digits, 15 space.
 */
import type { ChatMessage } from "@posttrain/core";
import type { GenerationTokenizer, LlamaConfigInput } from "@posttrain/engine";
import type { ConfigInput } from "../config.js";
import type { RlvrRow } from "../prompts.js";

const symbols = ["<pad>", "<s>", "</s>", "Q", ":", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", " "];

export const toyTokenizer: GenerationTokenizer = {
  encode(text, options) {
    const ids = [...text].map((character) => {
      const id = symbols.indexOf(character);
      if (id < 3) throw new Error(`the toy tokenizer cannot encode ${JSON.stringify(character)}`);
      return id;
    });
    return options?.addSpecialTokens === true ? [1, ...ids] : ids;
  },
  decode(ids, options) {
    return ids
      .filter((id) => options?.skipSpecialTokens !== true || id > 2)
      .map((id) => symbols[id] ?? "?")
      .join("");
  },
  eosTokenIds: [2],
  applyChatTemplate(params: { messages: readonly ChatMessage[]; addGenerationPrompt: boolean }) {
    return params.messages.map((message) => message.content).join("");
  },
};

export const toyModelConfig: LlamaConfigInput = {
  vocab_size: 16,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
};

/** One prompt per digit 0–9 (`count` rows, cycling). */
export function toyRlvrRows(count = 10): RlvrRow[] {
  return Array.from({ length: count }, (_, index) => {
    const digit = index % 10;
    return { promptIds: Int32Array.of(1, 3, 5 + digit, 4), groundTruth: [String(digit)], dataset: ["gsm8k"] };
  });
}

export function toyRlvrConfig(overrides: Partial<ConfigInput> = {}): ConfigInput {
  return {
    seed: 3,
    batch: { devices: 1, perDeviceBatchSize: 16, gradientAccumulationSteps: 1, effectiveBatchSize: 16 },
    steps: 20,
    rollouts: { promptsPerStep: 10, samplesPerPrompt: 8, temperature: 1, maxNewTokens: 1 },
    rewards: { verificationReward: 10, format: null, nonStopPenalty: null },
    advantages: "standard",
    filterZeroVarianceGroups: true,
    maskTruncatedCompletions: false,
    kl: { beta: 0.01, estimator: "k3" },
    clip: { low: 0.2, high: 0.28 },
    epochs: 1,
    learningRate: { peak: 1e-2, schedule: "constant", warmup: { steps: 0 } },
    adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    maxGradientNorm: 1,
    checkpointEverySteps: 1,
    monitor: null,
    verifierWorkers: 0,
    verifierTimeoutMilliseconds: 5000,
    lossChunks: 1,
    threads: 1,
    ...overrides,
  };
}

/**
 * A character-level tokenizer over printable ASCII and newline for tool-use tests: 0 `<pad>`,
 * 1 `<s>`, 2 `</s>` (EOS), then `\n` (3) and the characters 32–126 (4–98). Tool calls
 * (`<c>12*34</c>`) and wrapped outputs (`<output>\n408\n</output>\n`) are one token per character;
 * other characters encode as `?`.
 */
export const toolToyTokenizer: GenerationTokenizer = {
  encode(text, options) {
    const ids = [...text].map((character) => {
      if (character === "\n") return 3;
      const code = character.codePointAt(0)!;
      // Anything else (an error message's `…`) reads as `?`, as an unknown token would.
      return code < 32 || code > 126 ? "?".codePointAt(0)! - 28 : code - 28;
    });
    return options?.addSpecialTokens === true ? [1, ...ids] : ids;
  },
  decode(ids, options) {
    return ids
      .filter((id) => options?.skipSpecialTokens !== true || id > 2)
      .map((id) => (id === 3 ? "\n" : id >= 4 && id <= 98 ? String.fromCodePoint(id + 28) : `<${id}>`))
      .join("");
  },
  eosTokenIds: [2],
  applyChatTemplate(params: { messages: readonly ChatMessage[]; addGenerationPrompt: boolean }) {
    return params.messages.map((message) => message.content).join("\n");
  },
};

export const toolToyModelConfig: LlamaConfigInput = { ...toyModelConfig, vocab_size: 99 };

/** `Q<a>*<b>:` prompts whose label is the product (the `gsm8k` verifier: last number). */
export function toolToyRlvrRows(params: { count: number; instructions?: string }): RlvrRow[] {
  return Array.from({ length: params.count }, (_, index) => {
    const a = 11 + index;
    const b = 23 + 2 * index;
    const text = `${params.instructions === undefined ? "" : `${params.instructions}\n`}Q${a}*${b}:`;
    return {
      promptIds: Int32Array.from(toolToyTokenizer.encode(text, { addSpecialTokens: true })),
      groundTruth: [String(a * b)],
      dataset: ["gsm8k"],
    };
  });
}
