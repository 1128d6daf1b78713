import { toolUseConfigSchema } from "@posttrain/tools";
import { adamWConfigSchema, batchConfigSchema, learningRateConfigSchema } from "@posttrain/training";
import { z } from "zod";

/**
 * Where rollouts are generated.
 * - `embedded` (default): the engine's KV-cache backend over the live policy buffer, in process.
 * - `remote`: an external SGLang or vLLM server (see remote-generation/): completions come back
 *   as token ids with their sampling log-probs, and the policy is pushed to the server after
 *   every `syncEverySteps`-th step (1 = every rollout uses the current policy; N > 1 lets
 *   rollouts lag up to N − 1 steps behind — the PPO ratio still uses the trainer's own
 *   log-probs). `url` may be left null and given by `posttrain train rlvr --generation-url` or
 *   `POSTTRAIN_GENERATION_URL`; an API key only ever comes from `POSTTRAIN_GENERATION_API_KEY`
 *   (never from a recipe). `weightsDirectory`: SGLang — where the per-sync folders go (null =
 *   `<run>/generation-weights`); vLLM — the folder the server serves (required: it is
 *   overwritten and reloaded). `serverWeightsDirectory`: the same folder as the server mounts it.
 */
export const generationConfigSchema = z.discriminatedUnion("backend", [
  z.strictObject({ backend: z.literal("embedded") }),
  z.strictObject({
    backend: z.literal("remote"),
    server: z.enum(["sglang", "vllm"]),
    url: z
      .url({ protocol: /^https?$/ })
      .nullable()
      .default(null),
    /** vLLM: the served model id; null = the first of `GET /v1/models`. */
    servedModel: z.string().min(1).nullable().default(null),
    syncEverySteps: z.number().int().positive().default(1),
    weightsDirectory: z.string().min(1).nullable().default(null),
    serverWeightsDirectory: z.string().min(1).nullable().default(null),
    /** Requests in flight at once. */
    concurrency: z.number().int().positive().default(16),
    requestTimeoutSeconds: z.number().positive().default(600),
    retries: z.number().int().nonnegative().default(3),
    /** SGLang: send `sampling_seed` (older releases reject unknown sampling parameters). */
    sendSamplingSeed: z.boolean().default(true),
  }),
]);
export type GenerationConfig = z.output<typeof generationConfigSchema>;

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
    /**
     * With `tools`: subtracted once per tool call of a rollout (reward − toolCallCost × calls),
     * a small price that keeps the policy from calling tools it does not need. Default 0;
     * open-instruct has no such cost.
     */
    toolCallCost: z.number().nonnegative().default(0),
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
  /**
   * Where rollouts are generated; absent = embedded (see {@link generationConfigSchema}). Optional
   * without a default so configs that do not set it validate to the same object (recipe
   * fingerprints and locks stay unchanged).
   */
  generation: generationConfigSchema.optional(),
  /**
   * Multi-turn tool use in rollouts (@posttrain/tools' `toolUseConfigSchema`, the schema eval
   * tasks use): generation stops at a tool call, the tool runs, its output is appended (masked
   * from the loss and the KL term) and generation resumes, up to `maxToolCalls` calls and
   * `maxTotalTokens` response tokens (default `rollouts.maxNewTokens`; one turn gets at most
   * `rollouts.maxNewTokens`). The verifier scores the model's final turn. The prompt must
   * already tell the model the tools (see README "Tool use"). `null` = single-turn.
   */
  tools: toolUseConfigSchema.nullable().default(null),
});

export type Config = z.output<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
