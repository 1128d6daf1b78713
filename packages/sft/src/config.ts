import { z } from "zod";

/** AdamW hyperparameters (torch names: betas, eps, weight_decay). All explicit. */
export const adamWConfigSchema = z.strictObject({
  beta1: z.number().min(0).lt(1),
  beta2: z.number().min(0).lt(1),
  epsilon: z.number().positive(),
  weightDecay: z.number().min(0),
});

/** Learning rate: peak, schedule shape and warmup (HF `get_*_schedule_with_warmup` semantics). */
export const learningRateConfigSchema = z.strictObject({
  peak: z.number().nonnegative(),
  schedule: z.enum(["constant", "linear", "cosine"]),
  /** `{ ratio }` of the total steps (rounded up, as open-instruct) or `{ steps }`. */
  warmup: z.union([
    z.strictObject({ ratio: z.number().min(0).max(1) }),
    z.strictObject({ steps: z.number().int().nonnegative() }),
  ]),
});

/** How long to train: whole passes over the data, or a number of optimizer steps. */
export const durationSchema = z.union([
  z.strictObject({ epochs: z.number().int().positive() }),
  z.strictObject({ steps: z.number().int().positive() }),
]);

/** The batch shape. Effective batch = devices × perDeviceBatchSize × gradientAccumulationSteps. */
export const batchConfigSchema = z.strictObject({
  /** Data-parallel devices; the embedded engine runs on exactly one. */
  devices: z.number().int().positive(),
  /** Rows per micro-batch (open-instruct `--per_device_train_batch_size`). */
  perDeviceBatchSize: z.number().int().positive(),
  /** Micro-batches per optimizer step (`--gradient_accumulation_steps`). */
  gradientAccumulationSteps: z.number().int().positive(),
  /** When given, must equal the product above (a mismatch names the fields). */
  effectiveBatchSize: z.number().int().positive().optional(),
});

/**
 * The SFT stage's configuration. Every hyperparameter is explicit (no silent defaults for
 * anything that changes the result); the resolved config is written to the run directory.
 */
export const Config = z.strictObject({
  /** Seeds the data order (`Random` stream `sft/data`). */
  seed: z.number().int(),
  batch: batchConfigSchema,
  /**
   * `sum`: open-instruct `--reduce_loss sum` — the token losses of each micro-batch are summed
   * (not divided by the token count) and, as `accelerator.backward` does under gradient
   * accumulation, divided by `gradientAccumulationSteps`; every token weighs the same.
   * `mean`: HF's per-micro-batch token mean, divided by `gradientAccumulationSteps` (so each
   * micro-batch weighs the same, whatever its token count).
   */
  reduction: z.enum(["sum", "mean"]),
  duration: durationSchema,
  learningRate: learningRateConfigSchema,
  adamW: adamWConfigSchema,
  /** Global gradient-norm clip (torch `clip_grad_norm_`); `null` = no clipping (open-instruct −1). */
  maxGradientNorm: z.number().positive().nullable(),
  /** Write a resumable checkpoint every N optimizer steps (and on SIGINT, and at the end). */
  checkpointEverySteps: z.number().int().positive(),
  /** Held-out loss every N steps (and at the end); `null` = no evaluation. */
  evaluation: z
    .strictObject({
      everySteps: z.number().int().positive(),
      batchSize: z.number().int().positive(),
    })
    .nullable(),
  /** Row chunks of the fused LM head + loss (memory only; does not change results beyond rounding). */
  lossChunks: z.number().int().positive(),
  /** onnxruntime intra-op threads; results are bit-identical only for the same count. */
  threads: z.number().int().positive(),
});

export type Config = z.output<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
