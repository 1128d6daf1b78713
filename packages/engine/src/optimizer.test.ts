import { describe, expect, it } from "vitest";
import { AdamW, clipFactor, globalGradientNorm } from "./optimizer.js";
import { ParameterLayout } from "./parameters.js";

describe("AdamW over a flat buffer", () => {
  it("matches the torch.optim.AdamW update written out in float64, skipping decay for 1-D tensors", () => {
    const layout = new ParameterLayout([
      { name: "matrix", shape: [2, 2] },
      { name: "gain", shape: [3] },
    ]);
    expect(layout.entry("gain").offset).toBe(16);
    const parameters = new Float32Array(layout.length);
    parameters.set([0.5, -1, 2, 0.25], 0);
    parameters.set([1, 1, 1], 16);
    const initial = Float64Array.from(parameters);
    const optimizer = new AdamW({
      layout,
      options: { beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1 },
    });
    const gradients = new Float32Array(layout.length);
    const reference = Float64Array.from(initial);
    const m = new Float64Array(layout.length);
    const v = new Float64Array(layout.length);
    for (let step = 1; step <= 3; step += 1) {
      for (let index = 0; index < gradients.length; index += 1) gradients[index] = Math.sin(index + step);
      optimizer.update({ parameters, gradients, learningRate: 0.01, gradientScale: 0.5 });
      for (const entry of layout.entries) {
        for (let index = entry.offset; index < entry.offset + entry.size; index += 1) {
          const g = Math.fround(gradients[index]!) * 0.5;
          if (entry.shape.length > 1) reference[index] = reference[index]! * (1 - 0.01 * 0.1);
          m[index] = 0.9 * m[index]! + 0.1 * g;
          v[index] = 0.99 * v[index]! + 0.01 * g * g;
          const denominator = Math.sqrt(v[index]!) / Math.sqrt(1 - 0.99 ** step) + 1e-8;
          reference[index] = reference[index]! - ((0.01 / (1 - 0.9 ** step)) * m[index]!) / denominator;
        }
      }
    }
    for (const entry of layout.entries) {
      for (let index = entry.offset; index < entry.offset + entry.size; index += 1) {
        expect(parameters[index]).toBeCloseTo(reference[index]!, 5);
      }
    }
    expect(optimizer.state.step).toBe(3);
  });

  it("computes the global norm and torch's clip factor", () => {
    expect(globalGradientNorm(Float32Array.from([3, 4]))).toBe(5);
    expect(clipFactor({ norm: 5, maxNorm: 1 })).toBeCloseTo(0.2, 6);
    expect(clipFactor({ norm: 0.5, maxNorm: 1 })).toBe(1);
    expect(clipFactor({ norm: 5, maxNorm: undefined })).toBe(1);
  });
});
