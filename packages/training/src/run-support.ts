/**
 * Glue every trainer (SFT, DPO, RLVR) needs: the effective-batch check, the engine schedule
 * from the config, and the resolved config in the run directory (and the refusal to resume
 * under a different one).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fingerprint, type RunContext, writeJsonAtomic } from "@posttrain/core";
import type { LearningRateSchedule } from "@posttrain/engine";
import type { z } from "zod";
import type { batchConfigSchema, learningRateConfigSchema } from "./config-schemas.js";
import { TrainError } from "./errors.js";

/** devices × perDeviceBatchSize × gradientAccumulationSteps, checked against `effectiveBatchSize`. */
export function effectiveBatchSize(batch: z.output<typeof batchConfigSchema>): number {
  if (batch.devices !== 1) {
    throw new TrainError({
      code: "train_unsupported_devices",
      message: `batch.devices is ${batch.devices}: the embedded engine trains on exactly 1 device`,
    });
  }
  const product = batch.devices * batch.perDeviceBatchSize * batch.gradientAccumulationSteps;
  if (batch.effectiveBatchSize !== undefined && batch.effectiveBatchSize !== product) {
    throw new TrainError({
      code: "train_effective_batch_mismatch",
      message:
        `batch.effectiveBatchSize is ${batch.effectiveBatchSize} but batch.devices (${batch.devices}) × ` +
        `batch.perDeviceBatchSize (${batch.perDeviceBatchSize}) × batch.gradientAccumulationSteps ` +
        `(${batch.gradientAccumulationSteps}) = ${product}`,
      details: { ...batch, product },
    });
  }
  return product;
}

/** The engine's {@link LearningRateSchedule} for a stage's learning-rate config. */
export function engineSchedule(params: {
  learningRate: z.output<typeof learningRateConfigSchema>;
  totalSteps: number;
}): LearningRateSchedule {
  return {
    kind: params.learningRate.schedule,
    peak: params.learningRate.peak,
    totalSteps: params.totalSteps,
    warmup: params.learningRate.warmup,
  };
}

/**
 * Writes `<directory>/config.json` (the fully resolved config) on a fresh run; on a resumed
 * run (the file exists) it must be identical, or the run refuses to continue.
 */
export async function recordResolvedConfig(params: {
  context: RunContext;
  resolved: unknown;
}): Promise<string> {
  const path = join(params.context.directory, "config.json");
  const key = fingerprint(params.resolved);
  let previous: unknown;
  try {
    previous = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (previous !== undefined && fingerprint(previous) !== key) {
    throw new TrainError({
      code: "train_config_changed",
      message: `${path} records a different resolved config: use a new run directory, or the same config to resume`,
    });
  }
  if (previous === undefined) await writeJsonAtomic({ path, value: params.resolved });
  return key;
}
