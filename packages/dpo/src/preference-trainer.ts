/**
 * The DPO training graph and optimizer state, built from the public engine API (GraphBuilder
 * + DecoderModel + sequenceLogProbs + gradients): both sides of each pair run through the same
 * parameters, the per-pair loss (loss.ts) is summed and scaled by `loss_scale`, and every
 * parameter gradient is an output written straight into a flat buffer. The same graph, cut at
 * the per-sequence log-probs, is the forward-only scoring model (reference log-probs,
 * held-out evaluation). AdamW, clipping and schedule come from the engine.
 */

import {
  type CompiledGraph,
  type DecoderModel,
  GraphBuilder,
  type GraphTensor,
  type LearningRateSchedule,
  learningRateAt,
  parameterGradientOutputs,
  sequenceLogProbs,
} from "@posttrain/engine";
import { type adamWConfigSchema, GraphTrainer, tokenBatchFeeds } from "@posttrain/training";
import type { z } from "zod";
import { type LossConfig, usesAveragedLogProbs, usesReference } from "./config.js";
import { preferenceLoss } from "./loss.js";
import type { PairBatch } from "./pairs.js";

const sides = ["chosen", "rejected"] as const;

/** Builds the preference graph; returns the training and scoring output sets. */
export function buildPreferenceGraph(params: { model: DecoderModel; loss: LossConfig; lossChunks: number }): {
  graph: GraphBuilder;
  training: Record<string, GraphTensor>;
  scoring: Record<string, GraphTensor>;
} {
  const graph = new GraphBuilder();
  const parameters = params.model.declareParameters(graph);
  const shape = ["batch", "sequence"];
  const sequences = new Map<string, { sum: GraphTensor; mean: GraphTensor }>();
  for (const side of sides) {
    const inputs = {
      inputIds: graph.input({ name: `${side}_input_ids`, dtype: "int64", shape }),
      positionIds: graph.input({ name: `${side}_position_ids`, dtype: "int64", shape }),
      segmentIds: graph.input({ name: `${side}_segment_ids`, dtype: "int64", shape }),
    };
    const labels = graph.input({ name: `${side}_labels`, dtype: "int64", shape });
    const mask = graph.input({ name: `${side}_loss_mask`, dtype: "float32", shape });
    const logProbs = params.model.tokenLogProbs({
      graph,
      parameters,
      inputs,
      labels,
      chunks: params.lossChunks,
    });
    sequences.set(side, sequenceLogProbs({ graph, logProbs, mask }));
  }
  const averaged = usesAveragedLogProbs(params.loss.type);
  const chosen = sequences.get("chosen")!;
  const rejected = sequences.get("rejected")!;
  const policyChosen = averaged ? chosen.mean : chosen.sum;
  const policyRejected = averaged ? rejected.mean : rejected.sum;
  const reference = usesReference(params.loss.type);
  const losses = preferenceLoss(graph, params.loss, {
    policyChosen,
    policyRejected,
    referenceChosen: reference
      ? graph.input({ name: "reference_chosen", dtype: "float32", shape: ["batch"] })
      : null,
    referenceRejected: reference
      ? graph.input({ name: "reference_rejected", dtype: "float32", shape: ["batch"] })
      : null,
    policyChosenMean: chosen.mean,
    policyRejectedMean: rejected.mean,
  });
  const lossScale = graph.input({ name: "loss_scale", dtype: "float32", shape: [] });
  const loss = graph.mul(graph.reduceSum(losses, { axes: [0] }), lossScale);
  const scoring = {
    policy_chosen: policyChosen,
    policy_rejected: policyRejected,
    policy_chosen_mean: chosen.mean,
    policy_rejected_mean: rejected.mean,
  };
  const training: Record<string, GraphTensor> = {
    loss,
    ...scoring,
    ...parameterGradientOutputs({ graph, loss, parameters }),
  };
  return { graph, training, scoring };
}

/** Per-pair sequence log-probs of one micro-batch (in the loss type's reduction, plus means). */
export interface PairScores {
  chosen: Float32Array;
  rejected: Float32Array;
  chosenMean: Float32Array;
  rejectedMean: Float32Array;
}

export class PreferenceTrainer extends GraphTrainer {
  private constructor(
    readonly model: DecoderModel,
    parameters: Float32Array,
    private readonly graphs: { training: CompiledGraph; scoring: CompiledGraph },
    adamW: z.output<typeof adamWConfigSchema>,
  ) {
    super({ parameterSpecs: model.parameterSpecs(), parameters, adamW });
  }

  static async create(params: {
    model: DecoderModel;
    loss: LossConfig;
    lossChunks: number;
    threads: number;
    adamW: z.output<typeof adamWConfigSchema>;
    initialParameters: Float32Array;
  }): Promise<PreferenceTrainer> {
    const graphs = await GraphTrainer.compileGraphs({
      ...buildPreferenceGraph(params),
      name: "preference",
      threads: params.threads,
    });
    return new PreferenceTrainer(
      params.model,
      Float32Array.from(params.initialParameters),
      graphs,
      params.adamW,
    );
  }

  /** Sequence log-probs of a micro-batch under `parameters` (default: the policy). */
  async score(params: { batch: PairBatch; parameters?: Float32Array }): Promise<PairScores> {
    const result = await this.graphs.scoring.run({
      feeds: {
        ...this.parameterFeeds(params.parameters ?? this.parameters),
        ...tokenBatchFeeds({ batch: params.batch.chosen, prefix: "chosen_" }),
        ...tokenBatchFeeds({ batch: params.batch.rejected, prefix: "rejected_" }),
      },
    });
    return {
      chosen: Float32Array.from(result["policy_chosen"]!.data as Float32Array),
      rejected: Float32Array.from(result["policy_rejected"]!.data as Float32Array),
      chosenMean: Float32Array.from(result["policy_chosen_mean"]!.data as Float32Array),
      rejectedMean: Float32Array.from(result["policy_rejected_mean"]!.data as Float32Array),
    };
  }

  /**
   * Forward+backward over the micro-batches, accumulating gradients. Micro-batch b's loss is
   * scaled by `lossScales[b]` (open-instruct: 1 / (pairs in b × accumulation steps)).
   */
  async accumulate(params: {
    microBatches: readonly PairBatch[];
    references: readonly { chosen: Float32Array; rejected: Float32Array }[];
    lossScales: readonly number[];
  }): Promise<{ loss: number; scores: PairScores[] }> {
    let loss = 0;
    const scores: PairScores[] = [];
    for (const [index, batch] of params.microBatches.entries()) {
      const reference = params.references[index]!;
      const pairs = batch.chosen.batchSize;
      const result = await this.runAccumulating({
        graph: this.graphs.training,
        feeds: {
          ...this.parameterFeeds(this.parameters),
          ...tokenBatchFeeds({ batch: batch.chosen, prefix: "chosen_" }),
          ...tokenBatchFeeds({ batch: batch.rejected, prefix: "rejected_" }),
          reference_chosen: { data: reference.chosen, dims: [pairs] },
          reference_rejected: { data: reference.rejected, dims: [pairs] },
          loss_scale: { data: Float32Array.of(params.lossScales[index]!), dims: [] },
        },
        index,
      });
      loss += (result["loss"]!.data as Float32Array)[0]!;
      scores.push({
        chosen: Float32Array.from(result["policy_chosen"]!.data as Float32Array),
        rejected: Float32Array.from(result["policy_rejected"]!.data as Float32Array),
        chosenMean: Float32Array.from(result["policy_chosen_mean"]!.data as Float32Array),
        rejectedMean: Float32Array.from(result["policy_rejected_mean"]!.data as Float32Array),
      });
    }
    return { loss, scores };
  }

  /** Clip, schedule (at `step`) and AdamW update; the training loop advances `step`. */
  update(params: { schedule: LearningRateSchedule; maxGradientNorm: number | null }): {
    gradientNorm: number;
    learningRate: number;
  } {
    const learningRate = learningRateAt({ schedule: params.schedule, step: this.step });
    const { gradientNorm } = this.clippedUpdate({ learningRate, maxGradientNorm: params.maxGradientNorm });
    return { gradientNorm, learningRate };
  }
}
