/**
 * The micro-tools recipe: does tool use pay? micro's model shape, initialised from scratch,
 * SFT-trained on demonstrations that call a calculator (the tag format: `<calculator>EXPR
 * </calculator>`, the tool's `<output>…</output>` masked from the loss), then RLVR whose
 * rollouts run the calculator (tool output masked from the loss and the KL term), evaluated
 * after each stage on held-out multi-digit arithmetic with and without the tool
 * (`micro_tools_arithmetic` and `micro_tools_arithmetic+tools`). The `no-tools` variant is the
 * same recipe — same problems, same order, same steps, same seeds — whose demonstrations
 * answer directly and whose RLVR is single-turn. The `smoke` variant runs a few steps and a few
 * eval items (CI, the determinism test).
 *
 * Paths are relative to this package's folder (`recipes/micro-tools`); `datasets` is a link
 * to `../../datasets/micro-tools`.
 */
import { defineRecipe, packageVersionOf } from "@posttrain/recipe";
import { calculatorInstructions } from "./problems.js";

const adamW = { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0 };
const data = "datasets";

/** The machine that measured the expected table (lscpu model name and instruction sets). */
const measuredOn = [
  {
    cpu: "Intel(R) Xeon(R) Processor",
    instructionSets: ["sse4_2", "avx", "avx2", "avx512f", "avx512_vnni", "amx"],
    threads: 2,
  },
] as const;
const measurementSource =
  "posttrain run recipes/micro-tools [--variant no-tools] --seeds 5 (2026-12-07; raw numbers, model hashes and wall times in measurements/2026-12-07-seeds-1-5.json), Intel Xeon (AVX-512 + AMX), 2 threads; README.md";

/** One eval row after `after` from per-seed counts (seeds 1..5) of correct answers out of 500. */
function seedRow(after: "sft" | "rlvr", task: string, correct: readonly number[]) {
  return {
    after,
    task,
    metric: "accuracy",
    perSeed: Object.fromEntries(correct.map((count, index) => [String(index + 1), count / 500])),
    machines: measuredOn.map((machine) => ({ ...machine, instructionSets: [...machine.instructionSets] })),
    codeVersion: "0.1.0",
    items: 500,
    source: measurementSource,
  };
}

/** The tag format's tool output (@posttrain/tools): what SFT must not train on. */
export const toolOutputSpan = { start: "<output>\n", end: "\n</output>\n" } as const;

/** The two arms' SFT data: the same problems, with a calculator call or answered directly. */
const sftData = (arm: "tools" | "direct", rows?: { train: number; test: number }) => ({
  train: [
    {
      kind: "local" as const,
      directory: data,
      config: `sft_${arm}`,
      split: "train",
      ...(rows === undefined ? {} : { amount: { rows: rows.train } }),
    },
  ],
  evaluation: [
    {
      kind: "local" as const,
      directory: data,
      config: `sft_${arm}`,
      split: "test",
      ...(rows === undefined ? {} : { amount: { rows: rows.test } }),
    },
  ],
  maxLength: 128,
  packing: { sequenceLength: 256 },
  ...(arm === "tools" ? { maskedSpans: [toolOutputSpan] } : {}),
});

/** The two arms' SFT stage: same problems, same steps (`rows`: the smoke variant's few). */
const sftStage = (
  arm: "tools" | "direct",
  smoke?: { rows: { train: number; test: number }; steps: number },
) => ({
  name: "sft",
  type: "sft" as const,
  data: sftData(arm, smoke?.rows),
  hyperparameters: {
    seed: 1,
    batch: { devices: 1, perDeviceBatchSize: 4, gradientAccumulationSteps: 1 },
    reduction: "sum" as const,
    duration: { steps: smoke?.steps ?? 2500 },
    learningRate: { peak: 3e-3, schedule: "linear" as const, warmup: { ratio: 0.05 } },
    adamW,
    maxGradientNorm: 1,
    checkpointEverySteps: 200,
    evaluation: { everySteps: smoke?.steps ?? 1250, batchSize: 16 },
    lossChunks: 1,
    threads: 2,
  },
});

/**
 * The two arms' RLVR stage: the same prompts (in the same seeded order), samples, steps and
 * settings; the tools arm's prompts carry the system paragraph and its rollouts run the
 * calculator (tool output masked from the loss and the KL term), the other arm's are
 * single-turn.
 */
const rlvrStage = (arm: "tools" | "direct", steps: number, smoke = false) => ({
  name: "rlvr",
  type: "rlvr" as const,
  data: {
    train: [
      {
        kind: "local" as const,
        directory: data,
        config: `rlvr_${arm}`,
        split: "train",
        ...(smoke ? { amount: { rows: 32 } } : {}),
      },
    ],
    evaluation: [],
    maxLength: 96,
  },
  hyperparameters: {
    seed: 1,
    batch: { devices: 1, perDeviceBatchSize: 32, gradientAccumulationSteps: 1 },
    steps,
    rollouts: { promptsPerStep: smoke ? 4 : 8, samplesPerPrompt: 4, temperature: 0.7, maxNewTokens: 40 },
    rewards: { verificationReward: 10, format: null, nonStopPenalty: null, toolCallCost: 0 },
    advantages: "standard" as const,
    filterZeroVarianceGroups: true,
    maskTruncatedCompletions: false,
    kl: { beta: 0.01, estimator: "k3" as const },
    clip: { low: 0.2, high: 0.2 },
    epochs: 1,
    learningRate: { peak: 5e-5, schedule: "constant" as const, warmup: { steps: 3 } },
    adamW,
    maxGradientNorm: 1,
    checkpointEverySteps: 20,
    monitor: null,
    verifierWorkers: 0,
    verifierTimeoutMilliseconds: 2000,
    lossChunks: 1,
    threads: 2,
    tools:
      arm === "tools"
        ? {
            allow: ["calculator"],
            format: "tags" as const,
            maxToolCalls: 2,
            maxTotalTokens: 48,
            concurrency: 4,
          }
        : null,
  },
});

export const recipe = defineRecipe({
  name: "micro-tools",
  version: packageVersionOf({ moduleUrl: import.meta.url }),
  description:
    "micro's 4-layer, 128-wide model trained from scratch to call a calculator (SFT on tool-use demonstrations, tool output masked), against the same recipe without tools, on held-out multi-digit arithmetic.",
  seed: 1,
  model: {
    kind: "initialize",
    config: {
      vocab_size: 512,
      hidden_size: 128,
      intermediate_size: 384,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      tie_word_embeddings: true,
    },
    seed: 1,
  },
  tokenizer: { source: { kind: "local", directory: "tokenizer" }, chatTemplate: "tulu", addBos: false },
  verifiers: ["gsm8k"],
  stages: [sftStage("tools"), rlvrStage("tools", 60)],
  evals: {
    name: "micro_tools",
    version: "1.0.0",
    tasks: [
      {
        // The `eval` config: 500 held-out problems (products of a three- and a two-digit
        // number, sums of three or four three- or four-digit numbers) drawn after, and
        // disjoint from, every train split. The calculator is allowed, so every stage is
        // scored twice: `micro_tools_arithmetic` (no tool: the prompt as is) and
        // `micro_tools_arithmetic+tools` (the tools arm's one-line system paragraph in front,
        // the calculator runs on every `<calculator>…</calculator>` the model writes).
        name: "micro_tools_arithmetic",
        version: "1.0.0",
        description:
          "held-out multi-digit products and sums of datasets/micro-tools (eval config), greedy, gsm8k verifier (last number = the exact result); with and without the calculator",
        olmes: { task: "none", era: "none" },
        dataset: { kind: "local", directory: data, config: "eval", split: "test" },
        rowFormat: "rlvr",
        prompt: { style: "chat" },
        generation: { temperature: 0, maxNewTokens: 48, stop: [] },
        scoring: { kind: "verifier", verifier: "gsm8k" },
        primaryMetric: "accuracy",
        tools: {
          allow: ["calculator"],
          format: "tags",
          instructions: calculatorInstructions,
          maxToolCalls: 2,
          maxTotalTokens: 64,
        },
      },
    ],
  },
  // Five root seeds of each arm (README.md, "Measured across seeds"): each row's band is the
  // 95% prediction interval for one new run, from the seed spread and never narrower than the
  // item-level noise of its 500 items. The claim across the arms (tools arm's `+tools` row vs
  // the no-tools arm's own row) is in arms.ts: a recipe's `claims` compare stages of one run.
  expected: [
    seedRow("sft", "micro_tools_arithmetic", [0, 0, 0, 0, 0]),
    seedRow("sft", "micro_tools_arithmetic+tools", [500, 380, 500, 500, 500]),
    seedRow("rlvr", "micro_tools_arithmetic", [0, 0, 0, 0, 0]),
    seedRow("rlvr", "micro_tools_arithmetic+tools", [500, 379, 500, 500, 500]),
  ],
  claims: [],
  variants: {
    // The arm without tools: the same problems in the same order and the same steps, SFT
    // answered directly (`47 * 58 = 2726`), no system paragraph, nothing masked, then the same
    // RLVR on the same prompts without the paragraph, single-turn.
    "no-tools": {
      stages: { $replace: [sftStage("direct"), rlvrStage("direct", 60)] },
      expected: [
        seedRow("sft", "micro_tools_arithmetic", [7, 21, 2, 2, 2]),
        seedRow("sft", "micro_tools_arithmetic+tools", [0, 5, 0, 0, 0]),
        seedRow("rlvr", "micro_tools_arithmetic", [10, 13, 2, 4, 2]),
        seedRow("rlvr", "micro_tools_arithmetic+tools", [0, 3, 0, 0, 0]),
      ],
    },
    // CI and the determinism test: a few SFT steps, two RLVR steps with the calculator, four
    // eval items (with and without the tool).
    smoke: {
      stages: {
        $replace: [
          sftStage("tools", { rows: { train: 64, test: 16 }, steps: 3 }),
          rlvrStage("tools", 2, true),
        ],
      },
      evals: { limit: 4 },
      // The expected table holds the full run's numbers; a few smoke steps do not reach them.
      expected: [],
    },
  },
});

export default recipe;
