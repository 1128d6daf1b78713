// The seeded data order of every training stage (SFT rows, DPO pairs, RLVR prompts).
import type { Random } from "@posttrain/core";

/**
 * The seeded order of the rows: epoch e visits `random.stream("epoch-e").permutation(n)`.
 * Step s of the run is a pure function of s (no hidden state), so resuming needs only the step.
 */
export class DataOrder {
  readonly microBatchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  private cachedEpoch = -1;
  private cachedOrder: number[] = [];

  constructor(
    private readonly params: {
      random: Random;
      rowCount: number;
      perDeviceBatchSize: number;
      gradientAccumulationSteps: number;
    },
  ) {
    this.microBatchesPerEpoch = Math.ceil(params.rowCount / params.perDeviceBatchSize);
    this.stepsPerEpoch = Math.ceil(this.microBatchesPerEpoch / params.gradientAccumulationSteps);
  }

  private order(epoch: number): number[] {
    if (epoch !== this.cachedEpoch) {
      this.cachedOrder = this.params.random.stream(`epoch-${epoch}`).permutation(this.params.rowCount);
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder;
  }

  /** Row indices of each micro-batch of optimizer step `step` (0-based), with its epoch. */
  step(step: number): { epoch: number; microBatches: number[][] } {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const local = step % this.stepsPerEpoch;
    const order = this.order(epoch);
    const { perDeviceBatchSize, gradientAccumulationSteps } = this.params;
    const microBatches: number[][] = [];
    const first = local * gradientAccumulationSteps;
    const end = Math.min(this.microBatchesPerEpoch, first + gradientAccumulationSteps);
    for (let micro = first; micro < end; micro += 1)
      microBatches.push(order.slice(micro * perDeviceBatchSize, (micro + 1) * perDeviceBatchSize));
    return { epoch, microBatches };
  }
}
