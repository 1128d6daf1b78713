/** Config schemas every training stage shares (SFT, DPO and RLVR embed them in their configs). */
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
