/**
 * The reference implementation a recipe reproduces: the open-instruct commit and, per stage,
 * the script and the published command it follows (file and lines at that commit), the
 * engine settings the published run used that are not hyperparameters of the embedded
 * engine (its tokenizer, reward model, Ray layout, save cadence…), and every deliberate
 * difference from the published command with its reason. Part of the recipe (and of its
 * fingerprint); the lock pins the Hub revisions named here.
 */
import { z } from "zod";

const hubReference = z.strictObject({
  repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, "an owner/name Hub repository"),
  /** A branch, tag or commit; `posttrain lock` pins it to a commit. */
  revision: z.string().min(1),
});

/** Where a published command is written: a file at the reference commit and its line range. */
export const publishedCommandSourceSchema = z.strictObject({
  file: z.string().min(1),
  lines: z
    .tuple([z.number().int().positive(), z.number().int().positive()])
    .refine(([first, last]) => first <= last, "the first line must not be after the last"),
});

/** A deliberate difference from the published command. */
export const referenceDifferenceSchema = z.strictObject({
  /** The flag as the published command writes it, e.g. `--with_tracking`. */
  flag: z.string().regex(/^--[a-z][a-z0-9_]*$/, "a --flag"),
  reason: z.string().min(1),
});

/** One stage's reference: script, published command and engine-only settings. */
export const referenceStageSchema = z.strictObject({
  /** The script inside the checkout, e.g. `open_instruct/finetune.py`. */
  script: z.string().regex(/^[\w/.-]+\.py$/, "a Python script path"),
  published: publishedCommandSourceSchema,
  /** The tokenizer this stage loads when it is not the recipe's (Tulu 3 DPO: the SFT model's). */
  tokenizer: hubReference.optional(),
  /** `--use_slow_tokenizer` as published (OLMo 2: False). */
  useSlowTokenizer: z.boolean().optional(),
  /** The value/reward model (PPO: it also initialises the value model). */
  rewardModel: hubReference.optional(),
  /**
   * SFT/DPO save cadence when it is not the recipe's `checkpointEverySteps`: `epoch` (after each
   * epoch) or `final` (no intermediate checkpoints: `--checkpointing_steps` unset).
   */
  checkpointing: z.enum(["epoch", "final"]).optional(),
  /** DeepSpeed ZeRO stage of the published run. */
  deepspeedStage: z.union([z.literal(2), z.literal(3)]).optional(),
  /** RL: learner GPUs per node (`--actor_num_gpus_per_node`). */
  learnersPerNode: z.array(z.number().int().positive()).min(1).optional(),
  /** RL: vLLM engines and their tensor-parallel size. */
  vllmEngines: z.number().int().positive().optional(),
  vllmTensorParallelSize: z.number().int().positive().optional(),
  /** RL: rows per learner micro-batch when the recipe's stage has no batch (PPO). */
  perDeviceTrainBatchSize: z.number().int().positive().optional(),
  /** RL: rows per forward pass while scoring rollouts (`--local_rollout_forward_batch_size`; memory only). */
  rolloutForwardBatchSize: z.number().int().positive().optional(),
  /** RL: the generation stop (`--stop_token`). */
  stopToken: z.enum(["eos", "period"]).optional(),
  differences: z.array(referenceDifferenceSchema).default([]),
});

/** The recipe's `referenceImplementation`. */
export const referenceImplementationSchema = z.strictObject({
  engine: z.literal("open-instruct"),
  repository: z.url(),
  /** The full 40-hex commit the published commands were written at. */
  commit: z.string().regex(/^[0-9a-f]{40}$/, "a full 40-hex commit SHA"),
  /** Per recipe stage name. */
  stages: z.record(z.string().min(1), referenceStageSchema),
});

export type ReferenceImplementation = z.output<typeof referenceImplementationSchema>;
export type ReferenceStage = z.output<typeof referenceStageSchema>;
export type ReferenceImplementationInput = z.input<typeof referenceImplementationSchema>;
