/**
 * Prefill and decode with a KV cache over one compiled graph
 * ({@link DecoderModel.buildDecodeGraph}): no step recomputes earlier tokens.
 *
 * Rows of different prompt lengths are left-padded to the longest prompt. Each row's positions
 * count its own tokens (padding excluded), and the `attention_bias` fed every call lets a query
 * attend only to its row's real keys at or before it. Finished rows are dropped from the batch
 * (their cache rows are cut out), so a batch shrinks as rows stop.
 *
 * The cache is the graph's `present_*` outputs fed back as the next call's `past_*` inputs (no
 * copy on the JS side); ORT appends the new keys/values with a Concat, i.e. writes a new cache
 * tensor per layer and step (ONNX has no in-place update; ORT's in-place GroupQueryAttention
 * is a contrib op outside the standard opset the engine emits).
 */
import * as ort from "onnxruntime-node";
import { emitModel } from "../emit.js";
import type { PretrainedModel } from "../model/pretrained.js";
import { type CompiledGraph, type CompileOptions, compileGraph, type Feed } from "../runtime.js";

/** Bias for a masked attention score (softmax gives it weight 0). */
const maskedBias = -1e9;

/** Per-layer caches for the rows currently in the batch. */
interface LayerCacheFeeds {
  key: Feed;
  value: Feed;
}

/**
 * The state of a batch being decoded: which original rows are still in it, their left
 * padding, how many tokens each has, and the cache.
 */
export class DecodeState {
  constructor(
    /** Original row index of each batch row. */
    public rows: number[],
    /** Left padding of each batch row (cache slots that are not tokens). */
    public padding: number[],
    /** Real tokens (prompt + generated) of each batch row. */
    public tokenCounts: number[],
    /** Cache length (same for all rows: padding + tokens). */
    public length: number,
    public caches: LayerCacheFeeds[],
    /** Last-position logits `[rows.length, vocab]` of the latest call. */
    public logits: Float32Array,
  ) {}
}

/**
 * Parameters are read from `model.parameters` at every call (views, no copy), so a trainer
 * that updates that buffer in place — or replaces it with another buffer of the same layout
 * (e.g. `CausalLmTrainer.parameters`) — is reflected in the next prefill/step.
 */
export class DecodingSession {
  /** ORT tensors over views of the parameters, created once per parameter buffer. */
  private parameterFeeds: Record<string, ort.Tensor> = {};
  private parameterBuffer: Float32Array | undefined;

  private constructor(
    readonly model: PretrainedModel,
    readonly compiled: CompiledGraph,
  ) {}

  private currentParameterFeeds(): Record<string, ort.Tensor> {
    const { layout, parameters } = this.model;
    if (parameters !== this.parameterBuffer) {
      if (parameters.length !== layout.length)
        throw new RangeError(
          `model.parameters has ${parameters.length} floats, the layout needs ${layout.length}`,
        );
      this.parameterFeeds = {};
      for (const entry of layout.entries)
        this.parameterFeeds[entry.name] = new ort.Tensor("float32", layout.view(parameters, entry.name), [
          ...entry.shape,
        ]);
      this.parameterBuffer = parameters;
    }
    return this.parameterFeeds;
  }

  /**
   * Compiles the KV-cache graph of `model` (sessions are cached by graph and options). ORT's
   * memory arena is off unless `memoryArena: true`: the cache grows every step, so the arena
   * never reuses a block and keeps extending (measured 4–5× slower decode steps at a
   * 64–256-token cache with it on).
   */
  static async create(params: { model: PretrainedModel } & CompileOptions): Promise<DecodingSession> {
    const { model, ...options } = params;
    const { graph, outputs } = model.model.buildDecodeGraph();
    const compiled = await compileGraph({
      model: emitModel({ graph, outputs }),
      memoryArena: false,
      ...options,
    });
    return new DecodingSession(model, compiled);
  }

  get vocabularySize(): number {
    return this.model.config.vocab_size;
  }

  private async run(params: {
    inputIds: BigInt64Array;
    positionIds: BigInt64Array;
    bias: Float32Array;
    batch: number;
    sequence: number;
    total: number;
    caches: LayerCacheFeeds[];
  }): Promise<{ logits: Float32Array; caches: LayerCacheFeeds[] }> {
    const { batch, sequence, total } = params;
    const feeds: Record<string, Feed | ort.Tensor> = {
      ...this.currentParameterFeeds(),
      input_ids: { data: params.inputIds, dims: [batch, sequence] },
      position_ids: { data: params.positionIds, dims: [batch, sequence] },
      attention_bias: { data: params.bias, dims: [batch, 1, 1, sequence, total] },
    };
    params.caches.forEach((cache, layer) => {
      feeds[`past_key.${layer}`] = cache.key;
      feeds[`past_value.${layer}`] = cache.value;
    });
    const results = await this.compiled.run({ feeds });
    const caches: LayerCacheFeeds[] = params.caches.map((_, layer) => ({
      key: results[`present_key.${layer}`]!,
      value: results[`present_value.${layer}`]!,
    }));
    return { logits: results["logits"]!.data as Float32Array, caches };
  }

  /** Runs every prompt (left-padded into one batch) and returns the state after it. */
  async prefill(params: { prompts: readonly (readonly number[])[] }): Promise<DecodeState> {
    const { prompts } = params;
    const batch = prompts.length;
    const length = Math.max(...prompts.map((prompt) => prompt.length));
    if (batch === 0 || length === 0) throw new RangeError("prefill needs at least one non-empty prompt");
    const inputIds = new BigInt64Array(batch * length);
    const positionIds = new BigInt64Array(batch * length);
    const bias = new Float32Array(batch * length * length).fill(maskedBias);
    const padding = prompts.map((prompt) => length - prompt.length);
    prompts.forEach((prompt, row) => {
      const pad = padding[row]!;
      prompt.forEach((token, index) => {
        inputIds[row * length + pad + index] = BigInt(token);
        positionIds[row * length + pad + index] = BigInt(index);
      });
      for (let query = 0; query < length; query += 1) {
        const offset = (row * length + query) * length;
        // Padding queries attend to themselves only (their outputs are never used).
        if (query < pad) bias[offset + query] = 0;
        else bias.fill(0, offset + pad, offset + query + 1);
      }
    });
    const c = this.model.config;
    const empty = (): Feed => ({
      data: new Float32Array(0),
      dims: [batch, c.num_key_value_heads, 1, 0, c.head_dim],
    });
    const { logits, caches } = await this.run({
      inputIds,
      positionIds,
      bias,
      batch,
      sequence: length,
      total: length,
      caches: Array.from({ length: c.num_hidden_layers }, () => ({ key: empty(), value: empty() })),
    });
    return new DecodeState(
      prompts.map((_, row) => row),
      padding,
      prompts.map((prompt) => prompt.length),
      length,
      caches,
      logits,
    );
  }

  /** Appends one token to every row of `state` and updates it (logits, cache, counts). */
  async step(params: { state: DecodeState; tokens: readonly number[] }): Promise<void> {
    const { state, tokens } = params;
    const batch = state.rows.length;
    if (tokens.length !== batch) throw new RangeError(`step: ${tokens.length} tokens for ${batch} rows`);
    const total = state.length + 1;
    const inputIds = BigInt64Array.from(tokens, (token) => BigInt(token));
    const positionIds = BigInt64Array.from(state.tokenCounts, (count) => BigInt(count));
    const bias = new Float32Array(batch * total);
    state.padding.forEach((pad, row) => {
      bias.fill(maskedBias, row * total, row * total + pad);
    });
    const { logits, caches } = await this.run({
      inputIds,
      positionIds,
      bias,
      batch,
      sequence: 1,
      total,
      caches: state.caches,
    });
    state.logits = logits;
    state.caches = caches;
    state.length = total;
    state.tokenCounts = state.tokenCounts.map((count) => count + 1);
  }

  /**
   * Appends `tokens[row]` to every row of `state` in one call (all rows the same number of
   * tokens, at least one) and updates it: the continuation of a conversation on its cache
   * (e.g. a tool's output after the model's tool call) without re-running earlier tokens.
   * Each new token attends to its row's real keys and to the new tokens before it.
   */
  async extend(params: { state: DecodeState; tokens: readonly (readonly number[])[] }): Promise<void> {
    const { state, tokens } = params;
    const batch = state.rows.length;
    if (tokens.length !== batch)
      throw new RangeError(`extend: ${tokens.length} token lists for ${batch} rows`);
    const sequence = tokens[0]?.length ?? 0;
    if (sequence === 0 || tokens.some((row) => row.length !== sequence))
      throw new RangeError("extend: every row needs the same, non-zero number of tokens");
    const total = state.length + sequence;
    const inputIds = new BigInt64Array(batch * sequence);
    const positionIds = new BigInt64Array(batch * sequence);
    const bias = new Float32Array(batch * sequence * total).fill(maskedBias);
    tokens.forEach((row, batchRow) => {
      const pad = state.padding[batchRow]!;
      const count = state.tokenCounts[batchRow]!;
      row.forEach((token, index) => {
        inputIds[batchRow * sequence + index] = BigInt(token);
        positionIds[batchRow * sequence + index] = BigInt(count + index);
        const offset = (batchRow * sequence + index) * total;
        bias.fill(0, offset + pad, offset + state.length + index + 1);
      });
    });
    const { logits, caches } = await this.run({
      inputIds,
      positionIds,
      bias,
      batch,
      sequence,
      total,
      caches: state.caches,
    });
    state.logits = logits;
    state.caches = caches;
    state.length = total;
    state.tokenCounts = state.tokenCounts.map((count) => count + sequence);
  }

  /** A new state holding copies of the rows at `rows` (positions in `state`); `state` is unchanged. */
  selectRows(params: { state: DecodeState; rows: readonly number[] }): DecodeState {
    const { state } = params;
    const copy = new DecodeState(
      [...state.rows],
      [...state.padding],
      [...state.tokenCounts],
      state.length,
      state.caches,
      state.logits,
    );
    this.retainRows({ state: copy, keep: params.rows });
    return copy;
  }

  /**
   * One batch of the rows of every state in `states`, in order (their `rows` labels kept):
   * shorter caches are left-padded to the longest, so each row's keys, positions and logits
   * are exactly what they were.
   */
  mergeStates(params: { states: readonly DecodeState[] }): DecodeState {
    const { states } = params;
    if (states.length === 0) throw new RangeError("mergeStates needs at least one state");
    if (states.length === 1) return states[0]!;
    const c = this.model.config;
    const heads = c.num_key_value_heads;
    const headDimension = c.head_dim;
    const length = Math.max(...states.map((state) => state.length));
    const batch = states.reduce((sum, state) => sum + state.rows.length, 0);
    const merge = (pick: (state: DecodeState) => Feed): Feed => {
      const target = new Float32Array(batch * heads * length * headDimension);
      let offset = 0;
      for (const state of states) {
        const shift = length - state.length;
        const source = pick(state).data as Float32Array;
        for (let row = 0; row < state.rows.length; row += 1)
          for (let head = 0; head < heads; head += 1) {
            const from = (row * heads + head) * state.length * headDimension;
            const to = (((offset + row) * heads + head) * length + shift) * headDimension;
            target.set(source.subarray(from, from + state.length * headDimension), to);
          }
        offset += state.rows.length;
      }
      return { data: target, dims: [batch, heads, 1, length, headDimension] };
    };
    const caches: LayerCacheFeeds[] = [];
    for (let layer = 0; layer < c.num_hidden_layers; layer += 1)
      caches.push({
        key: merge((state) => state.caches[layer]!.key),
        value: merge((state) => state.caches[layer]!.value),
      });
    const vocabulary = this.vocabularySize;
    const logits = new Float32Array(batch * vocabulary);
    let row = 0;
    for (const state of states) {
      logits.set(state.logits.subarray(0, state.rows.length * vocabulary), row * vocabulary);
      row += state.rows.length;
    }
    return new DecodeState(
      states.flatMap((state) => state.rows),
      states.flatMap((state) => state.padding.map((pad) => pad + length - state.length)),
      states.flatMap((state) => state.tokenCounts),
      length,
      caches,
      logits,
    );
  }

  /**
   * Keeps only the batch rows at `keep` (positions in the current batch, ascending): cuts their
   * cache rows and logits out into new, smaller tensors. Left padding common to every kept row
   * is trimmed from the cache too.
   */
  retainRows(params: { state: DecodeState; keep: readonly number[] }): void {
    const { state, keep } = params;
    const c = this.model.config;
    const trim = Math.min(...keep.map((row) => state.padding[row]!));
    const length = state.length - trim;
    const headDimension = c.head_dim;
    const heads = c.num_key_value_heads;
    const select = (feed: Feed): Feed => {
      const source = feed.data as Float32Array;
      const target = new Float32Array(keep.length * heads * length * headDimension);
      keep.forEach((row, index) => {
        for (let head = 0; head < heads; head += 1) {
          const from = ((row * heads + head) * state.length + trim) * headDimension;
          const to = (index * heads + head) * length * headDimension;
          target.set(source.subarray(from, from + length * headDimension), to);
        }
      });
      return { data: target, dims: [keep.length, heads, 1, length, headDimension] };
    };
    state.caches = state.caches.map((cache) => ({ key: select(cache.key), value: select(cache.value) }));
    const vocabulary = this.vocabularySize;
    const logits = new Float32Array(keep.length * vocabulary);
    keep.forEach((row, index) => {
      logits.set(state.logits.subarray(row * vocabulary, (row + 1) * vocabulary), index * vocabulary);
    });
    state.logits = logits;
    state.rows = keep.map((row) => state.rows[row]!);
    state.padding = keep.map((row) => state.padding[row]! - trim);
    state.tokenCounts = keep.map((row) => state.tokenCounts[row]!);
    state.length = length;
  }
}
