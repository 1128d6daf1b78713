import { describe, expect, it } from "vitest";
import { gradients } from "./autodiff.js";
import { multiplyDimensions } from "./dims.js";
import { emitModel } from "./emit.js";
import { ExecutionProviderError } from "./errors.js";
import { GraphBuilder } from "./graph.js";
import { decodeModel } from "./onnx-proto.js";
import { availableExecutionProviders, compileGraph } from "./runtime.js";

describe("GraphBuilder shape inference", () => {
  it("broadcasts symbolic dimensions and names the op and both shapes on mismatch", () => {
    const graph = new GraphBuilder();
    const x = graph.input({ name: "x", dtype: "float32", shape: ["batch", "sequence", 4] });
    const y = graph.input({ name: "y", dtype: "float32", shape: ["sequence", 1] });
    expect(graph.add(x, y).describe()).toMatch(/\[batch, sequence, 4\]/);
    const z = graph.input({ name: "z", dtype: "float32", shape: ["batch", 3] });
    expect(() => graph.mul(x, z)).toThrowError(
      /mul: shapes do not broadcast.*x: float32\[batch, sequence, 4\].*z: float32\[batch, 3\]/,
    );
  });

  it("checks matMul inner dimensions, reshape element counts and dtypes", () => {
    const graph = new GraphBuilder();
    const a = graph.input({ name: "a", dtype: "float32", shape: ["batch", 2, 3] });
    const b = graph.parameter({ name: "b", shape: [4, 5] });
    expect(() => graph.matMul(a, b)).toThrowError(/matMul: inner dimensions differ/);
    expect(() => graph.reshape(a, [6])).toThrowError(/reshape: cannot reshape/);
    const flat = graph.reshape(a, [
      multiplyDimensions({ coefficient: 2, symbols: [] }, { coefficient: 1, symbols: ["batch"] }),
      3,
    ]);
    expect(flat.describe()).toContain("[2*batch, 3]");
    const ids = graph.input({ name: "ids", dtype: "int64", shape: [3] });
    expect(() => graph.add(a, ids)).toThrowError(/dtypes differ/);
  });

  it("emits opset 17 with symbolic input dimensions, and one session serves every shape", async () => {
    const graph = new GraphBuilder();
    const x = graph.input({ name: "x", dtype: "float32", shape: ["batch", "sequence", 2] });
    const w = graph.parameter({ name: "w", shape: [2, 3] });
    const y = graph.linear(x, w);
    const loss = graph.reduceSum(graph.mul(y, y), { axes: [0, 1, 2] });
    const [gw] = gradients({ graph, loss, parameters: [w] });
    const model = emitModel({ graph, outputs: { y, gw: gw! } });
    const decoded = decodeModel(model.bytes) as {
      opsetImport: { version: number }[];
      graph: { input: unknown[] };
    };
    expect(decoded.opsetImport[0]!.version).toBe(17);
    expect(JSON.stringify(decoded.graph.input)).toContain('"dimParam":"batch"');
    const compiled = await compileGraph({ model, threads: 1 });
    const weights = Float32Array.from([1, 2, 3, 4, 5, 6]);
    for (const [batch, sequence] of [
      [1, 1],
      [2, 3],
    ] as const) {
      const data = Float32Array.from({ length: batch * sequence * 2 }, (_, index) => index);
      const result = await compiled.run({
        feeds: { x: { data, dims: [batch, sequence, 2] }, w: { data: weights, dims: [2, 3] } },
      });
      expect(result["y"]!.dims).toEqual([batch, sequence, 3]);
      // y[0] = x[0]·w for x[0] = [0, 1]: [4, 5, 6]
      expect(Array.from(result["y"]!.data as Float32Array).slice(0, 3)).toEqual([4, 5, 6]);
    }
  });

  it("rejects gradients through an op without a rule, and returns zeros for unused parameters", () => {
    const graph = new GraphBuilder();
    const w = graph.parameter({ name: "w", shape: [3] });
    const unused = graph.parameter({ name: "unused", shape: [2] });
    const loss = graph.reduceSum(graph.exp(w), { axes: [0] });
    const [gw, gunused] = gradients({ graph, loss, parameters: [w, unused] });
    expect(gw!.shape.map((value) => value.coefficient)).toEqual([3]);
    expect(gunused!.producer?.op).toBe("zeros");
    const softmax = graph.softmax(w);
    const backward = graph.apply("softmaxBackward", [softmax, w])[0]!;
    expect(() =>
      gradients({ graph, loss: graph.reduceSum(backward, { axes: [0] }), parameters: [w] }),
    ).toThrowError(/softmaxBackward has no gradient rule/);
  });
});

describe("execution providers", () => {
  it("lists cpu and refuses a provider whose libraries are not installed", async () => {
    expect(availableExecutionProviders()).toContain("cpu");
    if (availableExecutionProviders().includes("cuda")) return; // a CUDA-enabled install: nothing to refuse
    const graph = new GraphBuilder();
    const x = graph.input({ name: "x", dtype: "float32", shape: [2] });
    const model = emitModel({ graph, outputs: { y: graph.exp(x) } });
    await expect(compileGraph({ model, executionProvider: "cuda" })).rejects.toSatisfy((error: unknown) =>
      ExecutionProviderError.hasCode(error, "execution_provider_unavailable"),
    );
  });
});
