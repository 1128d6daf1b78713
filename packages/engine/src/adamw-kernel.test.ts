import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { AdamWKernel, adamWReferenceFloat32 } from "./adamw-kernel.js";

function buffers(length: number, seed: number) {
  const random = Random.fromSeed(seed);
  const fill = (scale: number, positive = false) =>
    Float32Array.from({ length }, () => {
      const value = random.nextNormal() * scale;
      return positive ? Math.abs(value) : value;
    });
  return {
    parameters: fill(0.05),
    gradients: fill(1e-3),
    firstMoment: fill(1e-4),
    secondMoment: fill(1e-7, true),
  };
}

describe("AdamW WebAssembly SIMD kernel", () => {
  const kernel = AdamWKernel.create();

  it("is available on this runtime (Node 20 has WebAssembly SIMD)", () => {
    expect(kernel).toBeDefined();
  });

  it("matches the float32 reference bit for bit over several blocks, a ragged tail and a sub-range", () => {
    // 40,003 elements: two full 16,384-element blocks, a partial one, and a length not divisible by 4.
    const length = 40_003;
    const scalars = {
      scale: 0.73,
      beta1: 0.9,
      beta2: 0.95,
      stepSize: 3e-4 / (1 - 0.9 ** 7),
      inverseCorrection2: 1 / Math.sqrt(1 - 0.95 ** 7),
      epsilon: 1e-8,
      decay: 1 - 3e-4 * 0.1,
    };
    for (const [start, end] of [
      [0, length],
      [5, 16_390],
      [17, 18],
    ] as const) {
      const simd = buffers(length, 1);
      const reference = buffers(length, 1);
      kernel!.update({ ...simd, start, end, scalars });
      adamWReferenceFloat32({ ...reference, start, end, scalars });
      for (const name of ["parameters", "firstMoment", "secondMoment"] as const) {
        const a = new Uint32Array(simd[name].buffer);
        const b = new Uint32Array(reference[name].buffer);
        let mismatches = 0;
        for (let index = 0; index < length; index += 1) if (a[index] !== b[index]) mismatches += 1;
        expect(mismatches, `${name} over [${start}, ${end})`).toBe(0);
      }
      // Elements outside the range are untouched.
      const untouched = buffers(length, 1);
      if (start > 0) expect(simd.parameters[start - 1]).toBe(untouched.parameters[start - 1]);
      if (end < length) expect(simd.parameters[end]).toBe(untouched.parameters[end]);
      expect(simd.parameters[start]).not.toBe(untouched.parameters[start]);
    }
  });
});
