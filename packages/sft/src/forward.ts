/**
 * Forward-only graphs on the engine: per-token log-probabilities of given labels (held-out
 * loss, reference log-probs) and next-token logits (greedy decoding until engine part 2's
 * KV-cache generation lands; this recomputes the whole prefix per token, fine for tiny models).
 */
import {
  type CompiledGraph,
  compileGraph,
  emitModel,
  type Feed,
  GraphBuilder,
  type LlamaModel,
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
    model: LlamaModel;
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

/** Full next-token logits of the last position, for greedy decoding. */
export class LogitsRunner {
  private constructor(
    private readonly compiled: CompiledGraph,
    private readonly layout: ParameterLayout,
    private readonly vocabularySize: number,
  ) {}

  static async create(params: {
    model: LlamaModel;
    layout: ParameterLayout;
    threads: number;
  }): Promise<LogitsRunner> {
    const graph = new GraphBuilder();
    const parameters = params.model.declareParameters(graph);
    const inputs = params.model.declareInputs(graph);
    const logits = params.model.logits({ graph, parameters, inputs });
    const compiled = await compileGraph({
      model: emitModel({ graph, outputs: { logits }, name: "logits" }),
      threads: params.threads,
    });
    return new LogitsRunner(compiled, params.layout, params.model.config.vocab_size);
  }

  /** Logits `[vocab]` after the last token of `tokenIds`. */
  async lastLogits(params: { tokenIds: readonly number[]; parameters: Float32Array }): Promise<Float32Array> {
    const length = params.tokenIds.length;
    const result = await this.compiled.run({
      feeds: {
        ...parameterFeeds(this.layout, params.parameters),
        ...batchFeeds({
          batchSize: 1,
          sequenceLength: length,
          inputIds: BigInt64Array.from(params.tokenIds, BigInt),
          labels: new BigInt64Array(length),
          lossMask: new Float32Array(length),
        }),
      },
    });
    const all = result["logits"]!.data as Float32Array;
    return all.subarray((length - 1) * this.vocabularySize, length * this.vocabularySize);
  }

  /** Greedy (argmax) continuation of `promptIds`, stopping after a stop token or `maxNewTokens`. */
  async greedy(params: {
    promptIds: readonly number[];
    parameters: Float32Array;
    maxNewTokens: number;
    stopTokenIds: readonly number[];
  }): Promise<number[]> {
    const tokens = [...params.promptIds];
    const generated: number[] = [];
    for (let index = 0; index < params.maxNewTokens; index += 1) {
      const logits = await this.lastLogits({ tokenIds: tokens, parameters: params.parameters });
      let best = 0;
      for (let token = 1; token < logits.length; token += 1) if (logits[token]! > logits[best]!) best = token;
      generated.push(best);
      tokens.push(best);
      if (params.stopTokenIds.includes(best)) break;
    }
    return generated;
  }
}
