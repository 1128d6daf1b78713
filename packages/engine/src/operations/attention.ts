/** Fused grouped attention with a recomputing backward, and the rotary embedding. See definition.ts for the row contract. */
import { type Dimension, dimension, dimensionsEqual, isConcrete, multiplyDimensions } from "../dims.js";
import type { GraphTensor } from "../graph.js";
import { broadcastShapes, requireFloat, requireSameDtype, shapeError, shapesEqual } from "../graph-checks.js";
import { defineOperations, int, names } from "./definition.js";

export const attentionOperations = defineOperations({
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
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => {
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
});
