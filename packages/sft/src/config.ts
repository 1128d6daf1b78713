import {
  adamWConfigSchema,
  batchConfigSchema,
  durationSchema,
  learningRateConfigSchema,
} from "@posttrain/training";
import { z } from "zod";

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
