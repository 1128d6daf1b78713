/**
 * The GRPO training graph and optimizer state, on the public engine API. Per completion
 * token (mask = trained tokens): ratio = exp(log π − log π_old),
 * pg = max(−A·ratio, −A·clip(ratio, 1 − low, 1 + high)), plus β·KL(π, π_ref) with the chosen
 * estimator; loss = Σ mask·(pg + β·kl) · loss_scale (loss_scale = 1 / trained tokens of the
 * optimizer mini-batch: a token mean). The same graph cut at the token log-probs is the
 * forward-only scorer (old and reference log-probs).
 */

import {
  type CompiledGraph,
  type DecoderModel,
  type Feed,
  GraphBuilder,
  type GraphTensor,
  parameterGradientOutputs,
  type TokenBatch,
} from "@posttrain/engine";
import { type adamWConfigSchema, GraphTrainer, tokenBatchFeeds } from "@posttrain/training";
import type { z } from "zod";
import type { Config } from "./config.js";

/** A micro-batch of completions: token rows plus per-token advantages and old/reference log-probs. */
export interface PolicyBatch extends TokenBatch {
  advantages: Float32Array;
  oldLogProbs: Float32Array;
  referenceLogProbs: Float32Array;
}

export function buildPolicyGraph(params: {
  model: DecoderModel;
  kl: Config["kl"];
  clip: Config["clip"];
  lossChunks: number;
}): { graph: GraphBuilder; training: Record<string, GraphTensor>; scoring: Record<string, GraphTensor> } {
  const graph = new GraphBuilder();
  const parameters = params.model.declareParameters(graph);
  const inputs = params.model.declareInputs(graph);
  const shape = ["batch", "sequence"];
  const labels = graph.input({ name: "labels", dtype: "int64", shape });
  const mask = graph.input({ name: "loss_mask", dtype: "float32", shape });
  const advantages = graph.input({ name: "advantages", dtype: "float32", shape });
  const old = graph.input({ name: "old_log_probs", dtype: "float32", shape });
  const lossScale = graph.input({ name: "loss_scale", dtype: "float32", shape: [] });
  const logProbs = params.model.tokenLogProbs({
    graph,
    parameters,
    inputs,
    labels,
    chunks: params.lossChunks,
  });
  const ratio = graph.exp(graph.sub(logProbs, old));
  const lower = graph.maximum(ratio, graph.scalar(1 - params.clip.low));
  const clipped = graph.neg(graph.maximum(graph.neg(lower), graph.scalar(-(1 + params.clip.high))));
  const negativeAdvantages = graph.neg(advantages);
  let perToken = graph.maximum(graph.mul(negativeAdvantages, ratio), graph.mul(negativeAdvantages, clipped));
  if (params.kl.beta > 0) {
    const reference = graph.input({ name: "reference_log_probs", dtype: "float32", shape });
    const logRatio = graph.sub(reference, logProbs);
    let kl: GraphTensor;
    if (params.kl.estimator === "k1") kl = graph.neg(logRatio);
    else if (params.kl.estimator === "k2") kl = graph.mul(graph.mul(logRatio, logRatio), graph.scalar(0.5));
    else kl = graph.sub(graph.sub(graph.exp(logRatio), graph.scalar(1)), logRatio);
    perToken = graph.add(perToken, graph.mul(kl, graph.scalar(params.kl.beta)));
  }
  const loss = graph.mul(graph.reduceSum(graph.mul(perToken, mask), { axes: [0, 1] }), lossScale);
  const training: Record<string, GraphTensor> = {
    loss,
    log_probs: logProbs,
    ...parameterGradientOutputs({ graph, loss, parameters }),
  };
  return { graph, training, scoring: { log_probs: logProbs } };
}

export class PolicyTrainer extends GraphTrainer {
  private constructor(
    readonly model: DecoderModel,
    /** The policy's parameters; generation shares this buffer, so rollouts use the current weights. */
    parameters: Float32Array,
    private readonly graphs: { training: CompiledGraph; scoring: CompiledGraph },
    adamW: z.output<typeof adamWConfigSchema>,
  ) {
    super({ parameterSpecs: model.parameterSpecs(), parameters, adamW });
  }

  static async create(params: {
    model: DecoderModel;
    kl: Config["kl"];
    clip: Config["clip"];
    lossChunks: number;
    threads: number;
    adamW: z.output<typeof adamWConfigSchema>;
    initialParameters: Float32Array;
  }): Promise<PolicyTrainer> {
    const graphs = await GraphTrainer.compileGraphs({
      ...buildPolicyGraph(params),
      name: "grpo",
      threads: params.threads,
    });
    return new PolicyTrainer(params.model, Float32Array.from(params.initialParameters), graphs, params.adamW);
  }

  private feeds(batch: TokenBatch, parameters: Float32Array): Record<string, Feed> {
    return { ...this.parameterFeeds(parameters), ...tokenBatchFeeds({ batch }) };
  }

  /** Token log-probs `[batch × sequence]` under `parameters` (default: the policy). */
  async score(params: { batch: TokenBatch; parameters?: Float32Array }): Promise<Float32Array> {
    const result = await this.graphs.scoring.run({
      feeds: this.feeds(params.batch, params.parameters ?? this.parameters),
    });
    return Float32Array.from(result["log_probs"]!.data as Float32Array);
  }

  /** Forward+backward over micro-batches (accumulating); returns the loss and each batch's current log-probs. */
  async accumulate(params: { microBatches: readonly PolicyBatch[]; lossScale: number }): Promise<{
    loss: number;
    logProbs: Float32Array[];
  }> {
    let loss = 0;
    const logProbs: Float32Array[] = [];
    for (const [index, batch] of params.microBatches.entries()) {
      const dims = [batch.batchSize, batch.sequenceLength];
      const result = await this.runAccumulating({
        graph: this.graphs.training,
        feeds: {
          ...this.feeds(batch, this.parameters),
          advantages: { data: batch.advantages, dims },
          old_log_probs: { data: batch.oldLogProbs, dims },
          reference_log_probs: { data: batch.referenceLogProbs, dims },
          loss_scale: { data: Float32Array.of(params.lossScale), dims: [] },
        },
        index,
      });
      loss += (result["loss"]!.data as Float32Array)[0]!;
      logProbs.push(Float32Array.from(result["log_probs"]!.data as Float32Array));
    }
    return { loss, logProbs };
  }

  /** Clip and AdamW update at `learningRate`. */
  update(params: { learningRate: number; maxGradientNorm: number | null }): { gradientNorm: number } {
    return this.clippedUpdate(params);
  }
}
