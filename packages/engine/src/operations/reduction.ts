/** Reductions over axes, and the adjoint of broadcasting (sumToShape). See definition.ts for the row contract. */
import { type Dimension, dimensionsEqual, isConcrete, productOfDimensions } from "../dims.js";
import type { DataType } from "../graph.js";
import { requireFloat, shapeError } from "../graph-checks.js";
import { onnxDataTypes } from "../onnx-proto.js";
import { axesOf, defineOperations, int, normalizedAxes, reducedShape } from "./definition.js";

export const reductionOperations = defineOperations({
  reduceSum: {
    infer: ({ op, inputs, attributes }) => {
      const x = inputs[0]!;
      const axes = normalizedAxes(op, attributes["axes"] as readonly number[], x.rank);
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes, attributes["keepDimensions"] === true) }];
    },
    emit: (emitter, node) => {
      const x = node.inputs[0]!;
      const axes = normalizedAxes("reduceSum", axesOf(node), x.rank);
      emitter.one(
        "ReduceSum",
        [x.name, emitter.int64s(axes)],
        { keepdims: int(node.attributes["keepDimensions"] ? 1 : 0) },
        node.outputs[0]!.name,
      );
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      const x = node.inputs[0]!;
      if (dy === undefined) return [undefined];
      const axes = normalizedAxes("reduceSum", axesOf(node), x.rank);
      return [g.broadcastLike(g.reshape(dy, reducedShape(x.shape, axes, true)), x)];
    },
  },

  reduceMean: {
    infer: ({ op, inputs, attributes }) => {
      const x = inputs[0]!;
      requireFloat(op, inputs);
      const axes = normalizedAxes(op, attributes["axes"] as readonly number[], x.rank);
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes, attributes["keepDimensions"] === true) }];
    },
    emit: (emitter, node) => {
      const x = node.inputs[0]!;
      const axes = normalizedAxes("reduceMean", axesOf(node), x.rank);
      emitter.one(
        "ReduceMean",
        [x.name],
        { axes: { ints: axes }, keepdims: int(node.attributes["keepDimensions"] ? 1 : 0) },
        node.outputs[0]!.name,
      );
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      const x = node.inputs[0]!;
      if (dy === undefined) return [undefined];
      const axes = normalizedAxes("reduceMean", axesOf(node), x.rank);
      return [
        g.div(g.broadcastLike(g.reshape(dy, reducedShape(x.shape, axes, true)), x), g.elementCount(x, axes)),
      ];
    },
  },

  /** Σ x² over every element (a scalar), e.g. the squared global gradient norm. */
  sumOfSquares: {
    infer: ({ op, inputs }) => {
      requireFloat(op, inputs);
      return [{ dtype: inputs[0]!.dtype, shape: [] }];
    },
    emit: (emitter, node) => {
      const x = node.inputs[0]!;
      const axes = x.shape.map((_, axis) => axis);
      emitter.one(
        "ReduceSumSquare",
        [x.name],
        { axes: { ints: axes }, keepdims: int(0) },
        node.outputs[0]!.name,
      );
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      const x = node.inputs[0]!;
      return [dy && g.mul(g.mul(x, g.scalar(2, x.dtype)), dy)];
    },
  },

  sumToShape: {
    infer: ({ op, inputs, attributes }) => {
      const x = inputs[0]!;
      const target = attributes["shape"] as readonly Dimension[];
      const offset = x.rank - target.length;
      if (offset < 0) shapeError({ op, inputs, reason: `cannot sum to a higher rank ${target.length}` });
      target.forEach((value, index) => {
        const source = x.shape[index + offset]!;
        if (!dimensionsEqual(value, source) && !(isConcrete(value) && value.coefficient === 1)) {
          shapeError({
            op,
            inputs,
            reason: `axis ${index + offset} cannot be summed to ${value.coefficient}`,
          });
        }
      });
      return [{ dtype: x.dtype, shape: target }];
    },
    emit: (emitter, node) => {
      const x = node.inputs[0]!;
      const target = node.attributes["shape"] as readonly Dimension[];
      const offset = x.rank - target.length;
      const axes: number[] = [];
      x.shape.forEach((value, axis) => {
        if (axis < offset) axes.push(axis);
        else if (!dimensionsEqual(value, target[axis - offset]!)) axes.push(axis);
      });
      const summed = emitter.one("ReduceSum", [x.name, emitter.int64s(axes)], { keepdims: int(1) });
      emitter.one("Reshape", [summed, emitter.shapeTensor(target)], {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => [dy && g.broadcastLike(dy, node.inputs[0]!)],
  },

  elementCount: {
    infer: ({ op, inputs, attributes }) => {
      normalizedAxes(op, attributes["axes"] as readonly number[], inputs[0]!.rank);
      return [{ dtype: attributes["dtype"] as DataType, shape: [] }];
    },
    emit: (emitter, node) => {
      const x = node.inputs[0]!;
      const dtype = node.attributes["dtype"] as DataType;
      const axes = normalizedAxes("elementCount", axesOf(node), x.rank);
      const count = productOfDimensions(axes.map((axis) => x.shape[axis]!));
      if (isConcrete(count)) {
        emitter.one("Identity", [emitter.scalar(count.coefficient, dtype)], {}, node.outputs[0]!.name);
        return;
      }
      const value = emitter.dimensionValue(count);
      const squeezed = emitter.one("Reshape", [value, emitter.int64s([])]);
      emitter.one("Cast", [squeezed], { to: int(onnxDataTypes[dtype]) }, node.outputs[0]!.name);
    },
    gradient: "none",
  },
});
