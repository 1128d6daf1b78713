/**
 * Joins two KV-cache decode states into one batch, so a continuous-batching scheduler can admit
 * newly prefilled rows between decode steps of a running batch.
 *
 * The engine's {@link DecodeState} keeps rows left-padded to one cache length: each row has
 * `padding` masked slots before its tokens. Merging pads the shorter state further on the left:
 * a row of a state of length `L₁` in a merged batch of length `L = max(L₁, L₂)` gets
 * `L − L₁` more padding slots, filled with zeros (the decode step masks them with its
 * attention bias, so their contents never matter). Positions (`tokenCounts`) are per row and
 * unchanged. Cache tensors are `[batch, kv heads, 1, length, head dim]` float32.
 *
 * This is generic engine-level state surgery; it lives here because the engine's
 * `DecodingSession` has `retainRows` (shrink) but no merge (grow). It should move to
 * `DecodingSession.mergeStates` in @posttrain/engine.
 */
import { DecodeState } from "@posttrain/engine";

type CacheFeed = DecodeState["caches"][number]["key"];

function padAndJoin(params: {
  first: CacheFeed;
  second: CacheFeed;
  firstLength: number;
  secondLength: number;
  length: number;
}): CacheFeed {
  const { first, second, firstLength, secondLength, length } = params;
  const [firstRows, heads, , , headDimension] = first.dims as [number, number, number, number, number];
  const secondRows = second.dims[0]!;
  const target = new Float32Array((firstRows + secondRows) * heads * length * headDimension);
  const copy = (source: Float32Array, rows: number, sourceLength: number, rowOffset: number) => {
    const shift = length - sourceLength;
    for (let row = 0; row < rows; row += 1) {
      for (let head = 0; head < heads; head += 1) {
        const from = (row * heads + head) * sourceLength * headDimension;
        const to = (((rowOffset + row) * heads + head) * length + shift) * headDimension;
        target.set(source.subarray(from, from + sourceLength * headDimension), to);
      }
    }
  };
  copy(first.data as Float32Array, firstRows, firstLength, 0);
  copy(second.data as Float32Array, secondRows, secondLength, firstRows);
  return { data: target, dims: [firstRows + secondRows, heads, 1, length, headDimension] };
}

/**
 * A new state holding the rows of `first` then the rows of `second` (`rows` entries are kept as
 * given, so callers should use ids that are unique across both). Neither input is modified.
 */
export function mergeDecodeStates(params: {
  first: DecodeState;
  second: DecodeState;
  vocabularySize: number;
}): DecodeState {
  const { first, second } = params;
  if (first.caches.length !== second.caches.length)
    throw new RangeError(`cannot merge states of ${first.caches.length} and ${second.caches.length} layers`);
  const length = Math.max(first.length, second.length);
  const caches = first.caches.map((cache, layer) => {
    const other = second.caches[layer]!;
    const join = (a: CacheFeed, b: CacheFeed) =>
      padAndJoin({ first: a, second: b, firstLength: first.length, secondLength: second.length, length });
    return { key: join(cache.key, other.key), value: join(cache.value, other.value) };
  });
  const logits = new Float32Array((first.rows.length + second.rows.length) * params.vocabularySize);
  logits.set(first.logits.subarray(0, first.rows.length * params.vocabularySize), 0);
  logits.set(
    second.logits.subarray(0, second.rows.length * params.vocabularySize),
    first.rows.length * params.vocabularySize,
  );
  return new DecodeState(
    [...first.rows, ...second.rows],
    [
      ...first.padding.map((pad) => pad + length - first.length),
      ...second.padding.map((pad) => pad + length - second.length),
    ],
    [...first.tokenCounts, ...second.tokenCounts],
    length,
    caches,
    logits,
  );
}
