import { describe, expect, it } from "vitest";
import { Random } from "./random.js";

const draw = (random: Random, count: number) => Array.from({ length: count }, () => random.nextUint32());

describe("Random", () => {
  it("gives the same draws for the same seed", () => {
    expect(draw(Random.fromSeed(42), 100)).toEqual(draw(Random.fromSeed(42), 100));
    expect(draw(Random.fromSeed(42), 10)).not.toEqual(draw(Random.fromSeed(43), 10));
    expect(draw(Random.fromSeed("42"), 10)).not.toEqual(draw(Random.fromSeed(42), 10));
  });

  it("matches golden values, so every machine draws the same numbers", () => {
    // Recorded once from this implementation; integer arithmetic only, so any change
    // here means recipes would silently draw different data.
    expect(draw(Random.fromSeed(1), 4)).toEqual(GOLDEN_SEED_1);
    expect(Random.fromSeed(1).stream("sft").nextFloat()).toBe(GOLDEN_SFT_FLOAT);
  });

  it("derives named streams independent of draws and creation order", () => {
    const first = Random.fromSeed(7);
    const sftBefore = draw(first.stream("sft"), 5);
    draw(first, 1000); // drawing from the parent does not move its children
    const dpo = first.stream("dpo");
    expect(draw(first.stream("sft"), 5)).toEqual(sftBefore);
    expect(draw(dpo, 5)).not.toEqual(sftBefore);
    const second = Random.fromSeed(7);
    const dpoFirst = draw(second.stream("dpo"), 5);
    expect(draw(second.stream("sft"), 5)).toEqual(sftBefore);
    expect(dpoFirst).toEqual(draw(Random.fromSeed(7).stream("dpo"), 5));
    expect(draw(first.stream("sft").stream("worker-0"), 3)).not.toEqual(
      draw(first.stream("sft").stream("worker-1"), 3),
    );
  });

  it("streams are statistically uncorrelated", () => {
    const a = Random.fromSeed(3).stream("a");
    const b = Random.fromSeed(3).stream("b");
    const n = 20000;
    let sumA = 0;
    let sumB = 0;
    let sumAB = 0;
    let sumAA = 0;
    let sumBB = 0;
    for (let index = 0; index < n; index += 1) {
      const x = a.nextFloat();
      const y = b.nextFloat();
      sumA += x;
      sumB += y;
      sumAB += x * y;
      sumAA += x * x;
      sumBB += y * y;
    }
    const covariance = sumAB / n - (sumA / n) * (sumB / n);
    const correlation = covariance / Math.sqrt((sumAA / n - (sumA / n) ** 2) * (sumBB / n - (sumB / n) ** 2));
    expect(Math.abs(correlation)).toBeLessThan(0.03);
    expect(sumA / n).toBeCloseTo(0.5, 1);
  });

  it("restores from saved state and continues identically", () => {
    const random = Random.fromSeed(11).stream("rlvr");
    draw(random, 17);
    const saved = JSON.parse(JSON.stringify(random.getState()));
    const expected = draw(random, 50);
    expect(draw(Random.fromState(saved), 50)).toEqual(expected);
  });

  it("draws unbiased bounded integers, floats in [0,1) and permutations", () => {
    const random = Random.fromSeed(5);
    const counts = [0, 0, 0];
    for (let index = 0; index < 30000; index += 1) counts[random.nextInt(3)]! += 1;
    for (const count of counts) expect(Math.abs(count - 10000)).toBeLessThan(500);
    for (let index = 0; index < 1000; index += 1) {
      const value = random.nextFloat();
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
    expect([...random.permutation(50)].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    expect(() => random.nextInt(0)).toThrow("bound");
    expect(() => Random.fromSeed(1.5)).toThrow("seed");
  });
});

const GOLDEN_SEED_1 = [1943836609, 3999746163, 2945588927, 3993937298];
const GOLDEN_SFT_FLOAT = 0.33524309399394026;
