import { Random } from "@posttrain/core";
import type { Amount } from "./spec.js";

/** How many rows an amount asks for out of `sourceRows` (fractions round to the nearest row). */
export function targetRowCount(params: { amount: Amount | undefined; sourceRows: number }): number {
  const { amount, sourceRows } = params;
  if (amount === undefined) return sourceRows;
  return "rows" in amount ? amount.rows : Math.round(amount.fraction * sourceRows);
}

/**
 * A mixture plan for one source: `copies[i]` is how many times row `i` is emitted (rows are
 * emitted in file order, each repeated `copies[i]` times, so the source can be streamed).
 * For a target of `n` rows out of `m`: every row is taken `floor(n / m)` times and the
 * remaining `n mod m` rows are drawn without replacement with the seed's stream named
 * after the source. A target below `m` thus samples rows; above it, upsamples.
 */
export interface SourcePlan {
  name: string;
  sourceRows: number;
  targetRows: number;
  copies: Uint16Array;
}

export function planSource(params: {
  name: string;
  sourceRows: number;
  amount: Amount | undefined;
  seed: number;
}): SourcePlan {
  const { name, sourceRows } = params;
  const targetRows = targetRowCount({ amount: params.amount, sourceRows });
  const copies = new Uint16Array(sourceRows);
  if (sourceRows === 0) return { name, sourceRows, targetRows: 0, copies };
  const whole = Math.floor(targetRows / sourceRows);
  const remainder = targetRows - whole * sourceRows;
  copies.fill(whole);
  if (remainder > 0) {
    const random = Random.fromSeed(params.seed).stream("mixture").stream(name);
    // Partial Fisher–Yates: the first `remainder` slots of a seeded shuffle of 0..m-1.
    const pool = Int32Array.from({ length: sourceRows }, (_, index) => index);
    for (let slot = 0; slot < remainder; slot += 1) {
      const other = slot + random.nextInt(sourceRows - slot);
      const chosen = pool[other]!;
      pool[other] = pool[slot]!;
      pool[slot] = chosen;
      copies[chosen]! += 1;
    }
  }
  return { name, sourceRows, targetRows, copies };
}

/** The emitted source-row indices of a plan, in order (for tests and small sources). */
export function plannedRowIndices(plan: SourcePlan): number[] {
  const indices: number[] = [];
  plan.copies.forEach((count, index) => {
    for (let copy = 0; copy < count; copy += 1) indices.push(index);
  });
  return indices;
}
