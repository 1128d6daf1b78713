import { describe, expect, it } from "vitest";
import { checkGradients, type GradientCheckCase } from "./test/gradient-check.js";

// One finite-difference check (float64, central differences) per gradient rule in the op table.
const cases: Record<string, GradientCheckCase & { tolerance?: number }> = {
  add: { parameters: { a: [2, 3], b: [3] }, build: ({ graph, parameters: p }) => graph.add(p.a!, p.b!) },
  sub: { parameters: { a: [2, 1], b: [2, 3] }, build: ({ graph, parameters: p }) => graph.sub(p.a!, p.b!) },
  mul: { parameters: { a: [2, 3], b: [1, 3] }, build: ({ graph, parameters: p }) => graph.mul(p.a!, p.b!) },
  div: {
    parameters: { a: [2, 3], b: [3] },
    shift: 3,
    build: ({ graph, parameters: p }) => graph.div(p.a!, p.b!),
  },
  maximum: {
    parameters: { a: [2, 3], b: [2, 3] },
    build: ({ graph, parameters: p }) => graph.maximum(p.a!, p.b!),
  },
  "fan-out": {
    parameters: { a: [2, 3] },
    build: ({ graph, parameters: p }) => graph.mul(graph.add(p.a!, graph.exp(p.a!)), p.a!),
  },
  neg: { parameters: { a: [4] }, build: ({ graph, parameters: p }) => graph.neg(p.a!) },
  exp: { parameters: { a: [4] }, build: ({ graph, parameters: p }) => graph.exp(p.a!) },
  log: { parameters: { a: [4] }, shift: 4, build: ({ graph, parameters: p }) => graph.log(p.a!) },
  sqrt: { parameters: { a: [4] }, shift: 4, build: ({ graph, parameters: p }) => graph.sqrt(p.a!) },
  reciprocal: {
    parameters: { a: [4] },
    shift: 4,
    build: ({ graph, parameters: p }) => graph.reciprocal(p.a!),
  },
  sigmoid: { parameters: { a: [4] }, build: ({ graph, parameters: p }) => graph.sigmoid(p.a!) },
  tanh: { parameters: { a: [4] }, build: ({ graph, parameters: p }) => graph.tanh(p.a!) },
  cos: { parameters: { a: [4] }, build: ({ graph, parameters: p }) => graph.cos(p.a!) },
  sin: { parameters: { a: [4] }, build: ({ graph, parameters: p }) => graph.sin(p.a!) },
  cast: {
    parameters: { a: [3] },
    step: 0.25, // the function is linear; a large step keeps float32 rounding out of the difference
    tolerance: 1e-5,
    build: ({ graph, parameters: p }) =>
      graph.cast(graph.mul(graph.cast(p.a!, "float32"), graph.scalar(2, "float32")), "float64"),
  },
  where: {
    parameters: { a: [2, 3], b: [3] },
    inputs: { condition: { dtype: "bool", dims: [2, 3], values: [1, 0, 1, 0, 0, 1] } },
    build: ({ graph, parameters: p, inputs }) => graph.where(inputs.condition!, p.a!, p.b!),
  },
  matMul: {
    parameters: { a: [2, 1, 3, 4], b: [3, 4, 2] },
    build: ({ graph, parameters: p }) => graph.matMul(p.a!, p.b!),
  },
  gemm: { parameters: { a: [3, 4], b: [4, 2] }, build: ({ graph, parameters: p }) => graph.gemm(p.a!, p.b!) },
  "gemm transposed": {
    parameters: { a: [4, 3], b: [2, 4] },
    build: ({ graph, parameters: p }) => graph.gemm(p.a!, p.b!, { transposeA: true, transposeB: true }),
  },
  linear: {
    parameters: { x: [2, 3, 4], w: [5, 4] },
    build: ({ graph, parameters: p }) => graph.linear(p.x!, p.w!, { transposeWeight: true }),
  },
  reshape: {
    parameters: { a: [2, 6] },
    build: ({ graph, parameters: p }) => graph.mul(graph.reshape(p.a!, [3, 4]), graph.reshape(p.a!, [3, 4])),
  },
  transpose: {
    parameters: { a: [2, 3, 4] },
    build: ({ graph, parameters: p }) => graph.exp(graph.transpose(p.a!, [2, 0, 1])),
  },
  concat: {
    parameters: { a: [2, 3], b: [2, 2] },
    build: ({ graph, parameters: p }) => graph.exp(graph.concat([p.a!, p.b!], 1)),
  },
  slice: {
    parameters: { a: [2, 6] },
    build: ({ graph, parameters: p }) => graph.exp(graph.slice(p.a!, { axis: 1, start: 1, end: 4 })),
  },
  reduceSum: {
    parameters: { a: [2, 3, 4] },
    build: ({ graph, parameters: p }) => graph.exp(graph.reduceSum(p.a!, { axes: [0, 2] })),
  },
  reduceMean: {
    parameters: { a: [2, 3, 4] },
    build: ({ graph, parameters: p }) =>
      graph.exp(graph.reduceMean(p.a!, { axes: [-1], keepDimensions: true })),
  },
  sumOfSquares: { parameters: { a: [2, 3] }, build: ({ graph, parameters: p }) => graph.sumOfSquares(p.a!) },
  embedding: {
    parameters: { table: [5, 3] },
    inputs: { ids: { dtype: "int64", dims: [2, 3], values: [0, 4, 4, 2, 0, 1] } },
    build: ({ graph, parameters: p, inputs }) => graph.embedding(p.table!, inputs.ids!),
  },
  softmax: { parameters: { a: [2, 5] }, build: ({ graph, parameters: p }) => graph.softmax(p.a!) },
  logSoftmax: { parameters: { a: [2, 5] }, build: ({ graph, parameters: p }) => graph.logSoftmax(p.a!) },
  attention: {
    // 2 sequences, 2 key/value heads each shared by 2 query heads, 3 positions, width 4; causal bias.
    parameters: { q: [2, 2, 2, 3, 4], k: [2, 2, 1, 3, 4], v: [2, 2, 1, 3, 4] },
    inputs: {
      bias: {
        dtype: "float64",
        dims: [2, 1, 1, 3, 3],
        values: [0, -1e9, -1e9, 0, 0, -1e9, 0, 0, 0, 0, -1e9, -1e9, 0, 0, -1e9, 0, 0, 0],
      },
    },
    build: ({ graph, parameters: p, inputs }) => graph.attention(p.q!, p.k!, p.v!, inputs.bias!),
  },
  rmsNorm: {
    parameters: { x: [2, 3, 4], w: [4] },
    build: ({ graph, parameters: p }) => graph.rmsNorm(p.x!, p.w!, 1e-5),
  },
  swiglu: {
    parameters: { gate: [2, 4], up: [2, 4] },
    build: ({ graph, parameters: p }) => graph.swiglu(p.gate!, p.up!),
  },
  rope: {
    parameters: { x: [2, 3, 4] },
    inputs: {
      angle: { dtype: "float64", dims: [3, 4], values: [0, 0, 0, 0, 1, 0.1, 1, 0.1, 2, 0.2, 2, 0.2] },
    },
    build: ({ graph, parameters: p, inputs }) =>
      graph.rope(p.x!, graph.cos(inputs.angle!), graph.sin(inputs.angle!)),
  },
  tokenLogProbs: {
    parameters: { logits: [2, 3, 5] },
    inputs: { targets: { dtype: "int64", dims: [2, 3], values: [0, 4, 2, 1, 1, 3] } },
    build: ({ graph, parameters: p, inputs }) => graph.tokenLogProbs(p.logits!, inputs.targets!),
  },
  chunkedTokenLogProbs: {
    parameters: { hidden: [5, 3], weight: [3, 7] },
    inputs: { targets: { dtype: "int64", dims: [5], values: [0, 6, 2, 1, 3] } },
    build: ({ graph, parameters: p, inputs }) =>
      graph.chunkedTokenLogProbs(p.hidden!, p.weight!, inputs.targets!, { chunks: 2 }),
  },
  "chunkedTokenLogProbs tied, more chunks than rows": {
    parameters: { hidden: [3, 4], embedding: [6, 4] },
    inputs: { targets: { dtype: "int64", dims: [3], values: [5, 0, 2] } },
    build: ({ graph, parameters: p, inputs }) =>
      graph.chunkedTokenLogProbs(p.hidden!, p.embedding!, inputs.targets!, {
        chunks: 4,
        transposeWeight: true,
      }),
  },
};

describe("gradient rules (finite differences, float64)", () => {
  for (const [name, testCase] of Object.entries(cases)) {
    it(name, async () => {
      const result = await checkGradients(testCase);
      expect(result.checkedElements).toBeGreaterThan(0);
      expect(result.worstRelativeError, result.worstParameter).toBeLessThan(testCase.tolerance ?? 1e-6);
    });
  }
});
