/**
 * Runs emitted graphs with onnxruntime-node. A {@link CompiledGraph} wraps one
 * `InferenceSession` (cached by model hash and options, so one session serves every step and
 * every shape), feeds typed arrays without copying, and writes outputs into preallocated
 * buffers that are reused every call.
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { sha256Hex } from "@posttrain/core";
import * as ort from "onnxruntime-node";
import type { EmittedModel } from "./emit.js";
import { ExecutionProviderError, RuntimeInputError } from "./errors.js";
import type { DataType } from "./graph.js";

/** Execution providers accepted by {@link compileGraph}; only `cpu` ships in every binary. */
export type ExecutionProvider = "cpu" | "cuda" | "webgpu";

export interface CompileOptions {
  /** Defaults to `cpu`. Others must be present in the installed onnxruntime-node binary. */
  executionProvider?: ExecutionProvider;
  /** Intra-op threads; defaults to the number of CPU cores. */
  threads?: number;
  /**
   * Defaults to `all` (fuses Transpose+MatMul, elementwise chains, ...), or `basic` for
   * float64 graphs: ORT's extended fusions (e.g. QuickGelu from x·sigmoid(x)) have float32
   * kernels only.
   */
  optimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /**
   * ORT's CPU memory arena (default true). The arena grows in power-of-two extensions and
   * keeps its peak; without it intermediates go back to the allocator as soon as they die.
   */
  memoryArena?: boolean;
  /**
   * ORT's memory pattern (default false): after a run it plans every intermediate of that
   * input shape into one block allocated per run. Measured on the training graphs
   * (bench/RESULTS.md, 2026-11-28): with the pattern on, that block is page-faulted afresh
   * each step (9M: 2.3 s vs 0.98 s of CPU per step without the arena; 135M: 4.7 GB vs 3.4 GB
   * peak RSS with the arena), so per-tensor allocation from the arena is both faster and smaller.
   */
  memoryPattern?: boolean;
  /**
   * Writes an ONNX Runtime profile (Chrome trace JSON, one event per node run) to
   * `<profileFilePrefix>_<timestamp>.json` (a path prefix, relative to the working directory
   * unless absolute), finished by
   * {@link CompiledGraph.endProfiling}. For benchmarks (bench/src/engine/profile.ts); off by default.
   */
  profileFilePrefix?: string;
}

/**
 * glibc malloc settings for a process that trains through onnxruntime-node, to be set in its
 * environment before it starts (glibc reads them once). The node binding has ORT allocate
 * every output (all gradients, every step) with plain malloc and copies it into the
 * preallocated buffer; with glibc's defaults the heap is trimmed and regrown around those
 * blocks each step, so every step page-faults its outputs afresh. A fixed 32 MiB mmap
 * threshold and a trim threshold no step reaches keep that memory in the heap: at the
 * SmolLM2-135M shape (1×512, one thread) system time fell from 0.88 to 0.28 s per step and
 * CPU time by 20%, at the same peak RSS (bench/RESULTS.md). The `posttrain` bin sets them in
 * its shebang; the root scripts and benchmarks set them for both sides of a comparison.
 */
export const allocatorEnvironment = {
  MALLOC_MMAP_THRESHOLD_: "33554432",
  MALLOC_TRIM_THRESHOLD_: "17179869184",
} as const;

/** Typed array for each dtype. */
export type TypedArrayFor<T extends DataType> = T extends "float32"
  ? Float32Array
  : T extends "float64"
    ? Float64Array
    : T extends "int64"
      ? BigInt64Array
      : Uint8Array;

/** A run input: data in row-major order and its concrete dimensions. */
export interface Feed {
  data: Float32Array | Float64Array | BigInt64Array | Uint8Array;
  dims: readonly number[];
}

const ortTypes: Record<DataType, ort.Tensor.Type> = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  bool: "bool",
};

/**
 * A preallocated output: ONNX Runtime writes into `data` on every run where its dims match.
 * `data` may be a view into a larger buffer (e.g. one flat gradient buffer).
 */
export class OutputBuffer {
  readonly tensor: ort.Tensor;
  constructor(
    readonly data: Float32Array | Float64Array | BigInt64Array | Uint8Array,
    readonly dims: readonly number[],
    dtype: DataType,
  ) {
    this.tensor = new ort.Tensor(ortTypes[dtype], data as never, [...dims]);
  }
}

function toTensor(name: string, dtype: DataType, feed: Feed | ort.Tensor): ort.Tensor {
  if (feed instanceof ort.Tensor) return feed;
  const count = feed.dims.reduce((a, b) => a * b, 1);
  if (count !== feed.data.length) {
    throw new RuntimeInputError({
      message: `input ${name}: ${feed.data.length} values for dims [${feed.dims.join(", ")}]`,
    });
  }
  return new ort.Tensor(ortTypes[dtype], feed.data as never, [...feed.dims]);
}

function usesFloat64(model: EmittedModel): boolean {
  return [...model.inputs, ...Object.values(model.outputs)].some((tensor) => tensor.dtype === "float64");
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/**
 * Names of the execution providers usable with this onnxruntime-node install. The npm binary
 * lists CUDA/TensorRT as compiled in, but their provider libraries exist only when the
 * package's install step downloaded them, so those are listed only when the files are there.
 */
export function availableExecutionProviders(): string[] {
  const binaryDirectory = join(
    dirname(createRequire(import.meta.url).resolve("onnxruntime-node")),
    "..",
    "bin",
  );
  let files: string[] = [];
  try {
    files = readdirSync(binaryDirectory, { recursive: true }).map(String);
  } catch {
    files = [];
  }
  return ort
    .listSupportedBackends()
    .map((backend) => backend.name)
    .filter(
      (name) =>
        !["cuda", "tensorrt"].includes(name) ||
        files.some((file) => file.endsWith(`libonnxruntime_providers_${name}.so`)),
    );
}

/** A compiled graph: one cached session plus the input/output metadata of its model. */
export class CompiledGraph {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly model: EmittedModel,
    readonly hash: string,
  ) {}

  /** Compiles (or reuses) a session for `model`; see {@link CompileOptions}. */
  static async create(params: { model: EmittedModel } & CompileOptions): Promise<CompiledGraph> {
    const executionProvider = params.executionProvider ?? "cpu";
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [executionProvider],
      intraOpNumThreads: params.threads ?? cpus().length,
      interOpNumThreads: 1,
      graphOptimizationLevel: params.optimizationLevel ?? (usesFloat64(params.model) ? "basic" : "all"),
      executionMode: "sequential",
      enableCpuMemArena: params.memoryArena ?? true,
      enableMemPattern: params.memoryPattern ?? false,
      ...(params.profileFilePrefix === undefined
        ? {}
        : { enableProfiling: true, profileFilePrefix: params.profileFilePrefix }),
    };
    const hash = sha256Hex(params.model.bytes);
    const key = `${hash}:${executionProvider}:${options.intraOpNumThreads}:${options.graphOptimizationLevel}:${options.enableCpuMemArena}:${options.enableMemPattern}:${params.profileFilePrefix ?? ""}`;
    let session = sessions.get(key);
    if (session === undefined) {
      if (executionProvider !== "cpu" && !availableExecutionProviders().includes(executionProvider)) {
        throw new ExecutionProviderError({
          message: `execution provider ${executionProvider} is not in this onnxruntime-node build (available: ${availableExecutionProviders().join(", ")})`,
        });
      }
      session = ort.InferenceSession.create(params.model.bytes, options).catch((error: unknown) => {
        sessions.delete(key);
        if (executionProvider !== "cpu") {
          throw new ExecutionProviderError({
            message: `execution provider ${executionProvider} failed to start`,
            cause: error,
          });
        }
        throw error;
      });
      sessions.set(key, session);
    }
    return new CompiledGraph(await session, params.model, hash);
  }

  /**
   * Runs the graph. `feeds` maps every model input name to its data; `outputs` maps output
   * names to preallocated buffers (outputs not listed are allocated by ONNX Runtime and
   * returned as fresh arrays).
   */
  async run(params: {
    feeds: Readonly<Record<string, Feed | ort.Tensor>>;
    outputs?: Readonly<Record<string, OutputBuffer>>;
  }): Promise<Record<string, Feed>> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of this.model.inputs) {
      const feed = params.feeds[input.name];
      if (feed === undefined)
        throw new RuntimeInputError({ message: `missing input ${input.name} (${input.describe()})` });
      feeds[input.name] = toTensor(input.name, input.dtype, feed);
    }
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of Object.keys(this.model.outputs))
      fetches[name] = params.outputs?.[name]?.tensor ?? null;
    const results = await this.session.run(feeds, fetches);
    const values: Record<string, Feed> = {};
    for (const [name, tensor] of Object.entries(results)) {
      values[name] = { data: tensor.data as Feed["data"], dims: tensor.dims };
    }
    return values;
  }

  /** Ends a profile started with {@link CompileOptions.profileFilePrefix} and writes its file. */
  endProfiling(): void {
    this.session.endProfiling();
  }
}

/** Compiles an emitted model into a {@link CompiledGraph} (sessions are cached by model hash and options). */
export function compileGraph(params: { model: EmittedModel } & CompileOptions): Promise<CompiledGraph> {
  return CompiledGraph.create(params);
}
