import { describe, expect, it } from "vitest";
import { emitModel } from "./emit.js";
import { GraphBuilder } from "./graph.js";
import { sequenceLogProbs, tokenCrossEntropy } from "./losses.js";
import { compileGraph } from "./runtime.js";
import { checkGradients } from "./test/gradient-check.js";

const logProbValues = [-0.5, -1, -2, -0.25, -3, -0.1, -0.2, -4];
const maskValues = [0, 1, 1, 1, 0, 0, 1, 0];

describe("losses", () => {
  it("token cross-entropy (sum and mean over unmasked tokens) and per-sequence log-probs (sum and mean)", async () => {
    const graph = new GraphBuilder();
    const logProbs = graph.input({ name: "log_probs", dtype: "float32", shape: ["batch", "sequence"] });
    const mask = graph.input({ name: "mask", dtype: "float32", shape: ["batch", "sequence"] });
    const sequences = sequenceLogProbs({ graph, logProbs, mask });
    const outputs = {
      sum: tokenCrossEntropy({ graph, logProbs, mask, reduction: "sum" }),
      mean: tokenCrossEntropy({ graph, logProbs, mask, reduction: "mean" }),
      sequenceSum: sequences.sum,
      sequenceMean: sequences.mean,
    };
    const compiled = await compileGraph({ model: emitModel({ graph, outputs }), threads: 1 });
    const feeds = {
      log_probs: { data: Float32Array.from(logProbValues), dims: [2, 4] },
      mask: { data: Float32Array.from(maskValues), dims: [2, 4] },
    };
    const result = await compiled.run({ feeds });
    expect(result["sum"]!.data[0]).toBeCloseTo(3.45, 5); // 1 + 2 + 0.25 + 0.2
    expect(result["mean"]!.data[0]).toBeCloseTo(3.45 / 4, 5);
    expect(Array.from(result["sequenceSum"]!.data as Float32Array)).toEqual([-3.25, -0.2].map(Math.fround));
    expect(result["sequenceMean"]!.data[0]).toBeCloseTo(-3.25 / 3, 5);
    expect(result["sequenceMean"]!.data[1]).toBeCloseTo(-0.2, 5);
    const allMasked = await compiled.run({
      feeds: { ...feeds, mask: { data: new Float32Array(8), dims: [2, 4] } },
    });
    expect(allMasked["mean"]!.data[0]).toBe(0);
  });

  it("their gradients pass finite-difference checks", async () => {
    const inputs = { mask: { dtype: "float64" as const, dims: [2, 4], values: maskValues } };
    for (const build of [
      (graph: GraphBuilder, logProbs: never, mask: never) =>
        tokenCrossEntropy({ graph, logProbs, mask, reduction: "mean" }),
      (graph: GraphBuilder, logProbs: never, mask: never) => sequenceLogProbs({ graph, logProbs, mask }).mean,
    ]) {
      const result = await checkGradients({
        parameters: { logProbs: [2, 4] },
        inputs,
        build: ({ graph, parameters, inputs: fed }) =>
          build(graph, parameters["logProbs"] as never, fed["mask"] as never),
      });
      expect(result.worstRelativeError).toBeLessThan(1e-6);
    }
  });
});
