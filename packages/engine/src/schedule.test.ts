import { describe, expect, it } from "vitest";
import { learningRateAt, warmupSteps } from "./schedule.js";

describe("learning-rate schedules", () => {
  it("warms up linearly by ratio or steps", () => {
    expect(warmupSteps({ kind: "linear", peak: 1, totalSteps: 100, warmup: { ratio: 0.03 } })).toBe(3);
    const schedule = { kind: "constant", peak: 2e-5, totalSteps: 10, warmup: { steps: 4 } } as const;
    expect([0, 1, 2, 4, 9].map((step) => learningRateAt({ schedule, step }))).toEqual([
      0, 5e-6, 1e-5, 2e-5, 2e-5,
    ]);
  });

  it("decays linearly and with a cosine to zero at totalSteps", () => {
    const linear = { kind: "linear", peak: 1, totalSteps: 12, warmup: { steps: 2 } } as const;
    expect(learningRateAt({ schedule: linear, step: 2 })).toBe(1);
    expect(learningRateAt({ schedule: linear, step: 7 })).toBeCloseTo(0.5, 12);
    expect(learningRateAt({ schedule: linear, step: 12 })).toBe(0);
    const cosine = { kind: "cosine", peak: 1, totalSteps: 10 } as const;
    expect(learningRateAt({ schedule: cosine, step: 0 })).toBe(1);
    expect(learningRateAt({ schedule: cosine, step: 5 })).toBeCloseTo(0.5, 12);
    expect(learningRateAt({ schedule: cosine, step: 10 })).toBeCloseTo(0, 12);
  });

  it("names invalid fields", () => {
    expect(() =>
      learningRateAt({ schedule: { kind: "cosine", peak: 1, totalSteps: 0 }, step: 0 }),
    ).toThrowError(/totalSteps/);
  });
});
