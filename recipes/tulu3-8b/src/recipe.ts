/**
 * Tulu 3 8B as published (Lambert et al. 2024, arXiv 2411.15124; open-instruct docs/tulu3.md
 * at e363290 and scripts/train/tulu3 at 686a521): Llama-3.1-8B → SFT → DPO → RLVR (PPO with
 * verifiable rewards). Every flag the release-era scripts set, and every default that applied,
 * is written out; nothing relies on a default.
 *
 * Revisions: no commit SHA of these repos is known to us offline, so every Hub reference is
 * left at `main` and `posttrain lock` resolves and pins it (a run refuses until it has).
 * The RLVR stage's `totalEpisodes` is the release script's 10,000,000; the paper's final
 * checkpoint was picked on MATH + IFEval, not taken at the last step.
 */
import { defineRecipe, packageVersionOf } from "@posttrain/recipe";

const adamW = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };
/**
 * The PPO script builds `torch.optim.AdamW(policy.parameters(), lr=...)`
 * (ppo_vllm_thread_ray_gtrl.py:608 at e363290): torch's default weight decay 0.01 applied.
 */
const ppoAdamW = { ...adamW, weightDecay: 0.01 };
/**
 * accelerate launches with configs/ds_configs/stage3_no_offloading_accelerate.conf, whose
 * `gradient_clipping: "auto"` accelerate fills with its default 1.0: SFT and DPO clipped at 1.0
 * although `--clip_grad_norm` was left at −1.
 */
const accelerateClipping = 1;

/** docs/tulu3.md at this commit holds the published commands. */
const releaseCommit = "e363290be27225e799c6b7497a6bfb4bca25be68";
const pinnedRevision =
  "pinned to the lock's commit of the same repo instead of the branch `main` (the docs pass main)";
const chained = "the model is the previous stage's output in the bundle (a folder: no Hub revision)";

/** Paper Table 6 (OLMES settings, greedy, 4,096-token limit). */
const table6 = "Tulu 3 paper (arXiv 2411.15124), Table 6";
/** ± 2 points: run-to-run and hardware variance of a full 8B run, in our judgement. */
const tolerance = 0.02;

export const recipe = defineRecipe({
  name: "tulu3-8b",
  // One version: the package.json version (bumped by changesets) is the recipe's.
  version: packageVersionOf({ moduleUrl: import.meta.url }),
  description:
    "Tulu 3 8B: Llama-3.1-8B fine-tuned with SFT (tulu-3-sft-mixture), length-normalised DPO and RLVR on GSM8K/MATH/IFEval, as published.",
  seed: 123,
  model: {
    kind: "hub",
    repo: "meta-llama/Llama-3.1-8B",
    revision: "main",
    // config.json of meta-llama/Llama-3.1-8B (8,030,261,248 parameters).
    architecture: {
      vocab_size: 128256,
      hidden_size: 4096,
      intermediate_size: 14336,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      tie_word_embeddings: false,
    },
  },
  tokenizer: {
    source: { kind: "hub", repo: "meta-llama/Llama-3.1-8B", revision: "main" },
    // open-instruct's `tulu` template (the default chat template of the release-era scripts).
    chatTemplate: "tulu",
    addBos: false,
  },
  verifiers: ["gsm8k", "math", "ifeval_old"],
  stages: [
    {
      name: "sft",
      type: "sft",
      data: {
        train: [
          {
            kind: "hub",
            repo: "allenai/tulu-3-sft-mixture",
            revision: "main",
            split: "train",
            amount: { fraction: 1 },
          },
        ],
        publishedRows: { rows: 939_344, source: "allenai/tulu-3-sft-mixture dataset card" },
        maxLength: 4096,
        packing: null,
      },
      publishedCheckpoint: { kind: "hub", repo: "allenai/Llama-3.1-Tulu-3-8B-SFT", revision: "main" },
      hyperparameters: {
        seed: 123,
        // 8 nodes × 8 GPUs, per-device batch 1, accumulation 2: 128 sequences per step.
        batch: { devices: 64, perDeviceBatchSize: 1, gradientAccumulationSteps: 2, effectiveBatchSize: 128 },
        reduction: "sum",
        duration: { epochs: 2 },
        learningRate: { peak: 5e-6, schedule: "linear", warmup: { ratio: 0.03 } },
        adamW,
        maxGradientNorm: accelerateClipping,
        // Only used by the embedded engine: the published run saved per epoch (see referenceImplementation).
        checkpointEverySteps: 1000,
        evaluation: null,
        lossChunks: 8,
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
            repo: "allenai/llama-3.1-tulu-3-8b-preference-mixture",
            revision: "main",
            split: "train",
            amount: { fraction: 1 },
          },
        ],
        publishedRows: { rows: 271_409, source: "Tulu 3 paper (the dataset card says 272,898)" },
        maxLength: 2048,
        packing: null,
      },
      publishedCheckpoint: { kind: "hub", repo: "allenai/Llama-3.1-Tulu-3-8B-DPO", revision: "main" },
      hyperparameters: {
        // dpo_tune.py's default seed (unset in the script).
        seed: 42,
        // 1 node × 8 GPUs, per-device 1, accumulation 16: 128 (the committed 4-node script had 512).
        batch: { devices: 8, perDeviceBatchSize: 1, gradientAccumulationSteps: 16, effectiveBatchSize: 128 },
        loss: { type: "dpo_norm", beta: 5, labelSmoothing: 0, gammaBetaRatio: 0.3 },
        duration: { epochs: 1 },
        learningRate: { peak: 5e-7, schedule: "linear", warmup: { ratio: 0.1 } },
        adamW,
        maxGradientNorm: accelerateClipping,
        checkpointEverySteps: 1000,
        evaluation: null,
        referenceCacheDirectory: null,
        lossChunks: 8,
        threads: 1,
      },
    },
    {
      name: "rlvr",
      // PPO with a value model and one sample per prompt: recorded as data (no PPO trainer here).
      type: "ppo",
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
        maxLength: 4096,
        packing: null,
      },
      publishedCheckpoint: { kind: "hub", repo: "allenai/Llama-3.1-Tulu-3-8B", revision: "main" },
      hyperparameters: {
        seed: 3,
        // 7 learner GPUs × local rollout batch 32 = 224 prompts per step, one sample each.
        promptsPerStep: 224,
        samplesPerPrompt: 1,
        updateEpochs: 4,
        // local mini-batch 32 × 7 = 224: one mini-batch per rollout batch.
        miniBatches: 1,
        totalEpisodes: 10_000_000,
        learningRate: { peak: 3e-7, schedule: "linear", warmup: { steps: 0 } },
        adamW: ppoAdamW,
        maxGradientNorm: 1,
        kl: { beta: 0.05, estimator: "k1" },
        clipRange: 0.2,
        sampling: { temperature: 1, maxPromptTokens: 2048, maxResponseTokens: 2048 },
        rewards: { verification: 10, nonStopPenalty: -10 },
        // --num_evals 3 over 10,000,000 // 224 = 44,642 steps: every 44,642 // 3 = 14,880 steps
        // (eval_freq of ppo_vllm_thread_ray_gtrl.py; evaluation does not follow --save_freq).
        evaluation: { everySteps: 14_880, prompts: 128 },
        checkpointEverySteps: 100,
        threads: 1,
      },
    },
  ],
  referenceImplementation: {
    engine: "open-instruct",
    repository: "https://github.com/allenai/open-instruct",
    commit: releaseCommit,
    stages: {
      sft: {
        script: "open_instruct/finetune.py",
        published: { file: "docs/tulu3.md", lines: [22, 55] },
        useSlowTokenizer: true,
        checkpointing: "epoch",
        deepspeedStage: 3,
        differences: [
          { flag: "--model_revision", reason: pinnedRevision },
          { flag: "--tokenizer_revision", reason: pinnedRevision },
          {
            flag: "--preprocessing_num_workers",
            reason:
              "CPU processes for tokenisation (128 in the docs); the cluster's CPU count decides, the data do not change",
          },
        ],
      },
      dpo: {
        script: "open_instruct/dpo_tune.py",
        published: { file: "docs/tulu3.md", lines: [136, 166] },
        // docs/tulu3.md:144: the DPO run tokenised with the SFT model's tokenizer.
        tokenizer: { repo: "allenai/Llama-3.1-Tulu-3-8B-SFT", revision: "main" },
        useSlowTokenizer: true,
        deepspeedStage: 3,
        differences: [
          { flag: "--model_revision", reason: chained },
          { flag: "--tokenizer_revision", reason: pinnedRevision },
          {
            flag: "--preprocessing_num_workers",
            reason: "CPU processes for tokenisation (16 in the docs); the data do not change",
          },
        ],
      },
      rlvr: {
        script: "open_instruct/ppo_vllm_thread_ray_gtrl.py",
        published: { file: "docs/tulu3.md", lines: [263, 298] },
        // docs/tulu3.md:273; also initialises the value model (its reward multiplier is 0).
        rewardModel: { repo: "allenai/Llama-3.1-Tulu-3-8B-RM", revision: "main" },
        learnersPerNode: [7],
        vllmEngines: 1,
        vllmTensorParallelSize: 1,
        perDeviceTrainBatchSize: 2,
        rolloutForwardBatchSize: 2,
        stopToken: "eos",
        deepspeedStage: 3,
        differences: [{ flag: "--reward_model_revision", reason: pinnedRevision }],
      },
    },
  },
  evals: { name: "tulu3_dev", version: "1.0.0", tasks: ["gsm8k", "minerva_math", "ifeval", "humaneval"] },
  expected: [
    { after: "sft", task: "gsm8k", metric: "exact_match", value: 0.762, tolerance, source: table6 },
    {
      after: "sft",
      task: "minerva_math",
      metric: "exact_match_flex",
      value: 0.315,
      tolerance,
      source: table6,
    },
    {
      after: "sft",
      task: "ifeval",
      metric: "prompt_level_loose_acc",
      value: 0.728,
      tolerance,
      source: table6,
    },
    { after: "sft", task: "humaneval", metric: "pass_at_10", value: 0.862, tolerance, source: table6 },
    { after: "dpo", task: "gsm8k", metric: "exact_match", value: 0.843, tolerance, source: table6 },
    {
      after: "dpo",
      task: "minerva_math",
      metric: "exact_match_flex",
      value: 0.42,
      tolerance,
      source: table6,
    },
    {
      after: "dpo",
      task: "ifeval",
      metric: "prompt_level_loose_acc",
      value: 0.811,
      tolerance,
      source: table6,
    },
    { after: "dpo", task: "humaneval", metric: "pass_at_10", value: 0.839, tolerance, source: table6 },
    { after: "rlvr", task: "gsm8k", metric: "exact_match", value: 0.876, tolerance, source: table6 },
    {
      after: "rlvr",
      task: "minerva_math",
      metric: "exact_match_flex",
      value: 0.437,
      tolerance,
      source: table6,
    },
    {
      after: "rlvr",
      task: "ifeval",
      metric: "prompt_level_loose_acc",
      value: 0.824,
      tolerance,
      source: table6,
    },
    { after: "rlvr", task: "humaneval", metric: "pass_at_10", value: 0.839, tolerance, source: table6 },
  ],
});

export default recipe;
