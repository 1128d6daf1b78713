import { describe, expect, it } from "vitest";
import {
  bootstrapConfidenceInterval,
  estimateMacroMetric,
  macroAverage,
  meanWithStandardError,
  passAtK,
} from "./metrics.js";

/** Exact 1 − C(n−c, k)/C(n, k) with BigInt binomials, as a reference. */
function binomial(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let result = 1n;
  for (let i = 1; i <= k; i += 1) result = (result * BigInt(n - k + i)) / BigInt(i);
  return result;
}
function exactPassAtK(n: number, c: number, k: number): number {
  const numerator = binomial(n - c, k);
  const denominator = binomial(n, k);
  // Scale to keep 15 significant digits.
  const scaled = (numerator * 10n ** 15n) / denominator;
  return 1 - Number(scaled) / 1e15;
}

describe("passAtK", () => {
  it("matches hand-computed values", () => {
    expect(passAtK({ samples: 5, correct: 2, k: 1 })).toBeCloseTo(0.4, 12);
    expect(passAtK({ samples: 5, correct: 2, k: 2 })).toBeCloseTo(0.7, 12);
    expect(passAtK({ samples: 20, correct: 0, k: 10 })).toBe(0);
    expect(passAtK({ samples: 20, correct: 11, k: 10 })).toBe(1);
  });

  it("agrees with exact binomials for large n (no overflow)", () => {
    for (const [n, c, k] of [
      [200, 1, 100],
      [200, 7, 10],
      [1000, 3, 500],
      [20, 5, 10],
    ] as const) {
      expect(passAtK({ samples: n, correct: c, k })).toBeCloseTo(exactPassAtK(n, c, k), 10);
    }
    expect(passAtK({ samples: 200, correct: 1, k: 100 })).toBeCloseTo(0.5, 12);
  });

  it("rejects k > n and impossible counts", () => {
    expect(() => passAtK({ samples: 5, correct: 1, k: 10 })).toThrow(/at least 10 samples/);
    expect(() => passAtK({ samples: 5, correct: 6, k: 1 })).toThrow(/correct/);
  });
});

describe("meanWithStandardError", () => {
  it("uses the sample standard deviation", () => {
    const estimate = meanWithStandardError({ values: [1, 0, 1, 1] });
    expect(estimate.value).toBe(0.75);
    // s² = (3·0.0625 + 0.5625)/3 = 0.25; SE = √(0.25/4) = 0.25
    expect(estimate.standardError).toBeCloseTo(0.25, 12);
    expect(meanWithStandardError({ values: [] })).toEqual({ value: 0, standardError: null, count: 0 });
    expect(meanWithStandardError({ values: [1] }).standardError).toBeNull();
  });
});

describe("bootstrapConfidenceInterval", () => {
  const values = Array.from({ length: 200 }, (_, index) => (index % 10 < 7 ? 1 : 0));

  it("is deterministic for a seed and changes with it", () => {
    const first = bootstrapConfidenceInterval({ values, seed: 3 });
    expect(bootstrapConfidenceInterval({ values, seed: 3 })).toEqual(first);
    expect(bootstrapConfidenceInterval({ values, seed: 4 })).not.toEqual(first);
  });

  it("brackets the mean with about ±1.96 standard errors", () => {
    const interval = bootstrapConfidenceInterval({ values, seed: 1, resamples: 2000 });
    const { standardError } = meanWithStandardError({ values });
    expect(interval.lower).toBeLessThan(0.7);
    expect(interval.upper).toBeGreaterThan(0.7);
    const halfWidth = (interval.upper - interval.lower) / 2;
    expect(halfWidth).toBeGreaterThan(1.6 * (standardError as number));
    expect(halfWidth).toBeLessThan(2.3 * (standardError as number));
  });

  it("is degenerate for constant scores", () => {
    expect(bootstrapConfidenceInterval({ values: [1, 1, 1], seed: 0 })).toMatchObject({ lower: 1, upper: 1 });
  });
});

describe("macro averages", () => {
  it("weights groups equally", () => {
    const groups = new Map([
      ["algebra", [1, 1, 1, 1]],
      ["geometry", [0, 0]],
    ]);
    expect(macroAverage({ groups })).toBe(0.5);
    const estimate = estimateMacroMetric({ groups, seed: 0 });
    expect(estimate.value).toBe(0.5);
    expect(estimate.count).toBe(6);
    expect(estimate.standardError).toBe(0);
  });
});
