/**
 * OLMo 2 1B Instruct as published (OLMo 2 paper, arXiv 2501.00656; open-instruct
 * docs/olmo2.md at 89b4f62): allenai/OLMo-2-0425-1B → SFT → DPO → GRPO on
 * GSM8K/MATH/IFEval → GRPO on MATH. Every flag docs/olmo2.md sets is written out.
 *
 * Where docs/olmo2.md leaves a GRPO setting unstated (mini-batches, update epochs, clip
 * range, prompt length, the non-stop penalty value, advantage normalisation) the Tulu 3.1
 * GRPO script's value (or open-instruct's default then) is used and marked. The "2M
 * episodes" is taken per GRPO stage. Revisions are left at `main`
 * (no SHA known to us offline): `posttrain lock` pins them; a run refuses until it has.
 *
 * The architecture below is what `plan` sizes with; it is the OLMo-2-0425-1B config as we
 * know it (OLMo 2 adds QK-norm and reorders the norms, which changes the count by 2·h per
 * layer at most) — `posttrain lock` records the hash of the repo's config.json, so a drift is visible.
 */
import { defineRecipe, packageVersionOf } from "@posttrain/recipe";

const adamW = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

/** OLMo 2 paper Table 16 as quoted in our reference notes, which flag it for re-checking. */
const table16 =
  "OLMo 2 paper (arXiv 2501.00656), Table 16 (as quoted in reference/tulu3.md; re-check against the paper)";
/** ± 3 points: a 1B model's evals move more between runs than an 8B's. */
const tolerance = 0.03;

/**
 * The GRPO settings shared by both RLVR stages (@posttrain/rlvr's Config): 48 prompts × 16
 * samples per step; 2M episodes per stage = 2,604 steps of 768 episodes (rounded down).
 */
const grpo = {
  seed: 1,
  // 768 completions per rollout in 2 mini-batches (Tulu 3.1 GRPO num_mini_batches 2): 384 per optimizer step.
  batch: { devices: 8, perDeviceBatchSize: 8, gradientAccumulationSteps: 6, effectiveBatchSize: 384 },
  steps: 2604,
  rollouts: { promptsPerStep: 48, samplesPerPrompt: 16, temperature: 1, maxNewTokens: 2048 },
  // Non-stop penalty with value 0.0 as in the Tulu 3.1 GRPO script; no format reward.
  rewards: { verificationReward: 10, format: null, nonStopPenalty: { value: 0 } },
  // open-instruct's GRPO default at the time (advantages "standard" before PR 1547).
  advantages: "standard" as const,
  filterZeroVarianceGroups: false,
  maskTruncatedCompletions: false,
  kl: { beta: 0.01, estimator: "k3" as const },
  clip: { low: 0.2, high: 0.2 },
  // Tulu 3.1 GRPO num_epochs 1.
  epochs: 1,
  learningRate: { peak: 5e-7, schedule: "constant" as const, warmup: { steps: 0 } },
  adamW,
  maxGradientNorm: 1,
  checkpointEverySteps: 100,
  monitor: { everySteps: 100, klBound: null },
  verifierWorkers: 4,
  verifierTimeoutMilliseconds: 10_000,
  lossChunks: 4,
  threads: 1,
};

export const recipe = defineRecipe({
  name: "olmo2-1b-instruct",
  // One version: the package.json version (bumped by changesets) is the recipe's.
  version: packageVersionOf({ moduleUrl: import.meta.url }),
  description:
    "OLMo 2 1B Instruct: OLMo-2-0425-1B with SFT (tulu-3-sft-olmo-2-mixture-0225), length-normalised DPO and two GRPO stages, as published.",
  seed: 1,
  model: {
    kind: "hub",
    repo: "allenai/OLMo-2-0425-1B",
    revision: "main",
    architecture: {
      vocab_size: 100352,
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 16,
      num_attention_heads: 16,
      num_key_value_heads: 16,
      rms_norm_eps: 1e-6,
      rope_theta: 500000,
      tie_word_embeddings: false,
    },
  },
  tokenizer: {
    source: { kind: "hub", repo: "allenai/OLMo-2-0425-1B", revision: "main" },
    chatTemplate: "tulu",
    // finetune.py --add_bos
    addBos: true,
  },
  verifiers: ["gsm8k", "math", "ifeval"],
  stages: [
    {
      name: "sft",
      type: "sft",
      data: {
        train: [
          {
            kind: "hub",
            repo: "allenai/tulu-3-sft-olmo-2-mixture-0225",
            revision: "main",
            split: "train",
            amount: { fraction: 1 },
          },
        ],
        maxLength: 4096,
        packing: null,
      },
      publishedCheckpoint: { kind: "hub", repo: "allenai/OLMo-2-0425-1B-SFT", revision: "main" },
      hyperparameters: {
        seed: 1,
        // 1 node × 8 GPUs, per-device 2, accumulation 8: 128.
        batch: { devices: 8, perDeviceBatchSize: 2, gradientAccumulationSteps: 8, effectiveBatchSize: 128 },
        reduction: "sum",
        duration: { epochs: 2 },
        learningRate: { peak: 3e-5, schedule: "linear", warmup: { ratio: 0.03 } },
        adamW,
        maxGradientNorm: null,
        checkpointEverySteps: 1000,
        evaluation: null,
        lossChunks: 4,
        threads: 1,
      },
    },
    {
      name: "dpo",
      type: "dpo",
      data: {
        train: [
          {
            kind: "hub",
            repo: "allenai/olmo-2-0425-1b-preference-mix",
            revision: "main",
            split: "train",
            amount: { fraction: 1 },
          },
        ],
        maxLength: 2048,
        packing: null,
      },
      publishedCheckpoint: { kind: "hub", repo: "allenai/OLMo-2-0425-1B-DPO", revision: "main" },
      hyperparameters: {
        seed: 111,
        // dpo_tune_cache.py, 1 node × 8 GPUs, per-device 8, accumulation 2: 128.
        batch: { devices: 8, perDeviceBatchSize: 8, gradientAccumulationSteps: 2, effectiveBatchSize: 128 },
        loss: { type: "dpo_norm", beta: 5, labelSmoothing: 0, gammaBetaRatio: 0.3 },
        duration: { epochs: 1 },
        learningRate: { peak: 2.5e-6, schedule: "linear", warmup: { ratio: 0.1 } },
        adamW,
        maxGradientNorm: null,
        checkpointEverySteps: 1000,
        evaluation: null,
        referenceCacheDirectory: null,
        lossChunks: 4,
        threads: 1,
      },
    },
    {
      name: "rlvr-mixed",
      type: "rlvr",
      data: {
        train: [
          {
            kind: "hub",
            repo: "allenai/RLVR-GSM-MATH-IF-Mixed-Constraints",
            revision: "main",
            split: "train",
            amount: { fraction: 1 },
          },
        ],
        publishedRows: { rows: 29_946, source: "Tulu 3 paper: GSM8K 7,473 + MATH 7,500 + IF 14,973" },
        // prompt tokens (the response budget is rollouts.maxNewTokens)
        maxLength: 2048,
        packing: null,
      },
      evaluate: true,
      hyperparameters: grpo,
    },
    {
      name: "rlvr-math",
      type: "rlvr",
      data: {
        train: [
          {
            kind: "hub",
            repo: "allenai/RLVR-MATH",
            revision: "main",
            split: "train",
            amount: { fraction: 1 },
          },
        ],
        maxLength: 2048,
        packing: null,
      },
      publishedCheckpoint: { kind: "hub", repo: "allenai/OLMo-2-0425-1B-Instruct", revision: "main" },
      hyperparameters: grpo,
    },
  ],
  evals: { name: "olmo2_instruct_dev", version: "1.0.0", tasks: ["gsm8k", "minerva_math", "ifeval"] },
  expected: [
    { after: "sft", task: "gsm8k", metric: "exact_match", value: 0.521, tolerance, source: table16 },
    {
      after: "sft",
      task: "ifeval",
      metric: "prompt_level_loose_acc",
      value: 0.505,
      tolerance,
      source: table16,
    },
    {
      after: "sft",
      task: "minerva_math",
      metric: "exact_match_flex",
      value: 0.132,
      tolerance,
      source: table16,
    },
    { after: "dpo", task: "gsm8k", metric: "exact_match", value: 0.59, tolerance, source: table16 },
    {
      after: "dpo",
      task: "ifeval",
      metric: "prompt_level_loose_acc",
      value: 0.671,
      tolerance,
      source: table16,
    },
    {
      after: "dpo",
      task: "minerva_math",
      metric: "exact_match_flex",
      value: 0.141,
      tolerance,
      source: table16,
    },
    { after: "rlvr-math", task: "gsm8k", metric: "exact_match", value: 0.683, tolerance, source: table16 },
    {
      after: "rlvr-math",
      task: "ifeval",
      metric: "prompt_level_loose_acc",
      value: 0.701,
      tolerance,
      source: table16,
    },
    {
      after: "rlvr-math",
      task: "minerva_math",
      metric: "exact_match_flex",
      value: 0.207,
      tolerance,
      source: table16,
    },
  ],
});

export default recipe;
