import { describe, expect, it } from "vitest";
import {
  describeSample,
  meanInterval,
  pairedTest,
  predictionInterval,
  studentTCumulative,
  studentTQuantile,
} from "./statistics.js";

describe("Student's t", () => {
  it("matches printed t tables (two-sided 95% and 99% critical values)", () => {
    const table: Array<[number, number, number]> = [
      [1, 0.975, 12.7062],
      [2, 0.975, 4.3027],
      [4, 0.975, 2.7764],
      [7, 0.975, 2.3646],
      [30, 0.975, 2.0423],
      [4, 0.995, 4.6041],
      [1000, 0.975, 1.9623],
    ];
    for (const [degreesOfFreedom, probability, value] of table)
      expect(studentTQuantile({ probability, degreesOfFreedom })).toBeCloseTo(value, 3);
    expect(studentTQuantile({ probability: 0.025, degreesOfFreedom: 4 })).toBeCloseTo(-2.7764, 3);
    expect(studentTCumulative({ t: 0, degreesOfFreedom: 3 })).toBeCloseTo(0.5, 12);
    // t with 1 degree of freedom is Cauchy: P(T ≤ 1) = 3/4.
    expect(studentTCumulative({ t: 1, degreesOfFreedom: 1 })).toBeCloseTo(0.75, 10);
  });
});

describe("intervals over seeds", () => {
  // RLVR and DPO micro_gsm accuracy on 8 seeds (issue 22, Intel Xeon).
  const rlvr = [0.537, 0.578, 0.544, 0.354, 0.51, 0.653, 0.517, 0.449];
  const dpo = [0.503, 0.612, 0.537, 0.374, 0.463, 0.599, 0.51, 0.476];

  it("gives the sample mean and sd, and a prediction interval wider than the mean's interval", () => {
    const { mean, standardDeviation } = describeSample(rlvr);
    expect(mean).toBeCloseTo(0.51775, 6);
    expect(standardDeviation).toBeCloseTo(0.088304, 5);
    const one = predictionInterval({ values: rlvr, runs: 1 });
    const five = predictionInterval({ values: rlvr, runs: 5 });
    const mean8 = meanInterval(rlvr);
    // m ± t(0.975, 7) · s · √(1 + 1/8)
    expect(one.upper - mean).toBeCloseTo(2.3646 * (standardDeviation as number) * Math.sqrt(1.125), 3);
    expect(five.upper - five.lower).toBeLessThan(one.upper - one.lower);
    expect((mean8?.upper ?? 0) - (mean8?.lower ?? 0)).toBeLessThan(five.upper - five.lower);
    expect(() => predictionInterval({ values: [0.5], runs: 1 })).toThrow(RangeError);
  });

  it("pairs seeds: RLVR − DPO on the issue's seeds is +0.009 with an interval containing 0", () => {
    const test = pairedTest({ better: rlvr, worse: dpo });
    expect(test.meanDifference).toBeCloseTo(0.0085, 9);
    expect(test.interval?.lower).toBeLessThan(0);
    expect(test.interval?.upper).toBeGreaterThan(0);
    expect(test.pValue).toBeGreaterThan(0.4);
    expect(test.pValue).toBeLessThan(0.6);
  });
});
