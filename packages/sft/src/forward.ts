/**
 * A forward-only graph on the engine: per-token log-probabilities of given labels (held-out
 * loss, reference log-probs). Generation is the engine's KV-cache decoding
 * (`DecodingSession`, `generateTokens`).
 */
import {
  type CompiledGraph,
  compileGraph,
  type DecoderModel,
  emitModel,
  type Feed,
  GraphBuilder,
  type ParameterLayout,
  type TokenBatch,
} from "@posttrain/engine";

function parameterFeeds(layout: ParameterLayout, parameters: Float32Array): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  for (const entry of layout.entries)
    feeds[entry.name] = { data: layout.view(parameters, entry.name), dims: entry.shape };
  return feeds;
}

function batchFeeds(batch: TokenBatch): Record<string, Feed> {
  const dims = [batch.batchSize, batch.sequenceLength];
  const count = batch.batchSize * batch.sequenceLength;
  return {
    input_ids: { data: batch.inputIds, dims },
    position_ids: {
      data:
        batch.positionIds ??
        BigInt64Array.from({ length: count }, (_, index) => BigInt(index % batch.sequenceLength)),
      dims,
    },
    segment_ids: { data: batch.segmentIds ?? new BigInt64Array(count), dims },
  };
}

/** Per-token log p(label) for a batch: `[batchSize × sequenceLength]`, row-major. */
export class TokenScorer {
  private constructor(
    private readonly compiled: CompiledGraph,
    private readonly layout: ParameterLayout,
  ) {}

  static async create(params: {
    model: DecoderModel;
    layout: ParameterLayout;
    lossChunks: number;
    threads: number;
  }): Promise<TokenScorer> {
    const graph = new GraphBuilder();
    const parameters = params.model.declareParameters(graph);
    const inputs = params.model.declareInputs(graph);
    const labels = graph.input({ name: "labels", dtype: "int64", shape: ["batch", "sequence"] });
    const logProbs = params.model.tokenLogProbs({
      graph,
      parameters,
      inputs,
      labels,
      chunks: params.lossChunks,
    });
    const compiled = await compileGraph({
      model: emitModel({ graph, outputs: { log_probs: logProbs }, name: "token-log-probs" }),
      threads: params.threads,
    });
    return new TokenScorer(compiled, params.layout);
  }

  async logProbs(params: { batch: TokenBatch; parameters: Float32Array }): Promise<Float32Array> {
    const { batch } = params;
    const result = await this.compiled.run({
      feeds: {
        ...parameterFeeds(this.layout, params.parameters),
        ...batchFeeds(batch),
        labels: { data: batch.labels, dims: [batch.batchSize, batch.sequenceLength] },
      },
    });
    return result["log_probs"]!.data as Float32Array;
  }

  /** Masked token cross-entropy sum and token count of a batch (for held-out loss). */
  async crossEntropy(params: {
    batch: TokenBatch;
    parameters: Float32Array;
  }): Promise<{ sum: number; tokens: number }> {
    const logProbs = await this.logProbs(params);
    let sum = 0;
    let tokens = 0;
    params.batch.lossMask.forEach((mask, index) => {
      if (mask !== 0) {
        sum -= mask * logProbs[index]!;
        tokens += mask;
      }
    });
    return { sum, tokens };
  }
}
