/** Shape ops: views, permutations, joins, slices and broadcasts; no arithmetic. See definition.ts for the row contract. */
import { type Dimension, dimension, dimensionsEqual, isConcrete, productOfDimensions } from "../dims.js";
import type { DataType, GraphTensor } from "../graph.js";
import { broadcastShapes, normalizeAxis, requireSameDtype, shapeError } from "../graph-checks.js";
import { defineOperations, int, names } from "./definition.js";

export const shapeOperations = defineOperations({
  reshape: {
    infer: ({ op, inputs, attributes }) => {
      const shape = attributes["shape"] as readonly Dimension[];
      if (!dimensionsEqual(productOfDimensions(shape), productOfDimensions(inputs[0]!.shape))) {
        shapeError({
          op,
          inputs,
          reason: `cannot reshape to [${shape.map((d) => d.symbols.join("*") || d.coefficient).join(", ")}]`,
        });
      }
      return [{ dtype: inputs[0]!.dtype, shape }];
    },
    emit: (emitter, node) => {
      const x = node.inputs[0]!;
      const target = emitter.shapeTensor(node.attributes["shape"] as readonly Dimension[], x.shape);
      emitter.one("Reshape", [x.name, target], {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => [dy && g.reshape(dy, node.inputs[0]!.shape)],
  },

  transpose: {
    infer: ({ op, inputs, attributes }) => {
      const permutation = attributes["permutation"] as readonly number[];
      const x = inputs[0]!;
      const sorted = [...permutation].sort((a, b) => a - b);
      if (permutation.length !== x.rank || sorted.some((axis, index) => axis !== index)) {
        shapeError({ op, inputs, reason: `[${permutation.join(", ")}] is not a permutation of the axes` });
      }
      return [{ dtype: x.dtype, shape: permutation.map((axis) => x.shape[axis]!) }];
    },
    emit: (emitter, node) => {
      emitter.one(
        "Transpose",
        names(node.inputs),
        { perm: { ints: node.attributes["permutation"] as number[] } },
        node.outputs[0]!.name,
      );
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      const permutation = node.attributes["permutation"] as readonly number[];
      const inverse = permutation.map((_, index) => permutation.indexOf(index));
      return [dy && g.transpose(dy, inverse)];
    },
  },

  concat: {
    infer: ({ op, inputs, attributes }) => {
      const first = inputs[0]!;
      const axis = normalizeAxis(op, attributes["axis"] as number, first.rank);
      const dtype = requireSameDtype(op, inputs);
      let total = 0;
      for (const input of inputs) {
        if (input.rank !== first.rank) shapeError({ op, inputs, reason: "ranks differ" });
        input.shape.forEach((value, index) => {
          if (index !== axis && !dimensionsEqual(value, first.shape[index]!)) {
            shapeError({ op, inputs, reason: `dimension ${index} differs` });
          }
        });
        if (!isConcrete(input.shape[axis]!))
          shapeError({ op, inputs, reason: "the concatenation axis must be concrete" });
        total += input.shape[axis]!.coefficient;
      }
      const shape = [...first.shape];
      shape[axis] = dimension(total);
      return [{ dtype, shape }];
    },
    emit: (emitter, node) => {
      const axis = normalizeAxis("concat", node.attributes["axis"] as number, node.inputs[0]!.rank);
      emitter.one("Concat", names(node.inputs), { axis: int(axis) }, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      if (dy === undefined) return node.inputs.map(() => undefined);
      const axis = normalizeAxis("concat", node.attributes["axis"] as number, node.inputs[0]!.rank);
      let start = 0;
      return node.inputs.map((input) => {
        const size = input.shape[axis]!.coefficient;
        const part = g.slice(dy, { axis, start, end: start + size });
        start += size;
        return part;
      });
    },
  },

  slice: {
    infer: ({ op, inputs, attributes }) => {
      const x = inputs[0]!;
      const axis = normalizeAxis(op, attributes["axis"] as number, x.rank);
      const size = x.shape[axis]!;
      const start = attributes["start"] as number;
      const end = attributes["end"] as number;
      if (!isConcrete(size)) shapeError({ op, inputs, reason: `axis ${axis} must be concrete` });
      if (start < 0 || end > size.coefficient || start >= end) {
        shapeError({
          op,
          inputs,
          reason: `range ${start}:${end} is outside axis ${axis} of size ${size.coefficient}`,
        });
      }
      const shape = [...x.shape];
      shape[axis] = dimension(end - start);
      return [{ dtype: x.dtype, shape }];
    },
    emit: (emitter, node) => {
      const x = node.inputs[0]!;
      const axis = normalizeAxis("slice", node.attributes["axis"] as number, x.rank);
      emitter.one(
        "Slice",
        [
          x.name,
          emitter.int64s([node.attributes["start"] as number]),
          emitter.int64s([node.attributes["end"] as number]),
          emitter.int64s([axis]),
        ],
        {},
        node.outputs[0]!.name,
      );
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => {
      const x = node.inputs[0]!;
      const axis = normalizeAxis("slice", node.attributes["axis"] as number, x.rank);
      const start = node.attributes["start"] as number;
      const end = node.attributes["end"] as number;
      const size = x.shape[axis]!.coefficient;
      return [dy && g.apply("padAxis", [dy], { axis, before: start, after: size - end })[0]];
    },
  },

  padAxis: {
    infer: ({ inputs, attributes }) => {
      const x = inputs[0]!;
      const axis = attributes["axis"] as number;
      const shape = [...x.shape];
      shape[axis] = dimension(
        x.shape[axis]!.coefficient + (attributes["before"] as number) + (attributes["after"] as number),
      );
      return [{ dtype: x.dtype, shape }];
    },
    emit: (emitter, node) => {
      const x = node.inputs[0]!;
      const pads = new Array<number>(2 * x.rank).fill(0);
      pads[node.attributes["axis"] as number] = node.attributes["before"] as number;
      pads[x.rank + (node.attributes["axis"] as number)] = node.attributes["after"] as number;
      emitter.one("Pad", [x.name, emitter.int64s(pads)], {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      const axis = node.attributes["axis"] as number;
      const before = node.attributes["before"] as number;
      return [
        dy && g.slice(dy, { axis, start: before, end: before + node.inputs[0]!.shape[axis]!.coefficient }),
      ];
    },
  },

  broadcastLike: {
    infer: ({ op, inputs }) => [{ dtype: inputs[0]!.dtype, shape: broadcastShapes(op, inputs) }],
    emit: (emitter, node) => {
      const [x, like] = node.inputs as [GraphTensor, GraphTensor];
      const shape = emitter.one("Shape", [like.name]);
      emitter.one("Expand", [x.name, shape], {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => [
      dy && g.sumToShape(dy, node.inputs[0]!.shape),
      undefined,
    ],
  },

  zeros: {
    infer: ({ attributes }) => [
      { dtype: attributes["dtype"] as DataType, shape: attributes["shape"] as readonly Dimension[] },
    ],
    emit: (emitter, node) => {
      const dtype = node.attributes["dtype"] as DataType;
      emitter.one(
        "ConstantOfShape",
        [emitter.shapeTensor(node.attributes["shape"] as readonly Dimension[])],
        { value: emitter.valueAttribute(0, dtype) },
        node.outputs[0]!.name,
      );
    },
    gradient: "none",
  },
});
