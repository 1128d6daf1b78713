/**
 * The hyperparameter schema of each stage type, taken from the stage package itself so a
 * recipe is validated by exactly the rules its trainer applies.
 *
 * @posttrain/sft and @posttrain/dpo export their `Config`, used as is.
 *
 * ADAPTER (RLVR only): @posttrain/rlvr did not export a `Config` from its entry point when
 * this was written, and the one it is writing is GRPO-only (≥ 2 samples per prompt, no value
 * model), which cannot express Tulu 3's PPO stage. `rlvrConfigAdapter` spells out the
 * GRPO/PPO hyperparameters the published runs pin; switch to the package's `Config` (or a
 * union with it) once it is exported. Nothing else in this package refers to the adapter.
 */
import { Config as dpoConfig } from "@posttrain/dpo";
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

/**
 * ADAPTER: the RLVR hyperparameters (open-instruct PPO / GRPO names in the comments) until
 * @posttrain/rlvr exports its `Config`.
 */
export const rlvrConfigAdapter = z.strictObject({
  seed: z.number().int(),
  /** `grpo` (group-relative advantages) or `ppo` (value model, GAE). */
  algorithm: z.enum(["grpo", "ppo"]),
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
  rlvr: rlvrConfigAdapter,
} as const;

export type StageType = keyof typeof stageConfigSchemas;
export type SftHyperparameters = z.output<typeof sftConfig>;
export type DpoHyperparameters = z.output<typeof dpoConfig>;
export type RlvrHyperparameters = z.output<typeof rlvrConfigAdapter>;
