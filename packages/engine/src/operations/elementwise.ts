/** Elementwise ops (numpy broadcasting), comparisons, casts and the fused SwiGLU activation. See definition.ts for the row contract. */
import type { DataType, GraphTensor } from "../graph.js";
import { broadcastShapes, requireFloat, requireSameDtype, shapeError, shapesEqual } from "../graph-checks.js";
import { onnxDataTypes } from "../onnx-proto.js";
import { binary, defineOperations, int, names, one, unary } from "./definition.js";

export const elementwiseOperations = defineOperations({
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
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => {
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
});
