/** Matrix products: batched MatMul and 2-D Gemm (with transpose flags). See definition.ts for the row contract. */
import { dimensionsEqual } from "../dims.js";
import type { GraphTensor } from "../graph.js";
import { broadcastShapes, requireSameDtype, shapeError } from "../graph-checks.js";
import { defineOperations, int, names } from "./definition.js";

export const matrixOperations = defineOperations({
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
});
