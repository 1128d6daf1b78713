/**
 * The state and bookkeeping a stage-specific training graph needs (the DPO and GRPO trainers
 * extend it): the parameters, their {@link ParameterLayout}, a gradient buffer, AdamW and the
 * step counter (the fields the engine's checkpoint functions read and restore), the parameter
 * feeds, gradient accumulation over micro-batches and the clipped AdamW update.
 */

import type {
  CausalLmTrainer,
  GraphBuilder,
  GraphTensor,
  ParameterSpec,
  TokenBatch,
} from "@posttrain/engine";
import {
  AdamW,
  type CompiledGraph,
  clipFactor,
  compileGraph,
  emitModel,
  type Feed,
  globalGradientNorm,
  OutputBuffer,
  ParameterLayout,
} from "@posttrain/engine";
import type { z } from "zod";
import type { adamWConfigSchema } from "./config-schemas.js";

/**
 * The feeds of a token micro-batch under the graph inputs `<prefix>input_ids`, `position_ids`,
 * `segment_ids`, `labels` and `loss_mask` (prefix e.g. `chosen_`; none by default).
 */
export function tokenBatchFeeds(params: { batch: TokenBatch; prefix?: string }): Record<string, Feed> {
  const { batch } = params;
  const prefix = params.prefix ?? "";
  const dims = [batch.batchSize, batch.sequenceLength];
  return {
    [`${prefix}input_ids`]: { data: batch.inputIds, dims },
    [`${prefix}position_ids`]: { data: batch.positionIds!, dims },
    [`${prefix}segment_ids`]: { data: batch.segmentIds!, dims },
    [`${prefix}labels`]: { data: batch.labels, dims },
    [`${prefix}loss_mask`]: { data: batch.lossMask, dims },
  };
}

export class GraphTrainer {
  /** The trained parameters, engine layout (`[in, out]`); updated in place. */
  readonly parameters: Float32Array;
  readonly layout: ParameterLayout;
  /** The accumulated gradients of the current step, in layout order. */
  readonly gradients: Float32Array;
  readonly optimizer: AdamW;
  step = 0;
  private scratch: Float32Array | undefined;
  private scratchOutputs: Record<string, OutputBuffer> | undefined;
  private readonly gradientOutputs: Record<string, OutputBuffer>;

  protected constructor(params: {
    parameterSpecs: readonly ParameterSpec[];
    /** Owned by the trainer (callers pass a copy). */
    parameters: Float32Array;
    adamW: z.output<typeof adamWConfigSchema>;
  }) {
    this.parameters = params.parameters;
    this.layout = new ParameterLayout(params.parameterSpecs);
    this.gradients = new Float32Array(this.layout.length);
    this.optimizer = new AdamW({ layout: this.layout, options: params.adamW });
    this.gradientOutputs = this.outputViews(this.gradients);
  }

  /**
   * This trainer as the engine's `saveCheckpoint` / `restoreCheckpoint` expect: they read and
   * write only `step`, `parameters`, `optimizer` and `layout`, which every GraphTrainer has
   * (their parameter type is the nominal `CausalLmTrainer` class, hence the cast).
   */
  asCheckpointTarget(): CausalLmTrainer {
    return this as unknown as CausalLmTrainer;
  }

  /**
   * Compiles a stage graph twice: its training outputs (loss, gradients; `<name>-train`) and
   * its forward-only cut (`<name>-score`: reference and held-out scoring).
   */
  protected static async compileGraphs(params: {
    graph: GraphBuilder;
    training: Record<string, GraphTensor>;
    scoring: Record<string, GraphTensor>;
    name: string;
    threads: number;
  }): Promise<{ training: CompiledGraph; scoring: CompiledGraph }> {
    const compile = (outputs: Record<string, GraphTensor>, suffix: string) =>
      compileGraph({
        model: emitModel({ graph: params.graph, outputs, name: `${params.name}-${suffix}` }),
        threads: params.threads,
      });
    return {
      training: await compile(params.training, "train"),
      scoring: await compile(params.scoring, "score"),
    };
  }

  /** `grad:<name>` output buffers viewing `buffer` (the graph writes gradients in place). */
  private outputViews(buffer: Float32Array): Record<string, OutputBuffer> {
    const outputs: Record<string, OutputBuffer> = {};
    for (const entry of this.layout.entries)
      outputs[`grad:${entry.name}`] = new OutputBuffer(
        this.layout.view(buffer, entry.name),
        entry.shape,
        "float32",
      );
    return outputs;
  }

  /** One feed per parameter (named as the layout), viewing `parameters`. */
  protected parameterFeeds(parameters: Float32Array): Record<string, Feed> {
    const feeds: Record<string, Feed> = {};
    for (const entry of this.layout.entries)
      feeds[entry.name] = { data: this.layout.view(parameters, entry.name), dims: entry.shape };
    return feeds;
  }

  /**
   * Runs a forward+backward graph for micro-batch `index` of a step: micro-batch 0 writes
   * {@link gradients}, later ones write a scratch buffer that is then added into them.
   */
  protected async runAccumulating(params: {
    graph: CompiledGraph;
    feeds: Record<string, Feed>;
    index: number;
  }): Promise<Record<string, Feed>> {
    const accumulate = params.index > 0;
    if (accumulate && this.scratch === undefined) {
      this.scratch = new Float32Array(this.layout.length);
      this.scratchOutputs = this.outputViews(this.scratch);
    }
    const result = await params.graph.run({
      feeds: params.feeds,
      outputs: accumulate ? this.scratchOutputs! : this.gradientOutputs,
    });
    if (accumulate) {
      const gradients = this.gradients;
      const scratch = this.scratch!;
      for (let position = 0; position < gradients.length; position += 1)
        gradients[position]! += scratch[position]!;
    }
    return result;
  }

  /** Clips the gradients to `maxGradientNorm` (none when null) and applies AdamW at `learningRate`. */
  protected clippedUpdate(params: { learningRate: number; maxGradientNorm: number | null }): {
    gradientNorm: number;
  } {
    const gradientNorm = globalGradientNorm(this.gradients);
    this.optimizer.update({
      parameters: this.parameters,
      gradients: this.gradients,
      learningRate: params.learningRate,
      gradientScale: clipFactor({ norm: gradientNorm, maxNorm: params.maxGradientNorm ?? undefined }),
    });
    return { gradientNorm };
  }
}
