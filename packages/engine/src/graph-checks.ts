/**
 * Shape and dtype checks shared by the op table's shape inference (operations/*.ts) and the
 * builder. A file of its own below graph.ts and the op table, so neither imports the other's
 * values (no file-level import cycle); graph.ts re-exports them.
 */
import { type Dimension, dimension, dimensionsEqual, formatShape, isConcrete } from "./dims.js";
import { GraphError, ShapeError } from "./errors.js";
import type { DataType, GraphTensor } from "./graph.js";

/** Whether two shapes are equal dimension by dimension (symbols compared as monomials). */
export function shapesEqual(a: readonly Dimension[], b: readonly Dimension[]): boolean {
  return a.length === b.length && a.every((value, index) => dimensionsEqual(value, b[index]!));
}

/** Throws a ShapeError that names the op and all input shapes. */
export function shapeError(params: { op: string; inputs: readonly GraphTensor[]; reason: string }): never {
  throw new ShapeError({
    message: `${params.op}: ${params.reason} (inputs ${params.inputs.map((input) => input.describe()).join(", ")})`,
    details: { op: params.op, shapes: params.inputs.map((input) => formatShape(input.shape)) },
  });
}

/** Numpy broadcasting of two shapes; throws a ShapeError naming the op and both shapes. */
export function broadcastShapes(
  op: string,
  inputs: readonly GraphTensor[],
  shapes: readonly (readonly Dimension[])[] = inputs.map((input) => input.shape),
): Dimension[] {
  const rank = Math.max(...shapes.map((shape) => shape.length));
  const result: Dimension[] = [];
  for (let axis = 0; axis < rank; axis += 1) {
    let current: Dimension = dimension(1);
    for (const shape of shapes) {
      const offset = axis - (rank - shape.length);
      if (offset < 0) continue;
      const value = shape[offset]!;
      if (isConcrete(value) && value.coefficient === 1) continue;
      if (isConcrete(current) && current.coefficient === 1) current = value;
      else if (!dimensionsEqual(current, value)) {
        shapeError({ op, inputs, reason: `shapes do not broadcast at axis ${axis}` });
      }
    }
    result.push(current);
  }
  return result;
}

/** Normalises a possibly negative axis against `rank`. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const value = axis < 0 ? axis + rank : axis;
  if (value < 0 || value >= rank)
    throw new ShapeError({ message: `${op}: axis ${axis} is out of range for rank ${rank}` });
  return value;
}

export function requireFloat(op: string, inputs: readonly GraphTensor[]): void {
  for (const input of inputs) {
    if (input.dtype !== "float32" && input.dtype !== "float64") {
      throw new GraphError({
        code: "dtype_mismatch",
        message: `${op}: ${input.describe()} must be a float tensor`,
      });
    }
  }
}

export function requireSameDtype(op: string, inputs: readonly GraphTensor[]): DataType {
  const dtype = inputs[0]!.dtype;
  for (const input of inputs) {
    if (input.dtype !== dtype) {
      throw new GraphError({
        code: "dtype_mismatch",
        message: `${op}: dtypes differ (${inputs.map((each) => each.describe()).join(", ")})`,
      });
    }
  }
  return dtype;
}
