import {
  adamWConfigSchema,
  batchConfigSchema,
  durationSchema,
  learningRateConfigSchema,
} from "@posttrain/training";
import { z } from "zod";

/**
 * The preference loss (open-instruct `dpo_utils`). With z the preference logit and
 * softplus(x) = log(1 + eˣ) (= −log σ(−x)), every loss is
 * `(1 − labelSmoothing)·softplus(−β·z) + labelSmoothing·softplus(β·z)` (cDPO smoothing):
 * - `dpo`: z = (πc − πr) − (ρc − ρr) on summed completion log-probs (π policy, ρ reference)
 * - `dpo_norm`: the same on length-averaged log-probs (Tulu 3's choice, β = 5)
 * - `simpo`: z = (π̄c − π̄r) − gammaBetaRatio on length-averaged log-probs, no reference
 *   model (so β·z = β(π̄c − π̄r) − γ with γ = gammaBetaRatio·β)
 * - `wpo`: `dpo`'s loss weighted by w = min(1, exp(π̄c + π̄r)) (policy length-averaged
 *   log-probs; the weight is not detached, as in open-instruct)
 * Rewards: β(π − ρ) (simpo: βπ); accuracy = chosen reward > rejected reward.
 */
export const lossConfigSchema = z.strictObject({
  type: z.enum(["dpo", "dpo_norm", "simpo", "wpo"]),
  beta: z.number().positive(),
  labelSmoothing: z.number().min(0).max(0.5),
  /** SimPO's γ/β (open-instruct `gamma_beta_ratio`, default there 0.3); ignored by the other losses. */
  gammaBetaRatio: z.number(),
});

export type LossConfig = z.output<typeof lossConfigSchema>;

/** Whether the loss type uses length-averaged log-probs. */
export function usesAveragedLogProbs(type: LossConfig["type"]): boolean {
  return type === "dpo_norm" || type === "simpo";
}

/** Whether the loss type needs a frozen reference model. */
export function usesReference(type: LossConfig["type"]): boolean {
  return type !== "simpo";
}

/** The DPO stage's configuration; every hyperparameter explicit, the resolved config recorded. */
export const Config = z.strictObject({
  /** Seeds the data order (`Random` stream `dpo/data`). */
  seed: z.number().int(),
  batch: batchConfigSchema,
  loss: lossConfigSchema,
  duration: durationSchema,
  learningRate: learningRateConfigSchema,
  adamW: adamWConfigSchema,
  /** Global gradient-norm clip; `null` = none (open-instruct `clip_grad_norm -1`). */
  maxGradientNorm: z.number().positive().nullable(),
  checkpointEverySteps: z.number().int().positive(),
  /** Held-out pairs scored every N steps and at the end (loss, rewards, margins, accuracy). */
  evaluation: z
    .strictObject({ everySteps: z.number().int().positive(), batchSize: z.number().int().positive() })
    .nullable(),
  /**
   * Reference log-prob cache folder; `null` = `$POSTTRAIN_CACHE/dpo-reference` (default
   * `~/.cache/posttrain`).
   */
  referenceCacheDirectory: z.string().min(1).nullable(),
  lossChunks: z.number().int().positive(),
  threads: z.number().int().positive(),
});

export type Config = z.output<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
