/**
 * The op table: one row per op with its shape inference, its ONNX lowering and its gradient
 * rule. Adding an op is adding a row. Gradient rules build new ops with the same builder, so
 * the backward graph is shape-checked like the forward one.
 *
 * Gradient rule contract: given the node and the gradients of its outputs (undefined where
 * no gradient flows), return one gradient per input (undefined where the input is not
 * differentiable). Rules for broadcasting ops reduce with `sumToShape`.
 */
import {
  type Dimension,
  dimension,
  dimensionsEqual,
  isConcrete,
  multiplyDimensions,
  productOfDimensions,
} from "./dims.js";
import type { Emitter, OnnxAttribute } from "./emit.js";
import type { Attributes, DataType, GraphBuilder, GraphNode, GraphTensor, TensorType } from "./graph.js";
import {
  broadcastShapes,
  normalizeAxis,
  requireFloat,
  requireSameDtype,
  shapeError,
  shapesEqual,
} from "./graph.js";
import { onnxDataTypes } from "./onnx-proto.js";

export interface InferParams {
  op: string;
  inputs: readonly GraphTensor[];
  attributes: Attributes;
}

export interface GradientParams {
  builder: GraphBuilder;
  node: GraphNode;
  outputGradients: readonly (GraphTensor | undefined)[];
}

export interface OperationDefinition {
  infer(params: InferParams): TensorType[];
  emit(emitter: Emitter, node: GraphNode): void;
  /**
   * Reverse-mode rule. Absent: the op cannot be differentiated (autodiff fails if it lies
   * on a path from a requested parameter to the loss). `"none"`: the op has no gradient
   * (comparisons, shapes, counts): nothing flows through it.
   */
  gradient?: ((params: GradientParams) => (GraphTensor | undefined)[]) | "none";
}

const names = (tensors: readonly GraphTensor[]): string[] => tensors.map((tensor) => tensor.name);
const int = (value: number): OnnxAttribute => ({ int: value });
const axesOf = (node: GraphNode): number[] =>
  (node.attributes["axes"] as readonly number[]).map((axis) => axis);

function reducedShape(shape: readonly Dimension[], axes: readonly number[], keep: boolean): Dimension[] {
  const result: Dimension[] = [];
  shape.forEach((value, axis) => {
    if (!axes.includes(axis)) result.push(value);
    else if (keep) result.push(dimension(1));
  });
  return result;
}

function normalizedAxes(op: string, axes: readonly number[], rank: number): number[] {
  return [...new Set(axes.map((axis) => normalizeAxis(op, axis, rank)))].sort((a, b) => a - b);
}

// --- Elementwise rows -----------------------------------------------------------------

function binary(
  onnxOp: string,
  gradient: OperationDefinition["gradient"],
  outputType?: DataType,
): OperationDefinition {
  return {
    infer: ({ op, inputs }) => {
      const dtype = requireSameDtype(op, inputs);
      return [{ dtype: outputType ?? dtype, shape: broadcastShapes(op, inputs) }];
    },
    emit: (emitter, node) => {
      emitter.one(onnxOp, names(node.inputs), {}, node.outputs[0]!.name);
    },
    ...(gradient === undefined ? {} : { gradient }),
  };
}

function unary(
  onnxOp: string,
  gradient: (params: GradientParams, dy: GraphTensor) => GraphTensor,
): OperationDefinition {
  return {
    infer: ({ op, inputs }) => {
      requireFloat(op, inputs);
      return [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }];
    },
    emit: (emitter, node) => {
      emitter.one(onnxOp, names(node.inputs), {}, node.outputs[0]!.name);
    },
    gradient: (params) => {
      const dy = params.outputGradients[0];
      return [dy === undefined ? undefined : gradient(params, dy)];
    },
  };
}

const one = (params: GradientParams, value: number): GraphTensor =>
  params.builder.scalar(value, params.node.inputs[0]!.dtype);

// --- Rows ------------------------------------------------------------------------------

export const operations: Record<string, OperationDefinition> = {
  add: binary("Add", ({ builder: g, node, outputGradients: [dy] }) => [
    dy && g.sumToShape(dy, node.inputs[0]!.shape),
    dy && g.sumToShape(dy, node.inputs[1]!.shape),
  ]),
  sub: binary("Sub", ({ builder: g, node, outputGradients: [dy] }) => [
    dy && g.sumToShape(dy, node.inputs[0]!.shape),
    dy && g.sumToShape(g.neg(dy), node.inputs[1]!.shape),
  ]),
  mul: binary("Mul", ({ builder: g, node, outputGradients: [dy] }) => {
    const [a, b] = node.inputs as [GraphTensor, GraphTensor];
    return [dy && g.sumToShape(g.mul(dy, b), a.shape), dy && g.sumToShape(g.mul(dy, a), b.shape)];
  }),
  div: binary("Div", ({ builder: g, node, outputGradients: [dy] }) => {
    const [a, b] = node.inputs as [GraphTensor, GraphTensor];
    const y = node.outputs[0]!;
    return [
      dy && g.sumToShape(g.div(dy, b), a.shape),
      dy && g.sumToShape(g.neg(g.div(g.mul(dy, y), b)), b.shape),
    ];
  }),
  maximum: binary("Max", ({ builder: g, node, outputGradients: [dy] }) => {
    const [a, b] = node.inputs as [GraphTensor, GraphTensor];
    if (dy === undefined) return [undefined, undefined];
    const first = g.lessOrEqual(b, a); // ties go to the first input
    const zero = g.scalar(0, dy.dtype);
    return [g.sumToShape(g.where(first, dy, zero), a.shape), g.sumToShape(g.where(first, zero, dy), b.shape)];
  }),
  equal: binary("Equal", "none", "bool"),
  lessOrEqual: binary("LessOrEqual", "none", "bool"),
  and: binary("And", "none", "bool"),

  neg: unary("Neg", ({ builder: g }, dy) => g.neg(dy)),
  exp: unary("Exp", ({ builder: g, node }, dy) => g.mul(dy, node.outputs[0]!)),
  log: unary("Log", ({ builder: g, node }, dy) => g.div(dy, node.inputs[0]!)),
  sqrt: unary("Sqrt", (params, dy) =>
    params.builder.div(dy, params.builder.mul(params.node.outputs[0]!, one(params, 2))),
  ),
  reciprocal: unary("Reciprocal", ({ builder: g, node }, dy) => {
    const y = node.outputs[0]!;
    return g.neg(g.mul(dy, g.mul(y, y)));
  }),
  sigmoid: unary("Sigmoid", (params, dy) => {
    const g = params.builder;
    const y = params.node.outputs[0]!;
    return g.mul(dy, g.mul(y, g.sub(one(params, 1), y)));
  }),
  tanh: unary("Tanh", (params, dy) => {
    const g = params.builder;
    const y = params.node.outputs[0]!;
    return g.mul(dy, g.sub(one(params, 1), g.mul(y, y)));
  }),
  cos: unary("Cos", ({ builder: g, node }, dy) => g.neg(g.mul(dy, g.sin(node.inputs[0]!)))),
  sin: unary("Sin", ({ builder: g, node }, dy) => g.mul(dy, g.cos(node.inputs[0]!))),

  cast: {
    infer: ({ inputs, attributes }) => [{ dtype: attributes["to"] as DataType, shape: inputs[0]!.shape }],
    emit: (emitter, node) => {
      emitter.one(
        "Cast",
        names(node.inputs),
        { to: int(onnxDataTypes[node.attributes["to"] as DataType]) },
        node.outputs[0]!.name,
      );
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      const source = node.inputs[0]!.dtype;
      return [
        dy !== undefined && (source === "float32" || source === "float64") ? g.cast(dy, source) : undefined,
      ];
    },
  },

  where: {
    infer: ({ op, inputs }) => {
      if (inputs[0]!.dtype !== "bool") shapeError({ op, inputs, reason: "the condition must be bool" });
      const dtype = requireSameDtype(op, inputs.slice(1));
      return [{ dtype, shape: broadcastShapes(op, inputs) }];
    },
    emit: (emitter, node) => {
      emitter.one("Where", names(node.inputs), {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      if (dy === undefined) return [undefined, undefined, undefined];
      const [condition, a, b] = node.inputs as [GraphTensor, GraphTensor, GraphTensor];
      const zero = g.scalar(0, dy.dtype);
      return [
        undefined,
        g.sumToShape(g.where(condition, dy, zero), a.shape),
        g.sumToShape(g.where(condition, zero, dy), b.shape),
      ];
    },
  },

  matMul: {
    infer: ({ op, inputs }) => {
      const [a, b] = inputs as [GraphTensor, GraphTensor];
      requireSameDtype(op, inputs);
      if (a.rank < 2 || b.rank < 2) shapeError({ op, inputs, reason: "both operands need rank ≥ 2" });
      if (!dimensionsEqual(a.shape[a.rank - 1]!, b.shape[b.rank - 2]!)) {
        shapeError({ op, inputs, reason: "inner dimensions differ" });
      }
      const batch = broadcastShapes(op, inputs, [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
      return [{ dtype: a.dtype, shape: [...batch, a.shape[a.rank - 2]!, b.shape[b.rank - 1]!] }];
    },
    emit: (emitter, node) => {
      emitter.one("MatMul", names(node.inputs), {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      if (dy === undefined) return [undefined, undefined];
      const [a, b] = node.inputs as [GraphTensor, GraphTensor];
      return [
        g.sumToShape(g.matMul(dy, g.transposeLast(b)), a.shape),
        g.sumToShape(g.matMul(g.transposeLast(a), dy), b.shape),
      ];
    },
  },

  gemm: {
    infer: ({ op, inputs, attributes }) => {
      const [a, b] = inputs as [GraphTensor, GraphTensor];
      requireSameDtype(op, inputs);
      if (a.rank !== 2 || b.rank !== 2) shapeError({ op, inputs, reason: "both operands must be 2-D" });
      const [m, ka] = attributes["transposeA"] ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
      const [kb, n] = attributes["transposeB"] ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
      if (!dimensionsEqual(ka, kb)) shapeError({ op, inputs, reason: "inner dimensions differ" });
      return [{ dtype: a.dtype, shape: [m, n] }];
    },
    emit: (emitter, node) => {
      emitter.one(
        "Gemm",
        names(node.inputs),
        {
          transA: int(node.attributes["transposeA"] ? 1 : 0),
          transB: int(node.attributes["transposeB"] ? 1 : 0),
        },
        node.outputs[0]!.name,
      );
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      if (dy === undefined) return [undefined, undefined];
      const [a, b] = node.inputs as [GraphTensor, GraphTensor];
      const transposeA = node.attributes["transposeA"] === true;
      const transposeB = node.attributes["transposeB"] === true;
      // Y = op(A)·op(B): d op(A) = dY·op(B)ᵀ, d op(B) = op(A)ᵀ·dY, transposed back where needed.
      const da = transposeA
        ? g.gemm(b, dy, { transposeA: transposeB, transposeB: true })
        : g.gemm(dy, b, { transposeB: !transposeB });
      const db = transposeB
        ? g.gemm(dy, a, { transposeA: true, transposeB: transposeA })
        : g.gemm(a, dy, { transposeA: !transposeA });
      return [da, db];
    },
  },

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
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
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

  embedding: {
    infer: ({ op, inputs }) => {
      const [table, indices] = inputs as [GraphTensor, GraphTensor];
      requireFloat(op, [table]);
      if (table.rank !== 2) shapeError({ op, inputs, reason: "the table must be 2-D [vocabulary, width]" });
      if (indices.dtype !== "int64") shapeError({ op, inputs, reason: "indices must be int64" });
      return [{ dtype: table.dtype, shape: [...indices.shape, table.shape[1]!] }];
    },
    emit: (emitter, node) => {
      emitter.one("Gather", names(node.inputs), { axis: int(0) }, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      const [table, indices] = node.inputs as [GraphTensor, GraphTensor];
      return [
        dy && g.apply("embeddingBackward", [dy, indices], { vocabulary: table.shape[0]!.coefficient })[0],
        undefined,
      ];
    },
  },

  /**
   * Scatter-add of row gradients into a `[vocabulary, width]` table — zeros, or the optional
   * third input `base` (another gradient of the same table; see autodiff's `sumGradients`):
   * ScatterElements (axis 0, reduction add) over `dy` as `[tokens, width]` rows, each row's
   * token id repeated across its columns. Not ScatterND: ORT's CPU ScatterND(add) splits the
   * updates across intra-op threads, and repeated token ids then race, so the gradient changed
   * from run to run with more than one thread (onnxruntime#18048, #23396). ScatterElements
   * adds in index order on one thread: the same sum, bit for bit, at any thread count.
   * The zeros are shaped at run time from `dy`: a constant shape would be folded by ORT into a
   * permanent zero initializer the size of the table.
   */
  embeddingBackward: {
    infer: ({ op, inputs, attributes }) => {
      const dy = inputs[0]!;
      const shape = [dimension(attributes["vocabulary"] as number), dy.shape[dy.rank - 1]!];
      const base = inputs[2];
      if (base !== undefined && !shapesEqual(base.shape, shape))
        shapeError({ op, inputs, reason: "the base gradient must have the table's shape" });
      return [{ dtype: dy.dtype, shape }];
    },
    emit: (emitter, node) => {
      const [dy, indices, base] = node.inputs as [GraphTensor, GraphTensor, GraphTensor | undefined];
      const output = node.outputs[0]!;
      const rowShape = emitter.one(
        "Concat",
        [emitter.int64s([-1]), emitter.dimensionValue(output.shape[1]!)],
        {
          axis: int(0),
        },
      );
      const rows = emitter.one("Reshape", [dy.name, rowShape]);
      const column = emitter.one("Reshape", [indices.name, emitter.int64s([-1, 1])]);
      const index = emitter.one("Expand", [column, emitter.one("Shape", [rows])]);
      let data = base?.name;
      if (data === undefined) {
        const width = emitter.one("Shape", [dy.name], { start: int(-1) });
        const tableShape = emitter.one("Concat", [emitter.int64s([output.shape[0]!.coefficient]), width], {
          axis: int(0),
        });
        data = emitter.one("ConstantOfShape", [tableShape], { value: emitter.valueAttribute(0, dy.dtype) });
      }
      emitter.node("ScatterElements", [data, index, rows], { axis: int(0), reduction: { string: "add" } }, [
        output.name,
      ]);
    },
  },

  /**
   * Causal/grouped attention `softmax(q·kᵀ + bias)·v` on `q [b, kv, g, t, d]` (already rotated
   * and scaled), `k`, `v [b, kv, 1, s, d]` (broadcast over the g query heads of each key/value
   * head) and an additive `bias [b, 1, 1, t, s]`. The forward pass keeps no attention
   * probabilities for the backward pass: the gradient recomputes them (FlashAttention's
   * trade): −9.4 MB per layer at the SmolLM2-135M shape (1×512; −283 MB peak RSS over 30
   * layers) for ~2% more FLOPs.
   */
  attention: {
    infer: ({ op, inputs }) => {
      const [query, key, value, bias] = inputs as [GraphTensor, GraphTensor, GraphTensor, GraphTensor];
      requireFloat(op, inputs);
      requireSameDtype(op, inputs);
      if ([query, key, value, bias].some((tensor) => tensor.rank !== 5))
        shapeError({ op, inputs, reason: "query, key, value and bias must be 5-D [b, kv, g, t, d]" });
      if (!shapesEqual(key.shape, value.shape) || !dimensionsEqual(key.shape[2]!, dimension(1)))
        shapeError({ op, inputs, reason: "key and value must both be [b, kv, 1, s, d]" });
      if (!dimensionsEqual(query.shape[4]!, key.shape[4]!))
        shapeError({ op, inputs, reason: "query and key head widths differ" });
      return [{ dtype: query.dtype, shape: query.shape }];
    },
    emit: (emitter, node) => {
      const [query, key, value, bias] = names(node.inputs) as [string, string, string, string];
      const keyTransposed = emitter.one("Transpose", [key], { perm: { ints: [0, 1, 2, 4, 3] } });
      const scores = emitter.one("Add", [emitter.one("MatMul", [query, keyTransposed]), bias]);
      const probabilities = emitter.one("Softmax", [scores], { axis: int(-1) });
      emitter.one("MatMul", [probabilities, value], {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      if (dy === undefined) return [undefined, undefined, undefined, undefined];
      const [dquery, dkey, dvalue] = g.apply("attentionBackward", [...node.inputs, dy]);
      return [dquery, dkey, dvalue, undefined];
    },
  },

  /**
   * Gradients of {@link attention} with the probabilities recomputed. Everything runs on
   * `[b, kv, g·t, ·]` views, so the sums over the g query heads sharing a key/value head fall
   * inside the matrix products; the different layout also keeps ORT's common-subexpression
   * elimination from merging the recomputation back into the forward pass (which would keep
   * the probabilities alive again).
   */
  attentionBackward: {
    infer: ({ inputs }) => [
      { dtype: inputs[0]!.dtype, shape: inputs[0]!.shape },
      { dtype: inputs[1]!.dtype, shape: inputs[1]!.shape },
      { dtype: inputs[2]!.dtype, shape: inputs[2]!.shape },
    ],
    emit: (emitter, node) => {
      const [query, key, value, bias, dy] = node.inputs as [
        GraphTensor,
        GraphTensor,
        GraphTensor,
        GraphTensor,
        GraphTensor,
      ];
      const [dquery, dkey, dvalue] = node.outputs as [GraphTensor, GraphTensor, GraphTensor];
      const [batch, keyValueHeads, groups, rows] = query.shape as [
        Dimension,
        Dimension,
        Dimension,
        Dimension,
      ];
      const columns = key.shape[3]!;
      const width = query.shape[4]!;
      const groupedRows = multiplyDimensions(groups, rows);
      const reshape = (
        tensor: string,
        from: readonly Dimension[],
        to: readonly Dimension[],
        output?: string,
      ) => emitter.one("Reshape", [tensor, emitter.shapeTensor(to, from)], {}, output);
      const swapLast = (tensor: string) =>
        emitter.one("Transpose", [tensor], { perm: { ints: [0, 1, 3, 2] } });
      const mergedQueryShape = [batch, keyValueHeads, groupedRows, width];
      const mergedKeyShape = [batch, keyValueHeads, columns, width];
      const mergedScoreShape = [batch, keyValueHeads, groupedRows, columns];
      const fullScoreShape = [batch, keyValueHeads, groups, rows, columns];
      const q = reshape(query.name, query.shape, mergedQueryShape);
      const k = reshape(key.name, key.shape, mergedKeyShape);
      const v = reshape(value.name, value.shape, mergedKeyShape);
      const upstream = reshape(dy.name, dy.shape, mergedQueryShape);
      const scores = reshape(emitter.one("MatMul", [q, swapLast(k)]), mergedScoreShape, fullScoreShape);
      const probabilities = reshape(
        emitter.one("Softmax", [emitter.one("Add", [scores, bias.name])], { axis: int(-1) }),
        fullScoreShape,
        mergedScoreShape,
      );
      reshape(
        emitter.one("MatMul", [swapLast(probabilities), upstream]),
        mergedKeyShape,
        value.shape,
        dvalue.name,
      );
      const probabilityGradient = emitter.one("MatMul", [upstream, swapLast(v)]);
      const rowDot = emitter.one(
        "ReduceSum",
        [emitter.one("Mul", [probabilityGradient, probabilities]), emitter.int64s([-1])],
        { keepdims: int(1) },
      );
      const scoreGradient = emitter.one("Mul", [
        emitter.one("Sub", [probabilityGradient, rowDot]),
        probabilities,
      ]);
      reshape(emitter.one("MatMul", [scoreGradient, k]), mergedQueryShape, query.shape, dquery.name);
      reshape(emitter.one("MatMul", [swapLast(scoreGradient), q]), mergedKeyShape, key.shape, dkey.name);
    },
  },

  softmax: {
    infer: ({ op, inputs }) => {
      requireFloat(op, inputs);
      return [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }];
    },
    emit: (emitter, node) => {
      emitter.one("Softmax", names(node.inputs), { axis: int(-1) }, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => [
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
    gradient: ({ builder: g, node, outputGradients: [dy] }) => [
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
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
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

  swiglu: {
    infer: ({ op, inputs }) => {
      requireFloat(op, inputs);
      requireSameDtype(op, inputs);
      if (!shapesEqual(inputs[0]!.shape, inputs[1]!.shape))
        shapeError({ op, inputs, reason: "gate and up shapes differ" });
      return [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }];
    },
    emit: (emitter, node) => {
      const [gate, up] = names(node.inputs) as [string, string];
      const silu = emitter.one("Mul", [gate, emitter.one("Sigmoid", [gate])]);
      emitter.one("Mul", [silu, up], {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      if (dy === undefined) return [undefined, undefined];
      const [dgate, dup] = g.apply("swigluBackward", [node.inputs[0]!, node.inputs[1]!, dy]);
      return [dgate, dup];
    },
  },

  /** s = σ(g), silu = g·s: d up = dy·silu, d gate = dy·up·(s + silu·(1 − s)). */
  swigluBackward: {
    infer: ({ inputs }) => [
      { dtype: inputs[0]!.dtype, shape: inputs[0]!.shape },
      { dtype: inputs[0]!.dtype, shape: inputs[0]!.shape },
    ],
    emit: (emitter, node) => {
      const [gate, up, dy] = names(node.inputs) as [string, string, string];
      const [dgate, dup] = node.outputs as [GraphTensor, GraphTensor];
      const sigmoid = emitter.one("Sigmoid", [gate]);
      const silu = emitter.one("Mul", [gate, sigmoid]);
      emitter.one("Mul", [dy, silu], {}, dup.name);
      const complement = emitter.one("Sub", [emitter.scalar(1, dgate.dtype), sigmoid]);
      const slope = emitter.one("Add", [sigmoid, emitter.one("Mul", [silu, complement])]);
      emitter.one("Mul", [emitter.one("Mul", [dy, up]), slope], {}, dgate.name);
    },
  },

  rope: {
    infer: ({ op, inputs }) => {
      const x = inputs[0]!;
      requireFloat(op, inputs);
      requireSameDtype(op, inputs);
      const width = x.shape[x.rank - 1]!;
      if (!isConcrete(width) || width.coefficient % 2 !== 0)
        shapeError({ op, inputs, reason: "the last axis must be even" });
      if (!shapesEqual(broadcastShapes(op, inputs), x.shape))
        shapeError({ op, inputs, reason: "cos/sin must broadcast to x" });
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    emit: (emitter, node) => {
      // rotate_half(x)·sin = swap(x)·[−sin₁, sin₂]: the sign goes on the (small, broadcast) sin
      // table, computed once per table, so the full-size work is Split, Concat, 2 Mul, Add.
      const [x, cos, sin] = node.inputs as [GraphTensor, GraphTensor, GraphTensor];
      const half = x.shape[x.rank - 1]!.coefficient / 2;
      const signedSin = emitter.memo(`signed-sin:${sin.name}`, () => {
        const [first, second] = emitter.node(
          "Split",
          [sin.name, emitter.int64s([half, half])],
          { axis: int(-1) },
          2,
        ) as [string, string];
        return emitter.one("Concat", [emitter.one("Neg", [first]), second], { axis: int(-1) });
      });
      const [first, second] = emitter.node(
        "Split",
        [x.name, emitter.int64s([half, half])],
        { axis: int(-1) },
        2,
      ) as [string, string];
      const swapped = emitter.one("Concat", [second, first], { axis: int(-1) });
      const sum = [emitter.one("Mul", [x.name, cos.name]), emitter.one("Mul", [swapped, signedSin])];
      emitter.one("Add", sum, {}, node.outputs[0]!.name);
    },
    // The rotation's transpose is the rotation by the negated angle.
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      const [, cos, sin] = node.inputs as [GraphTensor, GraphTensor, GraphTensor];
      return [dy && g.rope(dy, cos, g.neg(sin)), undefined, undefined];
    },
  },

  tokenLogProbs: {
    infer: ({ op, inputs }) => {
      const [logits, targets] = inputs as [GraphTensor, GraphTensor];
      requireFloat(op, [logits]);
      if (targets.dtype !== "int64" || !shapesEqual(targets.shape, logits.shape.slice(0, -1))) {
        shapeError({
          op,
          inputs,
          reason: "targets must be int64 with the logits' shape minus the last axis",
        });
      }
      return [{ dtype: logits.dtype, shape: targets.shape }];
    },
    emit: (emitter, node) => {
      const [logits, targets] = names(node.inputs) as [string, string];
      const picked = emitPickedLogProb(emitter, { logits, targets });
      emitter.one("Squeeze", [picked, emitter.int64s([-1])], {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => [
      dy && g.apply("tokenLogProbsBackward", [node.inputs[0]!, node.inputs[1]!, dy])[0],
      undefined,
    ],
  },

  /** d logits = (onehot(target) − softmax(logits)) · dy, with the one-hot added by scatter. */
  tokenLogProbsBackward: {
    infer: ({ inputs }) => [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }],
    emit: (emitter, node) => {
      const [logits, targets, dy] = names(node.inputs) as [string, string, string];
      emitLogProbGradient(emitter, { logits, targets, upstream: dy, output: node.outputs[0]!.name });
    },
  },

  chunkedTokenLogProbs: {
    infer: ({ op, inputs, attributes }) => {
      const [hidden, weight, targets] = inputs as [GraphTensor, GraphTensor, GraphTensor];
      requireFloat(op, [hidden, weight]);
      requireSameDtype(op, [hidden, weight]);
      const width = weight.shape[attributes["transposeWeight"] ? 1 : 0]!;
      if (hidden.rank !== 2 || weight.rank !== 2 || !dimensionsEqual(hidden.shape[1]!, width)) {
        shapeError({ op, inputs, reason: "hidden must be [rows, width] and the weight [width, vocabulary]" });
      }
      if (
        targets.dtype !== "int64" ||
        targets.rank !== 1 ||
        !dimensionsEqual(targets.shape[0]!, hidden.shape[0]!)
      ) {
        shapeError({ op, inputs, reason: "targets must be int64 [rows]" });
      }
      if (!Number.isInteger(attributes["chunks"]) || (attributes["chunks"] as number) < 1) {
        shapeError({ op, inputs, reason: "chunks must be a positive integer" });
      }
      return [{ dtype: hidden.dtype, shape: targets.shape }];
    },
    emit: (emitter, node) => {
      const [hidden, weight, targets] = node.inputs as [GraphTensor, GraphTensor, GraphTensor];
      const { hiddenChunks, targetChunks } = splitRows(emitter, node, hidden, [targets.name]);
      const parts = hiddenChunks.map((chunk, index) => {
        const logits = emitter.one("Gemm", [chunk, weight.name], {
          transB: int(node.attributes["transposeWeight"] ? 1 : 0),
        });
        return emitPickedLogProb(emitter, { logits, targets: targetChunks[0]![index]! });
      });
      const joined = parts.length === 1 ? parts[0]! : emitter.one("Concat", parts, { axis: int(0) });
      emitter.one("Squeeze", [joined, emitter.int64s([-1])], {}, node.outputs[0]!.name);
    },
    gradient: ({ builder: g, node, outputGradients: [dy] }) => {
      if (dy === undefined) return [undefined, undefined, undefined];
      const [dhidden, dweight] = g.apply(
        "chunkedTokenLogProbsBackward",
        [...node.inputs, dy],
        node.attributes,
      );
      return [dhidden, dweight, undefined];
    },
  },

  /** Recomputes each chunk's logits; dW accumulates through Gemm's C input. */
  chunkedTokenLogProbsBackward: {
    infer: ({ inputs }) => [
      { dtype: inputs[0]!.dtype, shape: inputs[0]!.shape },
      { dtype: inputs[1]!.dtype, shape: inputs[1]!.shape },
    ],
    emit: (emitter, node) => {
      const [hidden, weight, targets, dy] = node.inputs as [
        GraphTensor,
        GraphTensor,
        GraphTensor,
        GraphTensor,
      ];
      const [dhidden, dweight] = node.outputs as [GraphTensor, GraphTensor];
      const transposeWeight = node.attributes["transposeWeight"] === true;
      const { hiddenChunks, targetChunks } = splitRows(emitter, node, hidden, [targets.name, dy.name]);
      let accumulated: string | undefined;
      const rowGradients = hiddenChunks.map((chunk, index) => {
        const last = index === hiddenChunks.length - 1;
        // The explicit alpha makes this Gemm differ from the forward pass's, so ORT's
        // common-subexpression elimination cannot merge them: merged, every chunk's logits
        // and probabilities stayed alive from the forward to the backward pass (the full
        // [rows, vocabulary] logits at once). Recomputing costs ~6% of a step at the 9M shape.
        const logits = emitter.one("Gemm", [chunk, weight.name], {
          transB: int(transposeWeight ? 1 : 0),
          alpha: { float: 1 },
        });
        const logitGradient = emitLogProbGradient(emitter, {
          logits,
          targets: targetChunks[0]![index]!,
          upstream: targetChunks[1]![index]!,
        });
        const weightInputs = transposeWeight ? [logitGradient, chunk] : [chunk, logitGradient];
        accumulated = emitter.one(
          "Gemm",
          accumulated === undefined ? weightInputs : [...weightInputs, accumulated],
          { transA: int(1) },
          last ? dweight.name : undefined,
        );
        return emitter.one("Gemm", [logitGradient, weight.name], { transB: int(transposeWeight ? 0 : 1) });
      });
      if (rowGradients.length === 1) emitter.one("Identity", rowGradients, {}, dhidden.name);
      else emitter.one("Concat", rowGradients, { axis: int(0) }, dhidden.name);
    },
  },
};

/**
 * `logits[target] − logsumexp(logits)` as `[..., 1]`. The log-sum-exp comes from ORT's
 * vectorised Softmax rather than its ReduceLogSumExp (scalar, single-threaded: [512, 8192] in
 * 17.9 ms vs 3.1 ms on one thread, 15.6 vs 1.9 ms on two): at the row's largest logit m the
 * probability is p = exp(m − lse) ≥ 1/vocabulary, so lse = m − log(max p) never underflows
 * (agrees with ReduceLogSumExp to ~4 float32 ulps). LogSoftmax would write the whole row of
 * log-probabilities and is slower still.
 */
function emitPickedLogProb(emitter: Emitter, params: { logits: string; targets: string }): string {
  const index = emitter.one("Unsqueeze", [params.targets, emitter.int64s([-1])]);
  const picked = emitter.one("GatherElements", [params.logits, index], { axis: int(-1) });
  const rowMaximum = (tensor: string) =>
    emitter.one("ReduceMax", [tensor], { axes: { ints: [-1] }, keepdims: int(1) });
  const probabilities = emitter.one("Softmax", [params.logits], { axis: int(-1) });
  const normalizer = emitter.one("Sub", [
    rowMaximum(params.logits),
    emitter.one("Log", [rowMaximum(probabilities)]),
  ]);
  return emitter.one("Sub", [picked, normalizer]);
}

/** `(onehot(targets) − softmax(logits)) · upstream[..., None]`, the one-hot added by ScatterElements. */
function emitLogProbGradient(
  emitter: Emitter,
  params: { logits: string; targets: string; upstream: string; output?: string },
): string {
  const probabilities = emitter.one("Softmax", [params.logits], { axis: int(-1) });
  const upstream = emitter.one("Unsqueeze", [params.upstream, emitter.int64s([-1])]);
  const scaled = emitter.one("Mul", [probabilities, emitter.one("Neg", [upstream])]);
  const index = emitter.one("Unsqueeze", [params.targets, emitter.int64s([-1])]);
  return emitter.node(
    "ScatterElements",
    [scaled, index, upstream],
    { axis: int(-1), reduction: { string: "add" } },
    params.output === undefined ? 1 : [params.output],
  )[0]!;
}

/**
 * Splits `hidden [N, D]` and row-aligned companions into `chunks` nearly equal row blocks
 * whose sizes are computed at run time (N may be symbolic): block i holds rows
 * ⌊iN/k⌋ … ⌊(i+1)N/k⌋ − 1.
 */
function splitRows(
  emitter: Emitter,
  node: GraphNode,
  hidden: GraphTensor,
  companions: readonly string[],
): { hiddenChunks: string[]; targetChunks: string[][] } {
  const chunks = node.attributes["chunks"] as number;
  if (chunks === 1) return { hiddenChunks: [hidden.name], targetChunks: companions.map((name) => [name]) };
  const rows = emitter.dimensionValue(hidden.shape[0]!);
  const boundaries = emitter.one("Div", [
    emitter.one("Mul", [emitter.int64s(Array.from({ length: chunks + 1 }, (_, index) => index)), rows]),
    emitter.int64s([chunks]),
  ]);
  const ends = emitter.one("Slice", [boundaries, emitter.int64s([1]), emitter.int64s([chunks + 1])]);
  const starts = emitter.one("Slice", [boundaries, emitter.int64s([0]), emitter.int64s([chunks])]);
  const sizes = emitter.one("Sub", [ends, starts]);
  const split = (name: string) => emitter.node("Split", [name, sizes], { axis: int(0) }, chunks);
  return { hiddenChunks: split(hidden.name), targetChunks: companions.map(split) };
}

export { multiplyDimensions };
