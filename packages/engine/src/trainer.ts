/**
 * A causal-LM training step on onnxruntime-node: one forward+backward graph (masked token
 * cross-entropy through the chunked LM head; gradients of every parameter as outputs written
 * straight into one flat gradient buffer), gradient accumulation over micro-batches, global
 * grad-norm clipping, a learning-rate schedule and AdamW over flat buffers.
 */
import { parseWithSchema, Random } from "@posttrain/core";
import { z } from "zod";
import { gradients } from "./autodiff.js";
import { isConcrete } from "./dims.js";
import { emitModel } from "./emit.js";
import { GraphBuilder, type GraphTensor } from "./graph.js";
import { type Reduction, tokenCrossEntropy } from "./losses.js";
import type { DecoderModel } from "./model/decoder.js";
import { AdamW, type AdamWOptions, clipFactor, globalGradientNorm } from "./optimizer.js";
import { ParameterLayout } from "./parameters.js";
import { type CompiledGraph, type CompileOptions, compileGraph, type Feed, OutputBuffer } from "./runtime.js";
import { type LearningRateSchedule, learningRateAt, learningRateScheduleSchema } from "./schedule.js";

/** One micro-batch of token rows, all `[batchSize, sequenceLength]` row-major. */
export interface TokenBatch {
  batchSize: number;
  sequenceLength: number;
  inputIds: BigInt64Array;
  /** Next-token targets (already shifted); any valid id where `lossMask` is 0. */
  labels: BigInt64Array;
  /** 1 where the token's loss counts, 0 elsewhere (prompt, padding). */
  lossMask: Float32Array;
  /** Defaults to 0…sequenceLength−1 on every row. */
  positionIds?: BigInt64Array;
  /** Defaults to one segment per row. */
  segmentIds?: BigInt64Array;
}

export const trainerOptionsSchema = z.object({
  schedule: learningRateScheduleSchema,
  adamW: z
    .object({
      beta1: z.number().min(0).lt(1).optional(),
      beta2: z.number().min(0).lt(1).optional(),
      epsilon: z.number().positive().optional(),
      weightDecay: z.number().min(0).optional(),
    })
    .default({}),
  /** Clip the global gradient norm to this value (none when absent). */
  maxGradientNorm: z.number().positive().optional(),
  /** `mean`: token-mean over all micro-batches of a step; `sum`: token sum. */
  reduction: z.enum(["sum", "mean"]).default("mean"),
  /** Row chunks of the fused LM head + loss. */
  lossChunks: z.number().int().positive().default(4),
});

export type TrainerOptions = z.input<typeof trainerOptionsSchema>;

export interface StepResult {
  /** The step number after this update (1 for the first). */
  step: number;
  loss: number;
  gradientNorm: number;
  learningRate: number;
  tokens: number;
  /** Wall seconds of the forward+backward runs and of clipping + AdamW. */
  seconds: { forwardBackward: number; optimizer: number };
}

function defaultPositions(batch: TokenBatch): BigInt64Array {
  const positions = new BigInt64Array(batch.batchSize * batch.sequenceLength);
  for (let index = 0; index < positions.length; index += 1)
    positions[index] = BigInt(index % batch.sequenceLength);
  return positions;
}

/**
 * `Σ g²` over every gradient, computed by ORT while each gradient is still in cache (saves a
 * pass over all gradients in JS when a step has one micro-batch) — and the graph's schedule.
 * onnxruntime orders nodes depth-first from this last output, so the order of the sum decides
 * when weight gradients run: summed from the last parameter (final norm, LM head, last layer)
 * to the first, each layer's weight gradients run right after that layer's backward pass and
 * release its activations; summed in declaration order, every weight gradient ran at the very
 * end with all activations alive (135M, 1×512: +200 MB peak RSS). (Forcing the tied LM-head
 * part of the embedding gradient to run first as well made the peak worse: its [vocab, width]
 * accumulator then lives through the whole backward pass.)
 */
function gradientSquareSum(params: { graph: GraphBuilder; gradients: readonly GraphTensor[] }): GraphTensor {
  const { graph } = params;
  return [...params.gradients]
    .reverse()
    .map((gradient) => graph.sumOfSquares(gradient))
    .reduce((total, value) => graph.add(total, value));
}

/**
 * Default {@link CausalLmTrainer.create} `gradientOutputSliceBytes`: gradient outputs larger than
 * this are emitted as row slices, so no single ORT output crosses glibc's largest mmap threshold
 * (32 MiB on 64-bit, what `allocatorEnvironment` sets), above which every malloc is a fresh
 * mmap page-faulted (and zeroed by the kernel) page by page on every step.
 */
export const defaultGradientOutputSliceBytes = 24 * 1024 * 1024;

/**
 * Row ranges `[start, end)` along axis 0 that split a float32 tensor of `shape` into slices of at
 * most `sliceBytes` each (as few and as even as possible); one range covering every row when the
 * tensor fits, is rank 0 or `sliceBytes` is 0 (slicing off).
 */
export function gradientRowSlices(params: {
  shape: readonly number[];
  sliceBytes: number;
}): { start: number; end: number }[] {
  const rows = params.shape[0] ?? 1;
  const rowBytes = 4 * params.shape.slice(1).reduce((a, b) => a * b, 1);
  const totalBytes = rows * rowBytes;
  if (params.shape.length === 0 || params.sliceBytes <= 0 || totalBytes <= params.sliceBytes || rows < 2) {
    return [{ start: 0, end: rows }];
  }
  const rowsPerSlice = Math.max(1, Math.floor(params.sliceBytes / rowBytes));
  const count = Math.ceil(rows / rowsPerSlice);
  const even = Math.ceil(rows / count);
  const slices: { start: number; end: number }[] = [];
  for (let start = 0; start < rows; start += even) slices.push({ start, end: Math.min(rows, start + even) });
  return slices;
}

/** The output name of one gradient slice: `grad:<name>`, or `grad:<name>@<first row>` when sliced. */
export function gradientOutputName(params: { name: string; start: number; sliced: boolean }): string {
  return params.sliced ? `grad:${params.name}@${params.start}` : `grad:${params.name}`;
}

/**
 * The gradient outputs of a training graph: `grad:<name>` for every parameter (in the
 * parameters' order, the {@link ParameterLayout} order) and `gradient_square_sum` (see
 * {@link gradientSquareSum}, which also fixes ORT's schedule of the backward pass). With
 * `sliceBytes`, a gradient larger than that is emitted as row slices `grad:<name>@<row>`
 * ({@link gradientRowSlices}); the values are the same, only how they leave ORT differs.
 */
export function parameterGradientOutputs(params: {
  graph: GraphBuilder;
  loss: GraphTensor;
  parameters: ReadonlyMap<string, GraphTensor>;
  sliceBytes?: number;
}): Record<string, GraphTensor> {
  const { graph } = params;
  const names = [...params.parameters.keys()];
  const grads = gradients({ graph, loss: params.loss, parameters: [...params.parameters.values()] });
  const outputs: Record<string, GraphTensor> = {};
  names.forEach((name, index) => {
    const gradient = grads[index]!;
    const concrete = gradient.shape.every(isConcrete);
    const shape = gradient.shape.map((dimension) => dimension.coefficient);
    const slices = gradientRowSlices({ shape, sliceBytes: concrete ? (params.sliceBytes ?? 0) : 0 });
    const sliced = slices.length > 1;
    for (const { start, end } of slices) {
      outputs[gradientOutputName({ name, start, sliced })] = sliced
        ? graph.slice(gradient, { axis: 0, start, end })
        : gradient;
    }
  });
  outputs["gradient_square_sum"] = gradientSquareSum({ graph, gradients: grads });
  return outputs;
}

/** Builds the training graph: loss = reduction(masked CE) · loss_scale, plus every gradient. */
export function buildCausalLmTrainingGraph(params: {
  model: DecoderModel;
  lossChunks: number;
  reduction?: Reduction;
  /** See {@link parameterGradientOutputs}; no slicing when absent. */
  gradientOutputSliceBytes?: number;
}): {
  graph: GraphBuilder;
  outputs: Record<string, GraphTensor>;
} {
  const graph = new GraphBuilder();
  const parameters = params.model.declareParameters(graph);
  const inputs = params.model.declareInputs(graph);
  const labels = graph.input({ name: "labels", dtype: "int64", shape: ["batch", "sequence"] });
  const mask = graph.input({ name: "loss_mask", dtype: "float32", shape: ["batch", "sequence"] });
  const lossScale = graph.input({ name: "loss_scale", dtype: "float32", shape: [] });
  const logProbs = params.model.tokenLogProbs({
    graph,
    parameters,
    inputs,
    labels,
    chunks: params.lossChunks,
  });
  const loss = graph.mul(
    tokenCrossEntropy({ graph, logProbs, mask, reduction: params.reduction ?? "sum" }),
    lossScale,
  );
  return {
    graph,
    outputs: {
      loss,
      ...parameterGradientOutputs({
        graph,
        loss,
        parameters,
        ...(params.gradientOutputSliceBytes === undefined
          ? {}
          : { sliceBytes: params.gradientOutputSliceBytes }),
      }),
    },
  };
}

export class CausalLmTrainer {
  readonly layout: ParameterLayout;
  readonly parameters: Float32Array;
  readonly gradients: Float32Array;
  readonly optimizer: AdamW;
  step = 0;
  private scratch: Float32Array | undefined;
  private readonly gradientOutputs: Record<string, OutputBuffer>;
  private scratchOutputs: Record<string, OutputBuffer> | undefined;
  private readonly lossOutput = new OutputBuffer(new Float32Array(1), [], "float32");
  private readonly squareSumOutput = new OutputBuffer(new Float32Array(1), [], "float32");

  private constructor(
    readonly model: DecoderModel,
    readonly options: z.output<typeof trainerOptionsSchema>,
    readonly compiled: CompiledGraph,
    parameters: Float32Array,
    private readonly gradientOutputSliceBytes: number,
  ) {
    this.layout = new ParameterLayout(model.parameterSpecs());
    this.parameters = parameters;
    this.gradients = new Float32Array(this.layout.length);
    this.optimizer = new AdamW({ layout: this.layout, options: options.adamW as AdamWOptions });
    this.gradientOutputs = this.outputViews(this.gradients);
  }

  /**
   * Compiles the training graph (ORT memory arena on, memory pattern off: see
   * {@link CompileOptions.memoryPattern}) and
   * initialises parameters from `seed` (or copies
   * `initialParameters`, a flat buffer in {@link ParameterLayout} order).
   */
  static async create(
    params: {
      model: DecoderModel;
      options: TrainerOptions;
      seed?: number;
      initialParameters?: Float32Array;
      /**
       * Gradients larger than this leave ORT as row slices (default
       * {@link defaultGradientOutputSliceBytes}; 0 = whole tensors). Values are identical either
       * way; see {@link parameterGradientOutputs} and bench/RESULTS.md for the measured effect.
       */
      gradientOutputSliceBytes?: number;
    } & CompileOptions,
  ): Promise<CausalLmTrainer> {
    const options = parseWithSchema({
      schema: trainerOptionsSchema,
      value: params.options,
      label: "trainer options",
    });
    const gradientOutputSliceBytes = params.gradientOutputSliceBytes ?? defaultGradientOutputSliceBytes;
    const { graph, outputs } = buildCausalLmTrainingGraph({
      model: params.model,
      lossChunks: options.lossChunks,
      gradientOutputSliceBytes,
    });
    const compiled = await compileGraph({
      model: emitModel({ graph, outputs, name: "causal-lm-train" }),
      ...(params.executionProvider === undefined ? {} : { executionProvider: params.executionProvider }),
      ...(params.threads === undefined ? {} : { threads: params.threads }),
      ...(params.optimizationLevel === undefined ? {} : { optimizationLevel: params.optimizationLevel }),
      ...(params.memoryArena === undefined ? {} : { memoryArena: params.memoryArena }),
      ...(params.memoryPattern === undefined ? {} : { memoryPattern: params.memoryPattern }),
      ...(params.profileFilePrefix === undefined ? {} : { profileFilePrefix: params.profileFilePrefix }),
    });
    const layout = new ParameterLayout(params.model.parameterSpecs());
    let parameters: Float32Array;
    if (params.initialParameters !== undefined) {
      if (params.initialParameters.length !== layout.length) {
        throw new Error(`initialParameters must have ${layout.length} floats`);
      }
      parameters = Float32Array.from(params.initialParameters);
    } else {
      parameters = new Float32Array(layout.length);
      params.model.initializeFlat({
        random: Random.fromSeed(params.seed ?? 0).stream("init"),
        layout,
        buffer: parameters,
      });
    }
    return new CausalLmTrainer(params.model, options, compiled, parameters, gradientOutputSliceBytes);
  }

  private outputViews(buffer: Float32Array): Record<string, OutputBuffer> {
    const outputs: Record<string, OutputBuffer> = {};
    for (const entry of this.layout.entries) {
      const view = this.layout.view(buffer, entry.name);
      const slices = gradientRowSlices({ shape: entry.shape, sliceBytes: this.gradientOutputSliceBytes });
      const sliced = slices.length > 1;
      const rowSize = entry.shape.slice(1).reduce((a, b) => a * b, 1);
      for (const { start, end } of slices) {
        outputs[gradientOutputName({ name: entry.name, start, sliced })] = sliced
          ? new OutputBuffer(
              view.subarray(start * rowSize, end * rowSize),
              [end - start, ...entry.shape.slice(1)],
              "float32",
            )
          : new OutputBuffer(view, entry.shape, "float32");
      }
    }
    return outputs;
  }

  private feeds(batch: TokenBatch, lossScale: number): Record<string, Feed> {
    const dims = [batch.batchSize, batch.sequenceLength];
    const feeds: Record<string, Feed> = {
      input_ids: { data: batch.inputIds, dims },
      labels: { data: batch.labels, dims },
      loss_mask: { data: batch.lossMask, dims },
      position_ids: { data: batch.positionIds ?? defaultPositions(batch), dims },
      segment_ids: {
        data: batch.segmentIds ?? new BigInt64Array(batch.batchSize * batch.sequenceLength),
        dims,
      },
      loss_scale: { data: Float32Array.of(lossScale), dims: [] },
    };
    for (const entry of this.layout.entries)
      feeds[entry.name] = { data: this.layout.view(this.parameters, entry.name), dims: entry.shape };
    return feeds;
  }

  /** Runs forward+backward over the micro-batches, accumulating into {@link CausalLmTrainer.gradients}. */
  async accumulateGradients(microBatches: readonly TokenBatch[]): Promise<{ loss: number; tokens: number }> {
    let tokens = 0;
    for (const batch of microBatches) for (const value of batch.lossMask) tokens += value;
    const lossScale = this.options.reduction === "mean" ? 1 / Math.max(1, tokens) : 1;
    let loss = 0;
    for (const [index, batch] of microBatches.entries()) {
      const accumulate = index > 0;
      if (accumulate && this.scratch === undefined) {
        this.scratch = new Float32Array(this.layout.length);
        this.scratchOutputs = this.outputViews(this.scratch);
      }
      await this.compiled.run({
        feeds: this.feeds(batch, lossScale),
        outputs: {
          ...(accumulate ? this.scratchOutputs! : this.gradientOutputs),
          loss: this.lossOutput,
          gradient_square_sum: this.squareSumOutput,
        },
      });
      loss += this.lossOutput.data[0] as number;
      if (accumulate) {
        const gradients = this.gradients;
        const scratch = this.scratch!;
        for (let position = 0; position < gradients.length; position += 1)
          gradients[position]! += scratch[position]!;
      }
    }
    return { loss, tokens };
  }

  /** One optimizer step over `microBatches` (gradient accumulation when there are several). */
  async trainStep(params: { microBatches: readonly TokenBatch[] }): Promise<StepResult> {
    if (params.microBatches.length === 0) throw new Error("trainStep needs at least one micro-batch");
    const started = performance.now();
    const { loss, tokens } = await this.accumulateGradients(params.microBatches);
    const backwardDone = performance.now();
    // One micro-batch: the graph already summed g²; several: the accumulated buffer is new.
    const gradientNorm =
      params.microBatches.length === 1
        ? Math.sqrt(this.squareSumOutput.data[0] as number)
        : globalGradientNorm(this.gradients);
    const learningRate = learningRateAt({
      schedule: this.options.schedule as LearningRateSchedule,
      step: this.step,
    });
    this.optimizer.update({
      parameters: this.parameters,
      gradients: this.gradients,
      learningRate,
      gradientScale: clipFactor({ norm: gradientNorm, maxNorm: this.options.maxGradientNorm }),
    });
    this.step += 1;
    return {
      step: this.step,
      loss,
      gradientNorm,
      learningRate,
      tokens,
      seconds: {
        forwardBackward: (backwardDone - started) / 1000,
        optimizer: (performance.now() - backwardDone) / 1000,
      },
    };
  }
}
