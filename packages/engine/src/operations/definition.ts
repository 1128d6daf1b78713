/**
 * What one row of the op table is, and helpers the op families share. A row holds an op's
 * shape inference (`infer`), its ONNX lowering (`emit`) and its gradient rule together;
 * gradient rules build new ops with the same builder, so the backward graph is shape-checked
 * like the forward one. Rows are grouped by family (elementwise.ts, shape.ts, …) and the
 * frozen table is assembled in ../ops.ts.
 *
 * Gradient rule contract: given the node and the gradients of its outputs (undefined where
 * no gradient flows), return one gradient per input (undefined where the input is not
 * differentiable). Rules for broadcasting ops reduce with `sumToShape`. A fused op's backward
 * op (e.g. `softmaxBackward`) sits next to it in the same family file.
 */
import { type Dimension, dimension } from "../dims.js";
import type { Emitter, OnnxAttribute } from "../emit.js";
import type { Attributes, DataType, GraphBuilder, GraphNode, GraphTensor, TensorType } from "../graph.js";
import { broadcastShapes, normalizeAxis, requireFloat, requireSameDtype } from "../graph-checks.js";

export interface InferParams {
  /** The op's name in the table, for error messages. */
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

export const names = (tensors: readonly GraphTensor[]): string[] => tensors.map((tensor) => tensor.name);
export const int = (value: number): OnnxAttribute => ({ int: value });
export const axesOf = (node: GraphNode): number[] =>
  (node.attributes["axes"] as readonly number[]).map((axis) => axis);

export function reducedShape(
  shape: readonly Dimension[],
  axes: readonly number[],
  keep: boolean,
): Dimension[] {
  const result: Dimension[] = [];
  shape.forEach((value, axis) => {
    if (!axes.includes(axis)) result.push(value);
    else if (keep) result.push(dimension(1));
  });
  return result;
}

export function normalizedAxes(op: string, axes: readonly number[], rank: number): number[] {
  return [...new Set(axes.map((axis) => normalizeAxis(op, axis, rank)))].sort((a, b) => a - b);
}

// --- Row builders shared by the families ------------------------------------------------

export function binary(
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

export function unary(
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

export const one = (params: GradientParams, value: number): GraphTensor =>
  params.builder.scalar(value, params.node.inputs[0]!.dtype);

/**
 * One family's rows, frozen (each row and the family), keyed by op name. The names are kept
 * as literal keys, so the assembled table's `OperationName` type lists every op.
 */
export function defineOperations<const Name extends string>(
  rows: Record<Name, OperationDefinition>,
): Readonly<Record<Name, Readonly<OperationDefinition>>> {
  for (const row of Object.values<OperationDefinition>(rows)) Object.freeze(row);
  return Object.freeze(rows);
}
