/**
 * Prefill and decode with a KV cache over one compiled graph
 * ({@link DecoderModel.buildDecodeGraph}): no step recomputes earlier tokens.
 *
 * Rows of different prompt lengths are left-padded to the longest prompt. Each row's positions
 * count its own tokens (padding excluded), and the `attention_bias` fed every call lets a query
 * attend only to its row's real keys at or before it. Finished rows are dropped from the batch
 * (their cache rows are cut out), so a batch shrinks as rows stop.
 *
 * The cache lives in JS, one time-major buffer per layer for keys and one for values
 * (`[capacity, batch, kv_heads, head_dim]`, see {@link DecodeLayerCache}), with room for more
 * positions than it holds. Each call feeds the filled prefix as the graph's `past_*` inputs (a
 * view, no copy) and has ORT write only the new tokens' keys/values (`new_*` outputs) into the
 * slots after it; when the room runs out the buffer is replaced by one 1.5× larger (one copy of
 * the prefix). Earlier versions had the graph output the whole grown cache every step, which ORT
 * allocated and the node binding copied into a fresh JS array: at the ~9M shape, batch 16, that
 * was about half of a decode step (bench/RESULTS.md, generate, 2026-12-06).
 */
import * as ort from "onnxruntime-node";
import { emitModel } from "../emit.js";
import type { PretrainedModel } from "../model/pretrained.js";
import {
  type CompiledGraph,
  type CompileOptions,
  compileGraph,
  type Feed,
  OutputBuffer,
} from "../runtime.js";

/** Bias for a masked attention score (softmax gives it weight 0). */
const maskedBias = -1e9;

/** Positions of room a new cache buffer gets beyond what it must hold. */
const minimumRoom = 32;

/**
 * One layer's cache: keys and values, time-major. Position `t` of batch row `b` starts at
 * `(t · rows + b) · width` (`rows` = the state's batch size, `width` = kv heads × head dim),
 * so the cache of the first `length` positions is one contiguous prefix.
 */
export interface DecodeLayerCache {
  key: Float32Array;
  value: Float32Array;
}

/**
 * The state of a batch being decoded: which original rows are still in it, their left
 * padding, how many tokens each has, and the cache. A state owns its cache buffers (every
 * call writes new positions into them in place): make new states with
 * {@link DecodingSession.selectRows} / {@link DecodingSession.mergeStates}, never by sharing
 * another state's `caches`.
 */
export class DecodeState {
  /** Original row index of each batch row. */
  rows: number[];
  /** Left padding of each batch row (cache slots that are not tokens). */
  padding: number[];
  /** Real tokens (prompt + generated) of each batch row. */
  tokenCounts: number[];
  /** Cache length (same for all rows: padding + tokens). */
  length: number;
  /** Positions each layer's buffers have room for (≥ `length`). */
  capacity: number;
  /** Floats per row and position in a cache buffer (kv heads × head dim). */
  readonly width: number;
  /** Per layer, time-major `[capacity, rows.length, width]`; positions ≥ `length` are scratch. */
  caches: DecodeLayerCache[];
  /** Last-position logits `[rows.length, vocab]` of the latest call. */
  logits: Float32Array;

  constructor(params: {
    rows: number[];
    padding: number[];
    tokenCounts: number[];
    length: number;
    capacity: number;
    width: number;
    caches: DecodeLayerCache[];
    logits: Float32Array;
  }) {
    this.rows = params.rows;
    this.padding = params.padding;
    this.tokenCounts = params.tokenCounts;
    this.length = params.length;
    this.capacity = params.capacity;
    this.width = params.width;
    this.caches = params.caches;
    this.logits = params.logits;
  }

  /** Floats of one position of the whole batch in a cache buffer. */
  get positionSize(): number {
    return this.rows.length * this.width;
  }
}

/** Empty caches of `layers` layers with room for `capacity` positions of `rows` rows. */
function allocateCaches(params: {
  layers: number;
  rows: number;
  width: number;
  capacity: number;
}): DecodeLayerCache[] {
  const size = params.capacity * params.rows * params.width;
  return Array.from({ length: params.layers }, () => ({
    key: new Float32Array(size),
    value: new Float32Array(size),
  }));
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

  /**
   * Replaces `state`'s cache buffers by larger ones if they have no room for `positions`
   * positions (1.5× the old room, at least `positions` + {@link minimumRoom}; one copy of the
   * filled prefix).
   */
  private ensureRoom(params: { state: DecodeState; positions: number }): void {
    const { state, positions } = params;
    if (positions <= state.capacity) return;
    const capacity = Math.max(positions + minimumRoom, Math.ceil(state.capacity * 1.5));
    const filled = state.length * state.positionSize;
    state.caches = state.caches.map((cache) => {
      const key = new Float32Array(capacity * state.positionSize);
      const value = new Float32Array(capacity * state.positionSize);
      key.set(cache.key.subarray(0, filled));
      value.set(cache.value.subarray(0, filled));
      return { key, value };
    });
    state.capacity = capacity;
  }

  /**
   * Runs `sequence` new tokens for every row of `state` (inputs `[rows, sequence]`, bias
   * `[rows, 1, 1, sequence, length + sequence]`): feeds the filled cache prefix, has ORT write
   * the new keys/values into the positions after it, then sets `logits` and `length` (the
   * caller updates `tokenCounts`). On a failed run `state` keeps its length and logits.
   */
  private async run(params: {
    state: DecodeState;
    inputIds: BigInt64Array;
    positionIds: BigInt64Array;
    bias: Float32Array;
    sequence: number;
  }): Promise<void> {
    const { state, sequence } = params;
    const batch = state.rows.length;
    const past = state.length;
    const total = past + sequence;
    this.ensureRoom({ state, positions: total });
    const c = this.model.config;
    const position = state.positionSize;
    const feeds: Record<string, Feed | ort.Tensor> = {
      ...this.currentParameterFeeds(),
      input_ids: { data: params.inputIds, dims: [batch, sequence] },
      position_ids: { data: params.positionIds, dims: [batch, sequence] },
      attention_bias: { data: params.bias, dims: [batch, 1, 1, sequence, total] },
    };
    const outputs: Record<string, OutputBuffer> = {};
    const pastDims = [past, batch, c.num_key_value_heads, 1, c.head_dim];
    const newDims = [sequence, batch, c.num_key_value_heads, 1, c.head_dim];
    state.caches.forEach((cache, layer) => {
      feeds[`past_key.${layer}`] = { data: cache.key.subarray(0, past * position), dims: pastDims };
      feeds[`past_value.${layer}`] = { data: cache.value.subarray(0, past * position), dims: pastDims };
      outputs[`new_key.${layer}`] = new OutputBuffer(
        cache.key.subarray(past * position, total * position),
        newDims,
        "float32",
      );
      outputs[`new_value.${layer}`] = new OutputBuffer(
        cache.value.subarray(past * position, total * position),
        newDims,
        "float32",
      );
    });
    const results = await this.compiled.run({ feeds, outputs });
    state.logits = results["logits"]!.data as Float32Array;
    state.length = total;
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
    const width = c.num_key_value_heads * c.head_dim;
    const capacity = length + minimumRoom;
    const state = new DecodeState({
      rows: prompts.map((_, row) => row),
      padding,
      tokenCounts: prompts.map((prompt) => prompt.length),
      length: 0,
      capacity,
      width,
      caches: allocateCaches({ layers: c.num_hidden_layers, rows: batch, width, capacity }),
      logits: new Float32Array(0),
    });
    await this.run({ state, inputIds, positionIds, bias, sequence: length });
    return state;
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
    await this.run({ state, inputIds, positionIds, bias, sequence: 1 });
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
    await this.run({ state, inputIds, positionIds, bias, sequence });
    state.tokenCounts = state.tokenCounts.map((count) => count + sequence);
  }

  /** A new state holding copies of the rows at `rows` (positions in `state`); `state` is unchanged. */
  selectRows(params: { state: DecodeState; rows: readonly number[] }): DecodeState {
    const { state } = params;
    const copy = new DecodeState({
      rows: [...state.rows],
      padding: [...state.padding],
      tokenCounts: [...state.tokenCounts],
      length: state.length,
      capacity: state.capacity,
      width: state.width,
      caches: state.caches,
      logits: state.logits,
    });
    // retainRows gives `copy` new buffers, so the two states share none.
    this.retainRows({ state: copy, keep: params.rows });
    return copy;
  }

  /**
   * One batch of the rows of every state in `states`, in order (their `rows` labels kept):
   * shorter caches are left-padded to the longest, so each row's keys, positions and logits
   * are exactly what they were. The states are unchanged (with one state, it is returned).
   */
  mergeStates(params: { states: readonly DecodeState[] }): DecodeState {
    const { states } = params;
    if (states.length === 0) throw new RangeError("mergeStates needs at least one state");
    if (states.length === 1) return states[0]!;
    const c = this.model.config;
    const width = c.num_key_value_heads * c.head_dim;
    const length = Math.max(...states.map((state) => state.length));
    const batch = states.reduce((sum, state) => sum + state.rows.length, 0);
    const capacity = length + minimumRoom;
    const caches = allocateCaches({ layers: c.num_hidden_layers, rows: batch, width, capacity });
    let rowOffset = 0;
    for (const state of states) {
      // This state's positions go `shift` positions later; the slots before stay zero (masked).
      const shift = length - state.length;
      const size = state.positionSize;
      state.caches.forEach((cache, layer) => {
        const target = caches[layer]!;
        for (let position = 0; position < state.length; position += 1) {
          const to = ((position + shift) * batch + rowOffset) * width;
          target.key.set(cache.key.subarray(position * size, (position + 1) * size), to);
          target.value.set(cache.value.subarray(position * size, (position + 1) * size), to);
        }
      });
      rowOffset += state.rows.length;
    }
    const vocabulary = this.vocabularySize;
    const logits = new Float32Array(batch * vocabulary);
    let row = 0;
    for (const state of states) {
      logits.set(state.logits.subarray(0, state.rows.length * vocabulary), row * vocabulary);
      row += state.rows.length;
    }
    return new DecodeState({
      rows: states.flatMap((state) => state.rows),
      padding: states.flatMap((state) => state.padding.map((pad) => pad + length - state.length)),
      tokenCounts: states.flatMap((state) => state.tokenCounts),
      length,
      capacity,
      width,
      caches,
      logits,
    });
  }

  /**
   * Keeps only the batch rows at `keep` (positions in the current batch, ascending): copies
   * their cache rows and logits into new, smaller buffers. Left padding common to every kept
   * row is trimmed from the cache too.
   */
  retainRows(params: { state: DecodeState; keep: readonly number[] }): void {
    const { state, keep } = params;
    const trim = Math.min(...keep.map((row) => state.padding[row]!));
    const length = state.length - trim;
    const width = state.width;
    const rows = state.rows.length;
    // Consecutive kept rows are adjacent in every position of the old and the new buffer.
    const runs: { from: number; to: number; count: number }[] = [];
    keep.forEach((row, index) => {
      const last = runs[runs.length - 1];
      if (last !== undefined && last.from + last.count === row) last.count += 1;
      else runs.push({ from: row, to: index, count: 1 });
    });
    const capacity = length + minimumRoom;
    const caches = allocateCaches({ layers: state.caches.length, rows: keep.length, width, capacity });
    state.caches.forEach((cache, layer) => {
      const target = caches[layer]!;
      for (let position = trim; position < state.length; position += 1)
        for (const run of runs) {
          const from = (position * rows + run.from) * width;
          const to = ((position - trim) * keep.length + run.to) * width;
          target.key.set(cache.key.subarray(from, from + run.count * width), to);
          target.value.set(cache.value.subarray(from, from + run.count * width), to);
        }
    });
    const vocabulary = this.vocabularySize;
    const logits = new Float32Array(keep.length * vocabulary);
    keep.forEach((row, index) => {
      logits.set(state.logits.subarray(row * vocabulary, (row + 1) * vocabulary), index * vocabulary);
    });
    state.caches = caches;
    state.capacity = capacity;
    state.logits = logits;
    state.rows = keep.map((row) => state.rows[row]!);
    state.padding = keep.map((row) => state.padding[row]! - trim);
    state.tokenCounts = keep.map((row) => state.tokenCounts[row]!);
    state.length = length;
  }
}
