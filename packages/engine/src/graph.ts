/**
 * The typed tensor-expression builder. A {@link GraphBuilder} records ops (from the frozen op
 * table in ops.ts, assembled from the families in operations/) on {@link GraphTensor}s whose shapes may contain symbolic dimensions, checks
 * shapes as each op is added, and emits an opset-17 ONNX model (emit.ts).
 */
import {
  type Dimension,
  type DimensionLike,
  dimension,
  divideDimensions,
  formatShape,
  isConcrete,
  productOfDimensions,
} from "./dims.js";
import { GraphError, ShapeError } from "./errors.js";
import { shapesEqual } from "./graph-checks.js";
import type { OperationDefinition } from "./operations/definition.js";
import { type OperationName, operations } from "./ops.js";

/** Element types the builder supports. Float ops are dtype-generic (float32 or float64). */
export type DataType = "float32" | "float64" | "int64" | "bool";

export type FloatType = "float32" | "float64";

/** Op attributes: plain JSON-like values (ints, floats, int lists, shapes). */
export type AttributeValue = number | boolean | string | readonly number[] | readonly Dimension[];
export type Attributes = Readonly<Record<string, AttributeValue>>;

/** A value in a graph under construction: dtype and (possibly symbolic) shape are known. */
export class GraphTensor {
  constructor(
    readonly graph: GraphBuilder,
    readonly id: number,
    readonly name: string,
    readonly dtype: DataType,
    readonly shape: readonly Dimension[],
    /** The node that produces this tensor; undefined for inputs and constants. */
    readonly producer: GraphNode | undefined,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  /** The shape as a readable string, e.g. `[batch, sequence, 256]`. */
  describe(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

/** One recorded op application. */
export interface GraphNode {
  readonly index: number;
  readonly op: OperationName;
  readonly inputs: readonly GraphTensor[];
  readonly outputs: readonly GraphTensor[];
  readonly attributes: Attributes;
}

/** How a graph input is fed: a parameter (trainable weight) or data (tokens, masks). */
export type InputKind = "parameter" | "data";

export interface GraphInput {
  readonly tensor: GraphTensor;
  readonly kind: InputKind;
}

/** A constant tensor baked into the model as an initializer. */
export interface GraphConstant {
  readonly tensor: GraphTensor;
  readonly values: Float32Array | Float64Array | BigInt64Array | Uint8Array;
}

/** The declared type of an op output, returned by an op's shape inference. */
export interface TensorType {
  dtype: DataType;
  shape: readonly Dimension[];
}

/**
 * Records a computation. `floatType` is the dtype of parameters and float constants created
 * through the builder (float32 for training, float64 for finite-difference checks).
 */
export class GraphBuilder {
  readonly floatType: FloatType;
  readonly nodes: GraphNode[] = [];
  readonly inputs: GraphInput[] = [];
  readonly constants: GraphConstant[] = [];
  private readonly names = new Set<string>();
  private nextId = 0;

  constructor(params: { floatType?: FloatType } = {}) {
    this.floatType = params.floatType ?? "float32";
  }

  private newTensor(params: {
    name?: string;
    type: TensorType;
    producer: GraphNode | undefined;
  }): GraphTensor {
    const id = this.nextId++;
    const name = params.name ?? `t${id}`;
    if (this.names.has(name)) throw new GraphError({ message: `tensor name ${name} is used twice` });
    this.names.add(name);
    return new GraphTensor(this, id, name, params.type.dtype, params.type.shape, params.producer);
  }

  /** A data input (token ids, masks, positions) fed at run time. */
  input(params: { name: string; dtype: DataType; shape: readonly DimensionLike[] }): GraphTensor {
    const tensor = this.newTensor({
      name: params.name,
      type: { dtype: params.dtype, shape: params.shape.map(dimension) },
      producer: undefined,
    });
    this.inputs.push({ tensor, kind: "data" });
    return tensor;
  }

  /** A trainable parameter: a graph input of the builder's float type with a concrete shape. */
  parameter(params: { name: string; shape: readonly number[] }): GraphTensor {
    const tensor = this.newTensor({
      name: params.name,
      type: { dtype: this.floatType, shape: params.shape.map(dimension) },
      producer: undefined,
    });
    this.inputs.push({ tensor, kind: "parameter" });
    return tensor;
  }

  /** All parameters, in declaration order. */
  parameters(): GraphTensor[] {
    return this.inputs.filter((input) => input.kind === "parameter").map((input) => input.tensor);
  }

  /** A constant tensor (row-major values). Float constants default to the builder's float type. */
  constant(params: { values: ArrayLike<number>; shape?: readonly number[]; dtype?: DataType }): GraphTensor {
    const dtype = params.dtype ?? this.floatType;
    const shape = params.shape ?? [params.values.length];
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== params.values.length) {
      throw new ShapeError({
        message: `constant: ${params.values.length} values do not fill shape [${shape.join(", ")}]`,
      });
    }
    const values =
      dtype === "float32"
        ? Float32Array.from(params.values)
        : dtype === "float64"
          ? Float64Array.from(params.values)
          : dtype === "int64"
            ? BigInt64Array.from(Array.from(params.values, (value) => BigInt(value)))
            : Uint8Array.from(params.values);
    const tensor = this.newTensor({ type: { dtype, shape: shape.map(dimension) }, producer: undefined });
    this.constants.push({ tensor, values });
    return tensor;
  }

  /** A scalar constant (rank 0) of the builder's float type unless `dtype` says otherwise. */
  scalar(value: number, dtype?: DataType): GraphTensor {
    return this.constant({ values: [value], shape: [], ...(dtype === undefined ? {} : { dtype }) });
  }

  /**
   * Applies an op from the op table and returns its outputs. Shapes are checked here; an op
   * name not in the table is a compile error (and, from untyped callers, a GraphError).
   */
  apply(op: OperationName, inputs: readonly GraphTensor[], attributes: Attributes = {}): GraphTensor[] {
    const definition: OperationDefinition | undefined = Object.hasOwn(operations, op)
      ? operations[op]
      : undefined;
    if (definition === undefined) throw new GraphError({ message: `unknown op ${op}` });
    for (const input of inputs) {
      if (input.graph !== this)
        throw new GraphError({ message: `${op}: input ${input.name} belongs to another graph` });
    }
    const types = definition.infer({ op, inputs, attributes });
    const index = this.nodes.length;
    const outputs: GraphTensor[] = [];
    const node: GraphNode = { index, op, inputs: [...inputs], outputs, attributes };
    for (const type of types) outputs.push(this.newTensor({ type, producer: node }));
    this.nodes.push(node);
    return outputs;
  }

  private one(op: OperationName, inputs: readonly GraphTensor[], attributes: Attributes = {}): GraphTensor {
    return this.apply(op, inputs, attributes)[0]!;
  }

  // Elementwise (broadcasting, numpy rules).
  add(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("add", [a, b]);
  }
  sub(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("sub", [a, b]);
  }
  mul(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("mul", [a, b]);
  }
  div(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("div", [a, b]);
  }
  maximum(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("maximum", [a, b]);
  }
  neg(x: GraphTensor): GraphTensor {
    return this.one("neg", [x]);
  }
  exp(x: GraphTensor): GraphTensor {
    return this.one("exp", [x]);
  }
  log(x: GraphTensor): GraphTensor {
    return this.one("log", [x]);
  }
  sqrt(x: GraphTensor): GraphTensor {
    return this.one("sqrt", [x]);
  }
  reciprocal(x: GraphTensor): GraphTensor {
    return this.one("reciprocal", [x]);
  }
  sigmoid(x: GraphTensor): GraphTensor {
    return this.one("sigmoid", [x]);
  }
  tanh(x: GraphTensor): GraphTensor {
    return this.one("tanh", [x]);
  }
  cos(x: GraphTensor): GraphTensor {
    return this.one("cos", [x]);
  }
  sin(x: GraphTensor): GraphTensor {
    return this.one("sin", [x]);
  }
  cast(x: GraphTensor, dtype: DataType): GraphTensor {
    return this.one("cast", [x], { to: dtype });
  }
  equal(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("equal", [a, b]);
  }
  lessOrEqual(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("lessOrEqual", [a, b]);
  }
  and(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("and", [a, b]);
  }
  /** `condition ? a : b`, broadcasting all three. */
  where(condition: GraphTensor, a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("where", [condition, a, b]);
  }

  // Linear algebra.
  /** Batched matrix product with broadcasting over leading axes (numpy matmul; rank ≥ 2). */
  matMul(a: GraphTensor, b: GraphTensor): GraphTensor {
    return this.one("matMul", [a, b]);
  }
  /** 2-D product op(a) · op(b), op = transpose when the flag is set (ONNX Gemm). */
  gemm(
    a: GraphTensor,
    b: GraphTensor,
    options: { transposeA?: boolean; transposeB?: boolean } = {},
  ): GraphTensor {
    return this.one("gemm", [a, b], {
      transposeA: options.transposeA ?? false,
      transposeB: options.transposeB ?? false,
    });
  }
  /**
   * `x [..., in] · weight [in, out]` as one Gemm on a 2-D view (weights are stored [in, out]),
   * or `x · weightᵀ` for a weight stored [out, in] (`transposeWeight`, e.g. a tied embedding).
   * With `innerBlock`, an input wider than it is multiplied in blocks of `innerBlock` features
   * (one Gemm each) and the partial products are added in order.
   */
  linear(
    x: GraphTensor,
    weight: GraphTensor,
    options: { transposeWeight?: boolean; innerBlock?: number } = {},
  ): GraphTensor {
    const transposeWeight = options.transposeWeight ?? false;
    const inFeatures = x.shape[x.rank - 1]!;
    const outFeatures = weight.shape[transposeWeight ? 0 : 1]!;
    const rows = productOfDimensions(x.shape.slice(0, -1));
    const flat = x.rank === 2 ? x : this.reshape(x, [rows, inFeatures]);
    const blocks =
      options.innerBlock !== undefined && isConcrete(inFeatures)
        ? innerBlockCount({ size: inFeatures.coefficient, largest: options.innerBlock })
        : 1;
    let product: GraphTensor;
    if (blocks === 1) product = this.gemm(flat, weight, { transposeB: transposeWeight });
    else {
      // Each output element becomes a fixed chain of per-block dot products (one Gemm per
      // block, then a sum over the blocks in order), whatever the Gemm kernel's threading.
      const size = (inFeatures as Dimension).coefficient;
      const block = size / blocks;
      const parts = this.transpose(this.reshape(flat, [rows, blocks, block]), [1, 0, 2]);
      if (transposeWeight) {
        // weight [out, in]: its blocks are strided; slice each (a copy) and multiply.
        const products = Array.from({ length: blocks }, (_, index) =>
          this.gemm(
            this.reshape(this.slice(parts, { axis: 0, start: index, end: index + 1 }), [rows, block]),
            this.slice(weight, { axis: 1, start: index * block, end: (index + 1) * block }),
            { transposeB: true },
          ),
        );
        product = products.reduce((total, part) => this.add(total, part));
      } else {
        // weight [in, out]: [blocks, block, out] is a view of it; one batched MatMul.
        const partial = this.matMul(parts, this.reshape(weight, [blocks, block, outFeatures]));
        product = this.reduceSum(partial, { axes: [0] });
      }
    }
    return x.rank === 2 ? product : this.reshape(product, [...x.shape.slice(0, -1), outFeatures]);
  }

  // Shape ops.
  reshape(x: GraphTensor, shape: readonly DimensionLike[]): GraphTensor {
    return this.one("reshape", [x], { shape: shape.map(dimension) });
  }
  transpose(x: GraphTensor, permutation: readonly number[]): GraphTensor {
    return this.one("transpose", [x], { permutation });
  }
  /** Swaps the last two axes. */
  transposeLast(x: GraphTensor): GraphTensor {
    const permutation = x.shape.map((_, index) => index);
    permutation[x.rank - 1] = x.rank - 2;
    permutation[x.rank - 2] = x.rank - 1;
    return this.transpose(x, permutation);
  }
  concat(tensors: readonly GraphTensor[], axis: number): GraphTensor {
    return this.one("concat", tensors, { axis });
  }
  /** `x[..., start:end, ...]` on one axis of concrete size. */
  slice(x: GraphTensor, params: { axis: number; start: number; end: number }): GraphTensor {
    return this.one("slice", [x], params);
  }
  reduceSum(x: GraphTensor, params: { axes: readonly number[]; keepDimensions?: boolean }): GraphTensor {
    return this.one("reduceSum", [x], { axes: params.axes, keepDimensions: params.keepDimensions ?? false });
  }
  reduceMean(x: GraphTensor, params: { axes: readonly number[]; keepDimensions?: boolean }): GraphTensor {
    return this.one("reduceMean", [x], { axes: params.axes, keepDimensions: params.keepDimensions ?? false });
  }
  /** `Σ x²` over all elements, as a scalar. */
  sumOfSquares(x: GraphTensor): GraphTensor {
    return this.one("sumOfSquares", [x]);
  }
  /** Sums `x` over broadcast axes down to `shape` (the adjoint of broadcasting). */
  sumToShape(x: GraphTensor, shape: readonly Dimension[]): GraphTensor {
    if (shapesEqual(x.shape, shape)) return x;
    return this.one("sumToShape", [x], { shape });
  }
  /** Broadcasts `x` to the (run-time) shape of `like`. */
  broadcastLike(x: GraphTensor, like: GraphTensor): GraphTensor {
    if (shapesEqual(x.shape, like.shape)) return x;
    return this.one("broadcastLike", [x, like]);
  }
  /** The number of elements of `x` over `axes`, as a float scalar (run-time for symbolic axes). */
  elementCount(x: GraphTensor, axes: readonly number[]): GraphTensor {
    return this.one("elementCount", [x], { axes, dtype: this.floatType });
  }
  zeros(shape: readonly number[]): GraphTensor {
    return this.one("zeros", [], { shape: shape.map(dimension), dtype: this.floatType });
  }

  /** Rows of `table [vocabulary, width]` picked by int64 `indices [...]` → `[..., width]`. */
  embedding(table: GraphTensor, indices: GraphTensor): GraphTensor {
    return this.one("embedding", [table, indices]);
  }

  // Fused ops with closed-form backward rules.
  /**
   * `softmax(query·keyᵀ + bias)·value` for `query [b, kv, g, t, d]`, `key`/`value
   * [b, kv, 1, s, d]`, `bias [b, 1, 1, t, s]`; its gradient recomputes the probabilities.
   */
  attention(query: GraphTensor, key: GraphTensor, value: GraphTensor, bias: GraphTensor): GraphTensor {
    return this.one("attention", [query, key, value, bias]);
  }
  softmax(x: GraphTensor): GraphTensor {
    return this.one("softmax", [x]);
  }
  logSoftmax(x: GraphTensor): GraphTensor {
    return this.one("logSoftmax", [x]);
  }
  /** `x / sqrt(mean(x², last axis) + epsilon) * weight`. */
  rmsNorm(x: GraphTensor, weight: GraphTensor, epsilon: number): GraphTensor {
    return this.one("rmsNorm", [x, weight], { epsilon });
  }
  /** `silu(gate) * up` (the SwiGLU MLP activation). */
  swiglu(gate: GraphTensor, up: GraphTensor): GraphTensor {
    return this.one("swiglu", [gate, up]);
  }
  /** Rotary embedding (rotate-half convention): `x·cos + rotate_half(x)·sin`; cos/sin broadcast to x. */
  rope(x: GraphTensor, cos: GraphTensor, sin: GraphTensor): GraphTensor {
    return this.one("rope", [x, cos, sin]);
  }
  /** Log-probability of `targets [...]` (int64) under `logits [..., vocabulary]`: fused log-softmax + gather. */
  tokenLogProbs(logits: GraphTensor, targets: GraphTensor): GraphTensor {
    return this.one("tokenLogProbs", [logits, targets]);
  }
  /**
   * Fused LM head + log-softmax + gather, chunked over the rows (tokens): for `hidden [N, D]`,
   * returns `log p(targets[n])` `[N]` without ever holding the full `[N, vocabulary]` logits;
   * the backward pass recomputes each chunk's logits. `weight` is `[D, V]`, or `[V, D]` with
   * `transposeWeight` (a tied embedding).
   */
  chunkedTokenLogProbs(
    hidden: GraphTensor,
    weight: GraphTensor,
    targets: GraphTensor,
    options: { chunks: number; transposeWeight?: boolean },
  ): GraphTensor {
    return this.one("chunkedTokenLogProbs", [hidden, weight, targets], {
      chunks: options.chunks,
      transposeWeight: options.transposeWeight ?? false,
    });
  }
}

/**
 * The fewest blocks of at most `largest` features that split `size` evenly; 1 (no blocking)
 * when `size` fits in one block or no block count from ⌈size/largest⌉ to `size`/2 divides it
 * (a prime width).
 */
export function innerBlockCount(params: { size: number; largest: number }): number {
  if (params.size <= params.largest) return 1;
  for (let count = Math.ceil(params.size / params.largest); count <= params.size / 2; count += 1)
    if (params.size % count === 0) return count;
  return 1;
}

export {
  broadcastShapes,
  normalizeAxis,
  requireFloat,
  requireSameDtype,
  shapeError,
  shapesEqual,
} from "./graph-checks.js";
export type { OperationName } from "./ops.js";
export { divideDimensions, productOfDimensions };
