import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { DataOrder } from "./data-order.js";

describe("DataOrder", () => {
  const order = () =>
    new DataOrder({
      random: Random.fromSeed(7).stream("data"),
      rowCount: 10,
      perDeviceBatchSize: 3,
      gradientAccumulationSteps: 2,
    });

  it("visits every row once per epoch, in micro-batches of the per-device size", () => {
    const data = order();
    expect(data.microBatchesPerEpoch).toBe(4);
    expect(data.stepsPerEpoch).toBe(2);
    const epoch = [data.step(0), data.step(1)];
    expect(epoch.map((step) => step.epoch)).toEqual([0, 0]);
    expect(epoch[0]!.microBatches.map((batch) => batch.length)).toEqual([3, 3]);
    expect(epoch[1]!.microBatches.map((batch) => batch.length)).toEqual([3, 1]);
    const rows = epoch.flatMap((step) => step.microBatches.flat());
    expect([...rows].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("is a pure function of the step (resuming needs only the step) and reshuffles per epoch", () => {
    const fresh = order();
    const resumed = order();
    expect(resumed.step(3)).toEqual(fresh.step(3));
    expect(fresh.step(2).epoch).toBe(1);
    const epochRows = (start: number) =>
      [fresh.step(start), fresh.step(start + 1)].flatMap((s) => s.microBatches.flat());
    expect(epochRows(2)).not.toEqual(epochRows(0));
    expect(epochRows(0)).toEqual(Random.fromSeed(7).stream("data").stream("epoch-0").permutation(10));
  });
});
