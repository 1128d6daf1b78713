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
 * accelerate + DeepSpeed (`gradient_clipping: "auto"` in the ds_configs) clip SFT and DPO at
 * accelerate's default 1.0 although `--clip_grad_norm` stays at −1.
 */
const accelerateClipping = 1;

/** docs/olmo2.md at this commit holds the published commands. */
const olmo2Commit = "89b4f62a553a41d0284e5c577aaa7cf48529f0b3";
const pinnedRevision =
  "pinned to the lock's commit of the same repo instead of the branch `main` (the docs pass main)";
const chained = "the model is the previous stage's output in the bundle (a folder: no Hub revision)";

/**
 * The GRPO settings of both RLVR stages as docs/olmo2.md runs them on
 * `grpo_vllm_thread_ray_gtrl.py` (lines 236-281 and 287-331 at 89b4f62): 4 + 8 = 12 learners ×
 * 4 local prompts = 48 prompts × 16 samples = 768 episodes per step; each learner's mini-batch
 * is 32 rows at 1 per device (32 accumulation steps): 12 × 32 = 384 per optimizer step, 2 per
 * rollout. 2,000,000 episodes // 768 = 2,604 steps.
 */
const grpo = {
  seed: 1,
  batch: { devices: 12, perDeviceBatchSize: 1, gradientAccumulationSteps: 32, effectiveBatchSize: 384 },
  steps: 2604,
  rollouts: { promptsPerStep: 48, samplesPerPrompt: 16, temperature: 1, maxNewTokens: 2048 },
  // --non_stop_penalty with --penalty_reward_value 0.0; the script's verification reward 10.
  rewards: { verificationReward: 10, format: null, nonStopPenalty: { value: 0 } },
  // grpo_vllm_thread_ray_gtrl.py normalises by the group's mean and std.
  advantages: "standard" as const,
  filterZeroVarianceGroups: false,
  maskTruncatedCompletions: false,
  kl: { beta: 0.01, estimator: "k3" as const },
  // The script's --cliprange default 0.2, --num_epochs 1.
  clip: { low: 0.2, high: 0.2 },
  epochs: 1,
  learningRate: { peak: 5e-7, schedule: "constant" as const, warmup: { steps: 0 } },
  // torch.optim.AdamW(policy.parameters(), lr=...) (grpo_vllm_thread_ray_gtrl.py:682): decay 0.01.
  adamW: { ...adamW, weightDecay: 0.01 },
  maxGradientNorm: 1,
  // --save_freq 200; --num_evals 100 over 2,604 steps evaluates every 2,604 // 100 = 26 steps.
  checkpointEverySteps: 200,
  monitor: { everySteps: 26, klBound: null },
  verifierWorkers: 4,
  verifierTimeoutMilliseconds: 10_000,
  lossChunks: 4,
  threads: 1,
};

/** The reference settings both GRPO stages share. */
const grpoReference = {
  script: "open_instruct/grpo_vllm_thread_ray_gtrl.py",
  tokenizer: { repo: "allenai/OLMo-2-1124-7B-DPO", revision: "main" },
  useSlowTokenizer: false,
  learnersPerNode: [4, 8],
  vllmEngines: 1,
  vllmTensorParallelSize: 4,
  rolloutForwardBatchSize: 2,
  stopToken: "eos" as const,
  deepspeedStage: 2 as const,
};
const grpoDifferences = [
  { flag: "--model_revision", reason: chained },
  { flag: "--tokenizer_revision", reason: pinnedRevision },
  {
    flag: "--total_episodes",
    reason:
      "steps × 768 = 1,999,872: the same 2,604 whole steps the script makes of 2,000,000 (it floors total_episodes / 768)",
  },
];

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
  // open-instruct 89b4f62 scores the RLVR data's IF rows with its old constraint format.
  verifiers: ["gsm8k", "math", "ifeval_old"],
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
        maxGradientNorm: accelerateClipping,
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
        maxGradientNorm: accelerateClipping,
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
        // --dataset_mixer_eval_list <same dataset> 16: 16 prompts of the training data.
        evaluation: [
          {
            kind: "hub",
            repo: "allenai/RLVR-GSM-MATH-IF-Mixed-Constraints",
            revision: "main",
            split: "train",
            amount: { rows: 16 },
          },
        ],
        publishedRows: { rows: 29_946, source: "Tulu 3 paper: GSM8K 7,473 + MATH 7,500 + IF 14,973" },
        // prompt tokens (the response budget is rollouts.maxNewTokens)
        maxLength: 2048,
        packing: null,
      },
      publishedCheckpoint: { kind: "hub", repo: "allenai/OLMo-2-0425-1B-RLVR1", revision: "main" },
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
        evaluation: [
          { kind: "hub", repo: "allenai/RLVR-MATH", revision: "main", split: "train", amount: { rows: 16 } },
        ],
        maxLength: 2048,
        packing: null,
      },
      publishedCheckpoint: { kind: "hub", repo: "allenai/OLMo-2-0425-1B-Instruct", revision: "main" },
      hyperparameters: grpo,
    },
  ],
  referenceImplementation: {
    engine: "open-instruct",
    repository: "https://github.com/allenai/open-instruct",
    commit: olmo2Commit,
    stages: {
      sft: {
        script: "open_instruct/finetune.py",
        published: { file: "docs/olmo2.md", lines: [58, 86] },
        // docs/olmo2.md:68: the OLMo 2 7B tokenizer, fast (--use_slow_tokenizer False, line 70).
        tokenizer: { repo: "allenai/OLMo-2-1124-7B", revision: "main" },
        useSlowTokenizer: false,
        // No --checkpointing_steps in the published command: only the final model is saved.
        checkpointing: "final",
        deepspeedStage: 3,
        differences: [
          { flag: "--model_revision", reason: pinnedRevision },
          { flag: "--tokenizer_revision", reason: pinnedRevision },
        ],
      },
      dpo: {
        script: "open_instruct/dpo_tune_cache.py",
        published: { file: "docs/olmo2.md", lines: [97, 129] },
        tokenizer: { repo: "allenai/OLMo-2-1124-13B", revision: "main" },
        useSlowTokenizer: false,
        checkpointing: "final",
        // configs/ds_configs/stage2_accelerate.conf (docs/olmo2.md:101).
        deepspeedStage: 2,
        differences: [
          { flag: "--model_revision", reason: chained },
          { flag: "--tokenizer_revision", reason: pinnedRevision },
          {
            flag: "--dataset_mixer_list",
            reason:
              "the doc's list has no amount, which 89b4f62 rejects (dataset_transformation.py:1274 asserts an even-length list); 1.0 = every row, as in the doc's other DPO commands",
          },
        ],
      },
      "rlvr-mixed": {
        ...grpoReference,
        published: { file: "docs/olmo2.md", lines: [236, 281] },
        differences: [
          ...grpoDifferences,
          {
            flag: "--tokenizer_name",
            reason:
              "the doc passes the same repo twice (--tokenizer_name and --tokenizer_name_or_path); the bundle writes it once, as --tokenizer_name_or_path",
          },
        ],
      },
      "rlvr-math": {
        ...grpoReference,
        published: { file: "docs/olmo2.md", lines: [287, 331] },
        differences: grpoDifferences,
      },
    },
  },
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
