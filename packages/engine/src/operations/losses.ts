/** Token log-probabilities: the fused log-softmax + gather, and the chunked LM-head variant. See definition.ts for the row contract. */
import { dimensionsEqual } from "../dims.js";
import type { Emitter } from "../emit.js";
import type { GraphNode, GraphTensor } from "../graph.js";
import { requireFloat, requireSameDtype, shapeError, shapesEqual } from "../graph-checks.js";
import { defineOperations, int, names } from "./definition.js";

export const lossesOperations = defineOperations({
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
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => [
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
    gradient: ({ builder: g, node, outputGradients: [dy] }): (GraphTensor | undefined)[] => {
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
});

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
