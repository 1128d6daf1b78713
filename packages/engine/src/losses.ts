/**
 * Training objectives on per-token log-probabilities `[batch, sequence]` (from
 * {@link DecoderModel.tokenLogProbs} or `tokenLogProbs`). Masks are float tensors of 0/1.
 */
import type { GraphBuilder, GraphTensor } from "./graph.js";

export type Reduction = "sum" | "mean";

/**
 * Masked token cross-entropy −Σ mask·log p. `sum` returns the sum; `mean` divides by the
 * number of unmasked tokens (at least 1, so an all-masked batch gives 0, not NaN).
 */
export function tokenCrossEntropy(params: {
  graph: GraphBuilder;
  logProbs: GraphTensor;
  mask: GraphTensor;
  reduction: Reduction;
}): GraphTensor {
  const { graph, logProbs, mask } = params;
  const axes = logProbs.shape.map((_, axis) => axis);
  const total = graph.neg(graph.reduceSum(graph.mul(logProbs, mask), { axes }));
  if (params.reduction === "sum") return total;
  const count = graph.maximum(graph.reduceSum(mask, { axes }), graph.scalar(1, mask.dtype));
  return graph.div(total, count);
}

/**
 * Per-sequence completion log-probabilities `[batch]`: `sum` = Σ mask·log p (DPO), `mean` =
 * the sum divided by the number of completion tokens (length-averaged, e.g. SimPO/RLVR).
 */
export function sequenceLogProbs(params: { graph: GraphBuilder; logProbs: GraphTensor; mask: GraphTensor }): {
  sum: GraphTensor;
  mean: GraphTensor;
} {
  const { graph, logProbs, mask } = params;
  const last = logProbs.rank - 1;
  const sum = graph.reduceSum(graph.mul(logProbs, mask), { axes: [last] });
  const count = graph.maximum(graph.reduceSum(mask, { axes: [last] }), graph.scalar(1, mask.dtype));
  return { sum, mean: graph.div(sum, count) };
}
