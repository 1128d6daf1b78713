import { adamWConfigSchema, batchConfigSchema, learningRateConfigSchema } from "@posttrain/engine";
import { z } from "zod";

/**
 * The RLVR (GRPO family) stage's configuration. Every hyperparameter is explicit.
 *
 * One **step** = one rollout batch: `promptsPerStep` prompts × `samplesPerPrompt` completions
 * from the generation backend, verified, turned into group advantages, then `epochs` passes
 * over the kept completions in optimizer mini-batches of the effective batch
 * (devices × perDeviceBatchSize × gradientAccumulationSteps completions), i.e. several
 * optimizer steps per rollout batch. The learning rate is scheduled by rollout step.
 */
export const Config = z.strictObject({
  /** Seeds the prompt order, the rollout sampling and the mini-batch shuffles. */
  seed: z.number().int(),
  batch: batchConfigSchema,
  steps: z.number().int().positive(),
  rollouts: z.strictObject({
    promptsPerStep: z.number().int().positive(),
    samplesPerPrompt: z.number().int().min(2),
    temperature: z.number().positive(),
    maxNewTokens: z.number().int().positive(),
  }),
  rewards: z.strictObject({
    /** Reward = verificationReward × verifier score (Tulu 3: 10). */
    verificationReward: z.number().nonnegative(),
    /**
     * R1-style format reward: when the response does not match `pattern` (a JS regular
     * expression, whole response) the verification reward is withheld (it gates it); when it
     * matches, `reward` is added. `null` = no format reward.
     */
    format: z.strictObject({ pattern: z.string().min(1), reward: z.number() }).nullable(),
    /** A truncated (non-stop) completion's reward is replaced by `value` (Tulu 3: −10). `null` = off. */
    nonStopPenalty: z.strictObject({ value: z.number() }).nullable(),
  }),
  /** `centered`: r − mean(group); `standard`: (r − mean) / (std + 1e-8), population std (open-instruct). */
  advantages: z.enum(["centered", "standard"]),
  /** Drop groups whose rewards are all equal (zero advantage, no signal). */
  filterZeroVarianceGroups: z.boolean(),
  /** Exclude truncated completions from the loss. */
  maskTruncatedCompletions: z.boolean(),
  kl: z.strictObject({
    /** KL coefficient β (Tulu 3.1 GRPO: 0.01); 0 = no reference model. */
    beta: z.number().nonnegative(),
    /** With log r = log π_ref − log π: k1 = −log r, k2 = ½(log r)², k3 = (r − 1) − log r. */
    estimator: z.enum(["k1", "k2", "k3"]),
  }),
  /** PPO ratio clip [1 − low, 1 + high] (DAPO clip-higher: high > low). */
  clip: z.strictObject({ low: z.number().min(0).lt(1), high: z.number().nonnegative() }),
  /** Passes over each rollout batch. */
  epochs: z.number().int().positive(),
  learningRate: learningRateConfigSchema,
  adamW: adamWConfigSchema,
  maxGradientNorm: z.number().positive().nullable(),
  checkpointEverySteps: z.number().int().positive(),
  /**
   * Over-optimisation monitor: every `everySteps` steps, greedy answers to the held-out prompts
   * are verified; a warning is logged when the training reward rose while held-out accuracy
   * fell since the last check, or when the KL passes `klBound`. `null` = off.
   */
  monitor: z
    .strictObject({ everySteps: z.number().int().positive(), klBound: z.number().positive().nullable() })
    .nullable(),
  /** Verifier worker threads (0 = in the training thread) and per-check time bound. */
  verifierWorkers: z.number().int().nonnegative(),
  verifierTimeoutMilliseconds: z.number().int().positive(),
  lossChunks: z.number().int().positive(),
  threads: z.number().int().positive(),
});

export type Config = z.output<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
