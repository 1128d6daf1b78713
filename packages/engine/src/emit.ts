/**
 * Lowers a recorded graph to an opset-17 ONNX model. Each op's `emit` writes standard ONNX
 * nodes through an {@link Emitter}, which also provides cached constants and run-time values
 * of symbolic dimensions (read with `Shape` from the graph input that declares the symbol).
 */
import { type Dimension, dimensionsEqual, formatDimension, isConcrete } from "./dims.js";
import { GraphError } from "./errors.js";
import type { DataType, GraphBuilder, GraphNode, GraphTensor } from "./graph.js";
import { encodeModel, type OnnxMessage, onnxAttributeTypes, onnxDataTypes } from "./onnx-proto.js";
import { operations } from "./ops.js";

/** The opset every emitted model imports. */
export const opsetVersion = 17;

/** An ONNX node attribute, tagged by its ONNX type. */
export type OnnxAttribute =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string }
  | { tensor: OnnxMessage };

function typedBytes(values: ArrayBufferView): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** An ONNX TensorProto (raw little-endian data). */
export function tensorProto(params: {
  name?: string;
  dtype: DataType;
  dims: readonly number[];
  values: Float32Array | Float64Array | BigInt64Array | Uint8Array;
}): OnnxMessage {
  return {
    ...(params.name === undefined ? {} : { name: params.name }),
    dims: [...params.dims],
    dataType: onnxDataTypes[params.dtype],
    rawData: typedBytes(params.values),
  };
}

export function typedValues(
  dtype: DataType,
  values: readonly number[],
): Float32Array | Float64Array | BigInt64Array | Uint8Array {
  if (dtype === "float32") return Float32Array.from(values);
  if (dtype === "float64") return Float64Array.from(values);
  if (dtype === "int64") return BigInt64Array.from(values.map((value) => BigInt(value)));
  return Uint8Array.from(values);
}

/** Where a symbol's run-time value can be read: an input tensor and axis. */
interface SymbolSource {
  tensor: string;
  axis: number;
}

export class Emitter {
  readonly nodes: OnnxMessage[] = [];
  readonly initializers: OnnxMessage[] = [];
  private counter = 0;
  private readonly cache = new Map<string, string>();
  /** The graph op being lowered; prefixes node names so profiles show which op a node came from. */
  scope = "graph";

  constructor(private readonly symbolSources: ReadonlyMap<string, SymbolSource>) {}

  /** A fresh intermediate name. */
  fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  /** Adds one ONNX node and returns its output names (fresh unless given). */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, OnnxAttribute>> = {},
    outputs: readonly string[] | number = 1,
  ): string[] {
    const outputNames =
      typeof outputs === "number"
        ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()))
        : [...outputs];
    const attribute = Object.entries(attributes).map(([name, value]) => {
      if ("int" in value) return { name, type: onnxAttributeTypes.int, i: value.int };
      if ("float" in value) return { name, type: onnxAttributeTypes.float, f: value.float };
      if ("ints" in value) return { name, type: onnxAttributeTypes.ints, ints: [...value.ints] };
      if ("floats" in value) return { name, type: onnxAttributeTypes.floats, floats: [...value.floats] };
      if ("string" in value)
        return { name, type: onnxAttributeTypes.string, s: new TextEncoder().encode(value.string) };
      return { name, type: onnxAttributeTypes.tensor, t: value.tensor };
    });
    this.nodes.push({
      opType,
      input: [...inputs],
      output: outputNames,
      name: this.fresh(`${this.scope}/${opType}`),
      attribute,
    });
    return outputNames;
  }

  /** One-output shorthand for {@link Emitter.node}. */
  one(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, OnnxAttribute>> = {},
    output?: string,
  ): string {
    return this.node(opType, inputs, attributes, output === undefined ? 1 : [output])[0]!;
  }

  /** Emits `create` once per key and reuses its output name (e.g. a table shared by all layers). */
  memo(key: string, create: () => string): string {
    return this.cached(`memo:${key}`, create);
  }

  private cached(key: string, create: () => string): string {
    const existing = this.cache.get(key);
    if (existing !== undefined) return existing;
    const name = create();
    this.cache.set(key, name);
    return name;
  }

  /** A cached constant initializer. */
  constant(dtype: DataType, dims: readonly number[], values: readonly number[]): string {
    return this.cached(`const:${dtype}:${dims.join(",")}:${values.join(",")}`, () => {
      const name = this.fresh("const");
      this.initializers.push(tensorProto({ name, dtype, dims, values: typedValues(dtype, values) }));
      return name;
    });
  }

  /** A rank-0 constant. */
  scalar(value: number, dtype: DataType): string {
    return this.constant(dtype, [], [value]);
  }

  /** A 1-D int64 constant (axes, shapes, split sizes). */
  int64s(values: readonly number[]): string {
    return this.constant("int64", [values.length], values);
  }

  /** A tensor attribute holding one value (for ConstantOfShape). */
  valueAttribute(value: number, dtype: DataType): OnnxAttribute {
    return { tensor: tensorProto({ dtype, dims: [1], values: typedValues(dtype, [value]) }) };
  }

  /** The run-time value of a dimension as an int64 `[1]` tensor. */
  dimensionValue(value: Dimension): string {
    if (isConcrete(value)) return this.int64s([value.coefficient]);
    return this.cached(`dim:${formatDimension(value)}`, () => {
      let product: string | undefined;
      for (const symbol of value.symbols) {
        const source = this.symbolSources.get(symbol);
        if (source === undefined) {
          throw new GraphError({
            message: `symbolic dimension ${symbol} has no graph input to read it from`,
          });
        }
        const part = this.cached(`symbol:${symbol}`, () =>
          this.one("Shape", [source.tensor], { start: { int: source.axis }, end: { int: source.axis + 1 } }),
        );
        product = product === undefined ? part : this.one("Mul", [product, part]);
      }
      if (value.coefficient !== 1) product = this.one("Mul", [product!, this.int64s([value.coefficient])]);
      return product!;
    });
  }

  /**
   * An int64 shape tensor for Reshape/Expand to `target`. Symbolic entries equal to the
   * input's dimension at the same axis become 0 (copy); a single remaining one becomes -1;
   * otherwise their run-time values are concatenated.
   */
  shapeTensor(target: readonly Dimension[], inputShape: readonly Dimension[] = []): string {
    const entries = target.map((value, axis) => {
      if (isConcrete(value)) return value.coefficient;
      const same = inputShape[axis];
      if (same !== undefined && dimensionsEqual(same, value)) return 0;
      return undefined;
    });
    const unknown = entries.filter((entry) => entry === undefined).length;
    if (unknown === 0) return this.int64s(entries as number[]);
    if (unknown === 1) return this.int64s(entries.map((entry) => entry ?? -1));
    const parts = target.map((value, axis) => {
      const entry = entries[axis];
      return entry === undefined ? this.dimensionValue(value) : this.int64s([entry]);
    });
    return this.one("Concat", parts, { axis: { int: 0 } });
  }
}

function valueInfo(name: string, tensor: GraphTensor): OnnxMessage {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnxDataTypes[tensor.dtype],
        shape: {
          dim: tensor.shape.map((value) =>
            isConcrete(value) ? { dimValue: value.coefficient } : { dimParam: formatDimension(value) },
          ),
        },
      },
    },
  };
}

/** The emitted model plus what a runtime needs to feed and fetch it. */
export interface EmittedModel {
  bytes: Uint8Array;
  /** Graph inputs the model actually reads, in declaration order. */
  inputs: GraphTensor[];
  /** Output name → tensor. */
  outputs: Record<string, GraphTensor>;
  nodeCount: number;
}

/**
 * Emits the nodes needed for `outputs` (pruning everything else, including unread inputs).
 * Output names are the keys of `outputs`.
 */
export function emitModel(params: {
  graph: GraphBuilder;
  outputs: Record<string, GraphTensor>;
  name?: string;
}): EmittedModel {
  const { graph, outputs } = params;
  const needed = new Set<GraphNode>();
  const neededTensors = new Set<GraphTensor>();
  const stack = Object.values(outputs);
  for (const tensor of stack) {
    if (tensor.graph !== graph)
      throw new GraphError({ message: `output ${tensor.name} belongs to another graph` });
  }
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (neededTensors.has(tensor)) continue;
    neededTensors.add(tensor);
    if (tensor.producer !== undefined && !needed.has(tensor.producer)) {
      needed.add(tensor.producer);
      stack.push(...tensor.producer.inputs);
    }
  }
  const inputs = graph.inputs.filter((input) => neededTensors.has(input.tensor)).map((input) => input.tensor);
  const symbolSources = new Map<string, SymbolSource>();
  for (const input of inputs) {
    input.shape.forEach((value, axis) => {
      if (value.coefficient === 1 && value.symbols.length === 1 && !symbolSources.has(value.symbols[0]!)) {
        symbolSources.set(value.symbols[0]!, { tensor: input.name, axis });
      }
    });
  }
  const emitter = new Emitter(symbolSources);
  for (const node of graph.nodes) {
    if (!needed.has(node)) continue;
    emitter.scope = node.op;
    operations[node.op].emit(emitter, node);
  }
  for (const constant of graph.constants) {
    if (!neededTensors.has(constant.tensor)) continue;
    emitter.initializers.push(
      tensorProto({
        name: constant.tensor.name,
        dtype: constant.tensor.dtype,
        dims: constant.tensor.shape.map((value) => value.coefficient),
        values: constant.values,
      }),
    );
  }
  // Give each requested output its public name. A tensor produced by a node is renamed in
  // place (an Identity would keep an internal copy of every gradient alive until it ran);
  // inputs, constants and repeated outputs get an Identity.
  const inputNames = new Set(inputs.map((input) => input.name));
  const renamed = new Map<string, string>();
  const aliases: [string, string][] = [];
  for (const [name, tensor] of Object.entries(outputs)) {
    if (inputNames.has(name) && tensor.name !== name)
      throw new GraphError({ message: `output name ${name} is an input name` });
    if (tensor.name === name) continue;
    if (tensor.producer !== undefined && !renamed.has(tensor.name)) renamed.set(tensor.name, name);
    else aliases.push([renamed.get(tensor.name) ?? tensor.name, name]);
  }
  const rename = (value: string) => renamed.get(value) ?? value;
  for (const node of emitter.nodes) {
    node["input"] = (node["input"] as string[]).map(rename);
    node["output"] = (node["output"] as string[]).map(rename);
  }
  emitter.scope = "output";
  for (const [source, name] of aliases) emitter.one("Identity", [source], {}, name);
  const model = {
    irVersion: 8,
    producerName: "posttrain-engine",
    producerVersion: "0.1.0",
    opsetImport: [{ domain: "", version: opsetVersion }],
    graph: {
      name: params.name ?? "posttrain",
      node: emitter.nodes,
      initializer: emitter.initializers,
      input: inputs.map((input) => valueInfo(input.name, input)),
      output: Object.entries(outputs).map(([name, tensor]) => valueInfo(name, tensor)),
    },
  };
  return { bytes: encodeModel(model), inputs, outputs: { ...outputs }, nodeCount: emitter.nodes.length };
}
