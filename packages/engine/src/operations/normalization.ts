/** Softmax, log-softmax and RMSNorm, each with its fused backward op. See definition.ts for the row contract. */
import { dimension, dimensionsEqual } from "../dims.js";
import type { GraphTensor } from "../graph.js";
import { requireFloat, requireSameDtype, shapeError } from "../graph-checks.js";
import { defineOperations, int, names } from "./definition.js";

export const normalizationOperations = defineOperations({
  softmax: {
    infer: ({ op, inputs }) => {
      requireFloat(op, inputs);
      return [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }];
    },
    emit: (emitter, node) => {
      emitter.one("Softmax", names(node.inputs), { axis: int(-1) }, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => [
      dy && g.apply("softmaxBackward", [node.outputs[0]!, dy])[0],
    ],
  },

  /** `y · (dy − Σ dy·y)` over the last axis. */
  softmaxBackward: {
    infer: ({ inputs }) => [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }],
    emit: (emitter, node) => {
      const [y, dy] = names(node.inputs) as [string, string];
      const product = emitter.one("Mul", [dy, y]);
      const total = emitter.one("ReduceSum", [product, emitter.int64s([-1])], { keepdims: int(1) });
      const centered = emitter.one("Sub", [dy, total]);
      emitter.one("Mul", [centered, y], {}, node.outputs[0]!.name);
    },
  },

  logSoftmax: {
    infer: ({ op, inputs }) => {
      requireFloat(op, inputs);
      return [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }];
    },
    emit: (emitter, node) => {
      emitter.one("LogSoftmax", names(node.inputs), { axis: int(-1) }, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => [
      dy && g.apply("logSoftmaxBackward", [node.outputs[0]!, dy])[0],
    ],
  },

  /** `dy − exp(y) · Σ dy` over the last axis. */
  logSoftmaxBackward: {
    infer: ({ inputs }) => [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }],
    emit: (emitter, node) => {
      const [y, dy] = names(node.inputs) as [string, string];
      const total = emitter.one("ReduceSum", [dy, emitter.int64s([-1])], { keepdims: int(1) });
      const probabilities = emitter.one("Exp", [y]);
      const scaled = emitter.one("Mul", [probabilities, total]);
      emitter.one("Sub", [dy, scaled], {}, node.outputs[0]!.name);
    },
  },

  rmsNorm: {
    infer: ({ op, inputs }) => {
      const [x, weight] = inputs as [GraphTensor, GraphTensor];
      requireFloat(op, inputs);
      requireSameDtype(op, inputs);
      if (weight.rank !== 1 || !dimensionsEqual(weight.shape[0]!, x.shape[x.rank - 1]!)) {
        shapeError({ op, inputs, reason: "the weight must be 1-D and match the last axis" });
      }
      return [
        { dtype: x.dtype, shape: x.shape },
        { dtype: x.dtype, shape: [...x.shape.slice(0, -1), dimension(1)] },
      ];
    },
    emit: (emitter, node) => {
      const [x, weight] = names(node.inputs) as [string, string];
      const [y, inverseRms] = node.outputs as [GraphTensor, GraphTensor];
      const square = emitter.one("Mul", [x, x]);
      const mean = emitter.one("ReduceMean", [square], { axes: { ints: [-1] }, keepdims: int(1) });
      const shifted = emitter.one("Add", [
        mean,
        emitter.scalar(node.attributes["epsilon"] as number, y.dtype),
      ]);
      const root = emitter.one("Sqrt", [shifted]);
      emitter.one("Reciprocal", [root], {}, inverseRms.name);
      const normalized = emitter.one("Mul", [x, inverseRms.name]);
      emitter.one("Mul", [normalized, weight], {}, y.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => {
      if (dy === undefined) return [undefined, undefined];
      const [x, weight] = node.inputs as [GraphTensor, GraphTensor];
      const [dx, dweight] = g.apply("rmsNormBackward", [x, weight, node.outputs[1]!, dy]);
      return [dx, dweight];
    },
  },

  /**
   * x̂ = x·r (r = 1/rms), g = dy·w: dx = r·(g − x̂·mean(g·x̂)), dw = Σ_rows dy·x̂.
   */
  rmsNormBackward: {
    infer: ({ inputs }) => [
      { dtype: inputs[0]!.dtype, shape: inputs[0]!.shape },
      { dtype: inputs[1]!.dtype, shape: inputs[1]!.shape },
    ],
    emit: (emitter, node) => {
      const [x, weight, inverseRms, dy] = names(node.inputs) as [string, string, string, string];
      const [dx, dweight] = node.outputs as [GraphTensor, GraphTensor];
      const rank = node.inputs[0]!.rank;
      const normalized = emitter.one("Mul", [x, inverseRms]);
      const scaled = emitter.one("Mul", [dy, weight]);
      const dot = emitter.one("ReduceMean", [emitter.one("Mul", [scaled, normalized])], {
        axes: { ints: [-1] },
        keepdims: int(1),
      });
      const difference = emitter.one("Sub", [scaled, emitter.one("Mul", [normalized, dot])]);
      emitter.one("Mul", [difference, inverseRms], {}, dx.name);
      const rows = Array.from({ length: rank - 1 }, (_, axis) => axis);
      emitter.one(
        "ReduceSum",
        [emitter.one("Mul", [dy, normalized]), emitter.int64s(rows)],
        { keepdims: int(0) },
        dweight.name,
      );
    },
  },
});
