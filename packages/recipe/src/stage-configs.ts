/**
 * The hyperparameter schema of each stage type, taken from the stage package itself so a
 * recipe is validated by exactly the rules its trainer applies: `sft`, `dpo` and `rlvr`
 * (GRPO family) use @posttrain/sft's, @posttrain/dpo's and @posttrain/rlvr's `Config`.
 *
 * `ppo` is the one stage type without a trainer here: Tulu 3's RLVR stage was PPO (value
 * model, one sample per prompt), which @posttrain/rlvr's GRPO `Config` cannot express
 * (it needs ≥ 2 samples per prompt). `ppoConfigSchema` records the published PPO run's
 * hyperparameters as data, so the recipe pins them; running it fails with `stage_unavailable`.
 */
import { Config as dpoConfig } from "@posttrain/dpo";
import { Config as rlvrConfig } from "@posttrain/rlvr";
import { Config as sftConfig } from "@posttrain/sft";
import { z } from "zod";

const adamW = z.strictObject({
  beta1: z.number().min(0).lt(1),
  beta2: z.number().min(0).lt(1),
  epsilon: z.number().positive(),
  weightDecay: z.number().min(0),
});
const learningRate = z.strictObject({
  peak: z.number().nonnegative(),
  schedule: z.enum(["constant", "linear", "cosine"]),
  warmup: z.union([
    z.strictObject({ ratio: z.number().min(0).max(1) }),
    z.strictObject({ steps: z.number().int().nonnegative() }),
  ]),
});

/** Tulu 3's PPO RLVR hyperparameters (open-instruct names in the comments); data only, no trainer. */
export const ppoConfigSchema = z.strictObject({
  seed: z.number().int(),
  /** Unique prompts per optimizer step (`num_unique_prompts_rollout`, PPO: rollout batch). */
  promptsPerStep: z.number().int().positive(),
  /** Completions sampled per prompt (`num_samples_per_prompt_rollout`). */
  samplesPerPrompt: z.number().int().positive(),
  /** Optimisation passes over each rollout batch (`num_epochs` / PPO epochs). */
  updateEpochs: z.number().int().positive(),
  /** Mini-batches per rollout batch (`num_mini_batches`). */
  miniBatches: z.number().int().positive(),
  /** Total prompt-completion episodes (`total_episodes`). */
  totalEpisodes: z.number().int().positive(),
  learningRate,
  adamW,
  maxGradientNorm: z.number().positive().nullable(),
  /** KL penalty against the reference policy: coefficient and estimator (k1 = log ratio, k3 = expm1(−d)+d). */
  kl: z.strictObject({ beta: z.number().min(0), estimator: z.enum(["k1", "k2", "k3", "k4"]) }),
  /** PPO-style ratio clip (`cliprange`). */
  clipRange: z.number().positive(),
  sampling: z.strictObject({
    temperature: z.number().min(0),
    maxPromptTokens: z.number().int().positive(),
    maxResponseTokens: z.number().int().positive(),
  }),
  rewards: z.strictObject({
    /** Reward for a verified answer (`verification_reward`, 10 in Tulu 3). */
    verification: z.number(),
    /** Replaces the reward of a completion that never emitted EOS; `null` = no penalty. */
    nonStopPenalty: z.number().nullable(),
  }),
  /** Held-out reward/accuracy every N steps (and at the end); `null` = none. */
  evaluation: z
    .strictObject({ everySteps: z.number().int().positive(), prompts: z.number().int().positive() })
    .nullable(),
  checkpointEverySteps: z.number().int().positive(),
  threads: z.number().int().positive(),
});

/** Each stage type's hyperparameter schema. */
export const stageConfigSchemas = {
  sft: sftConfig,
  dpo: dpoConfig,
  rlvr: rlvrConfig,
  ppo: ppoConfigSchema,
} as const;

export type StageType = keyof typeof stageConfigSchemas;
export type SftHyperparameters = z.output<typeof sftConfig>;
export type DpoHyperparameters = z.output<typeof dpoConfig>;
export type RlvrHyperparameters = z.output<typeof rlvrConfig>;
export type PpoHyperparameters = z.output<typeof ppoConfigSchema>;
