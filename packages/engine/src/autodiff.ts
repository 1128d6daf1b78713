/**
 * Reverse-mode automatic differentiation over a recorded graph. Walks the nodes that lie on
 * a path from a requested parameter to the loss in reverse order, applies each op's
 * gradient rule from the op table, and sums gradients of tensors used more than once
 * (fan-out). Only the requested parameters get gradients; other inputs are never
 * differentiated.
 */
import { formatShape } from "./dims.js";
import { GradientError, GraphError } from "./errors.js";
import { type GraphBuilder, type GraphNode, type GraphTensor, shapesEqual } from "./graph.js";
import { operations } from "./ops.js";

export interface GradientsParams {
  graph: GraphBuilder;
  /** A scalar (rank-0) loss, or any tensor when `seed` is given. */
  loss: GraphTensor;
  /** The tensors to differentiate with respect to (usually parameters). */
  parameters: readonly GraphTensor[];
  /** The gradient of the loss (defaults to 1 for a scalar loss). */
  seed?: GraphTensor;
}

/**
 * Builds the backward pass into `graph` and returns one gradient per requested parameter,
 * in order. A parameter the loss does not depend on gets an explicit zero tensor.
 */
export function gradients(params: GradientsParams): GraphTensor[] {
  const { graph, loss } = params;
  if (params.seed === undefined && loss.rank !== 0) {
    throw new GraphError({
      message: `gradients: the loss must be a scalar, got ${loss.describe()} (pass seed otherwise)`,
    });
  }
  const seed = params.seed ?? graph.scalar(1, loss.dtype);
  const forwardNodes = graph.nodes.slice();

  const dependsOnParameter = new Set<GraphTensor>(params.parameters);
  for (const node of forwardNodes) {
    if (node.inputs.some((input) => dependsOnParameter.has(input))) {
      for (const output of node.outputs) dependsOnParameter.add(output);
    }
  }
  const reachesLoss = new Set<GraphTensor>([loss]);
  const relevant: GraphNode[] = [];
  for (let index = forwardNodes.length - 1; index >= 0; index -= 1) {
    const node = forwardNodes[index]!;
    if (!node.outputs.some((output) => reachesLoss.has(output))) continue;
    if (!node.inputs.some((input) => dependsOnParameter.has(input))) continue;
    relevant.push(node);
    for (const input of node.inputs) if (dependsOnParameter.has(input)) reachesLoss.add(input);
  }

  const accumulated = new Map<GraphTensor, GraphTensor>([[loss, seed]]);
  const accumulate = (tensor: GraphTensor, gradient: GraphTensor) => {
    if (!shapesEqual(tensor.shape, gradient.shape)) {
      throw new GraphError({
        message: `gradient of ${tensor.describe()} has shape ${formatShape(gradient.shape)}`,
      });
    }
    const previous = accumulated.get(tensor);
    accumulated.set(tensor, previous === undefined ? gradient : sumGradients(graph, previous, gradient));
  };

  for (const node of relevant) {
    const outputGradients = node.outputs.map((output) => accumulated.get(output));
    if (outputGradients.every((gradient) => gradient === undefined)) continue;
    const rule = operations[node.op].gradient;
    if (rule === "none") continue;
    if (rule === undefined) {
      throw new GradientError({
        message: `op ${node.op} has no gradient rule but lies between a parameter and the loss (inputs ${node.inputs
          .map((input) => input.describe())
          .join(", ")})`,
        details: { op: node.op },
      });
    }
    const inputGradients = rule({ builder: graph, node, outputGradients });
    node.inputs.forEach((input, position) => {
      const gradient = inputGradients[position];
      if (gradient !== undefined && dependsOnParameter.has(input) && reachesLoss.has(input))
        accumulate(input, gradient);
    });
  }

  return params.parameters.map((parameter) => {
    const gradient = accumulated.get(parameter);
    if (gradient !== undefined) return gradient;
    return graph.zeros(parameter.shape.map((value) => value.coefficient));
  });
}

/**
 * `a + b` for two gradients of one tensor. An embedding gradient (a scatter-add of rows into
 * zeros) is instead scattered straight into the other gradient: with tied embeddings this
 * drops a zero `[vocabulary, width]` table and the sum of two such tables (−2 × 113 MB at the
 * SmolLM2-135M shape). The unused zero-based scatter is pruned when the model is emitted.
 */
function sumGradients(graph: GraphBuilder, a: GraphTensor, b: GraphTensor): GraphTensor {
  for (const [scatter, other] of [
    [b, a],
    [a, b],
  ] as const) {
    const producer = scatter.producer;
    if (producer?.op === "embeddingBackward" && producer.inputs.length === 2) {
      return graph.apply("embeddingBackward", [...producer.inputs, other], producer.attributes)[0]!;
    }
  }
  return graph.add(a, b);
}
