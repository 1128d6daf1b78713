import { describe, expect, it } from "vitest";
import { plannedRowIndices, planSource, targetRowCount } from "./mixing.js";

describe("mixture plans", () => {
  it("takes explicit row counts and fractions", () => {
    expect(targetRowCount({ amount: { rows: 7 }, sourceRows: 100 })).toBe(7);
    expect(targetRowCount({ amount: { fraction: 0.25 }, sourceRows: 10 })).toBe(3);
    expect(targetRowCount({ amount: { fraction: 2.5 }, sourceRows: 10 })).toBe(25);
    expect(targetRowCount({ amount: undefined, sourceRows: 10 })).toBe(10);
  });

  it("samples by rows reproducibly with the seed, in file order", () => {
    const first = plannedRowIndices(planSource({ name: "a", sourceRows: 50, amount: { rows: 10 }, seed: 1 }));
    const again = plannedRowIndices(planSource({ name: "a", sourceRows: 50, amount: { rows: 10 }, seed: 1 }));
    const other = plannedRowIndices(planSource({ name: "a", sourceRows: 50, amount: { rows: 10 }, seed: 2 }));
    expect(first).toEqual(again);
    expect(first).not.toEqual(other);
    expect(first).toHaveLength(10);
    expect(new Set(first).size).toBe(10);
    expect([...first].sort((a, b) => a - b)).toEqual(first);
  });

  it("upsamples by fraction: whole copies plus a seeded remainder", () => {
    const plan = planSource({ name: "b", sourceRows: 10, amount: { fraction: 2.3 }, seed: 42 });
    expect(plan.targetRows).toBe(23);
    const counts = [...plan.copies];
    expect(counts.reduce((a, b) => a + b, 0)).toBe(23);
    expect(counts.every((count) => count === 2 || count === 3)).toBe(true);
    expect(counts.filter((count) => count === 3)).toHaveLength(3);
    expect([
      ...planSource({ name: "b", sourceRows: 10, amount: { fraction: 2.3 }, seed: 42 }).copies,
    ]).toEqual(counts);
    expect([
      ...planSource({ name: "c", sourceRows: 10, amount: { fraction: 2.3 }, seed: 42 }).copies,
    ]).not.toEqual(counts);
  });
});
