/**
 * Next-token selection over one row of last-position logits (float32 in, float64 math), in
 * Hugging Face's warper order: temperature → top-k → top-p, then one draw from the row's own
 * {@link Random} stream (so a row's tokens never depend on which other rows share its batch).
 *
 * Two log-probabilities come back for the chosen token:
 * - `modelLogProb`: log softmax of the raw logits (temperature 1, no truncation) — what the
 *   training path computes for the same token, and what RLVR needs;
 * - `samplingLogProb`: log-probability under the distribution actually sampled from (after
 *   temperature, top-k and top-p). Greedy decoding has a degenerate sampling distribution, so
 *   for greedy rows this is the model log-prob (as vLLM reports it).
 */
import type { Random } from "@posttrain/core";

export interface SamplingParameters {
  /** 0 means greedy (argmax; ties go to the lowest id). */
  temperature: number;
  /** Nucleus sampling: keep the smallest set of most likely tokens with total probability ≥ topP. */
  topP?: number;
  /** Keep the topK most likely tokens (ties at the boundary are kept, as in HF). */
  topK?: number;
}

export interface SampledToken {
  tokenId: number;
  modelLogProb: number;
  samplingLogProb: number;
}

/** log softmax of `logits` in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let maximum = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < logits.length; index += 1) maximum = Math.max(maximum, logits[index]!);
  let sum = 0;
  for (let index = 0; index < logits.length; index += 1) sum += Math.exp(logits[index]! - maximum);
  const normalizer = maximum + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let index = 0; index < logits.length; index += 1) out[index] = logits[index]! - normalizer;
  return out;
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let index = 1; index < values.length; index += 1) if (values[index]! > values[best]!) best = index;
  return best;
}

/** `max + log Σ exp(x − max)` over the values `keep` admits (all when absent), in float64. */
function logSumExp(values: ArrayLike<number>, scale: number, threshold: number): number {
  let maximum = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < values.length; index += 1) {
    const value = values[index]! / scale;
    if (value >= threshold && value > maximum) maximum = value;
  }
  let sum = 0;
  for (let index = 0; index < values.length; index += 1) {
    const value = values[index]! / scale;
    if (value >= threshold) sum += Math.exp(value - maximum);
  }
  return maximum + Math.log(sum);
}

/** The k-th largest of `values / scale` (a size-k min-heap: O(V log k), no sort of the row). */
function kthLargest(values: ArrayLike<number>, scale: number, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  const siftDown = (start: number) => {
    let parent = start;
    for (;;) {
      const left = 2 * parent + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && heap[right]! < heap[left]! ? right : left;
      if (heap[child]! >= heap[parent]!) return;
      const swap = heap[child]!;
      heap[child] = heap[parent]!;
      heap[parent] = swap;
      parent = child;
    }
  };
  for (let index = 0; index < values.length; index += 1) {
    const value = values[index]! / scale;
    if (size < k) {
      let child = size;
      heap[size] = value;
      size += 1;
      while (child > 0) {
        const parent = (child - 1) >> 1;
        if (heap[parent]! <= heap[child]!) break;
        const swap = heap[child]!;
        heap[child] = heap[parent]!;
        heap[parent] = swap;
        child = parent;
      }
    } else if (value > heap[0]!) {
      heap[0] = value;
      siftDown(0);
    }
  }
  return heap[0]!;
}

/**
 * Picks the next token of one row; see the module comment for the two log-probs. Without
 * top-p the row is read in a few streaming passes (no per-token arrays, no sort); top-p needs
 * the sorted distribution and takes the general path.
 */
export function sampleToken(params: {
  logits: Float32Array;
  sampling: SamplingParameters;
  random: Random;
}): SampledToken {
  const { logits, sampling } = params;
  const vocabulary = logits.length;
  const modelNormalizer = logSumExp(logits, 1, Number.NEGATIVE_INFINITY);
  if (sampling.temperature === 0) {
    const tokenId = argmax(logits);
    const logProb = logits[tokenId]! - modelNormalizer;
    return { tokenId, modelLogProb: logProb, samplingLogProb: logProb };
  }
  if ((sampling.topP ?? 1) < 1) return sampleWithTopP({ ...params, modelNormalizer });
  const temperature = sampling.temperature;
  const topK = sampling.topK ?? 0;
  // Tokens below the top-k threshold are excluded (ties at the boundary kept, as in HF).
  const threshold =
    topK > 0 && topK < vocabulary ? kthLargest(logits, temperature, topK) : Number.NEGATIVE_INFINITY;
  const normalizer =
    temperature === 1 && threshold === Number.NEGATIVE_INFINITY
      ? modelNormalizer
      : logSumExp(logits, temperature, threshold);
  const draw = params.random.nextFloat();
  let cumulative = 0;
  let tokenId = -1;
  let lastAllowed = -1;
  let samplingLogProb = 0;
  for (let index = 0; index < vocabulary; index += 1) {
    const value = logits[index]! / temperature;
    if (value < threshold) continue;
    const logProb = value - normalizer;
    lastAllowed = index;
    samplingLogProb = logProb;
    cumulative += Math.exp(logProb);
    if (draw < cumulative) {
      tokenId = index;
      break;
    }
  }
  if (tokenId < 0) tokenId = lastAllowed; // rounding: the cumulative sum ended just below the draw
  return { tokenId, modelLogProb: logits[tokenId]! - modelNormalizer, samplingLogProb };
}

/** Temperature → top-k → top-p over full float64 rows (HF TopPLogitsWarper order). */
function sampleWithTopP(params: {
  logits: Float32Array;
  sampling: SamplingParameters;
  random: Random;
  modelNormalizer: number;
}): SampledToken {
  const { logits, sampling } = params;
  const topP = sampling.topP ?? 1;
  const vocabulary = logits.length;
  const scaled = new Float64Array(vocabulary);
  for (let index = 0; index < vocabulary; index += 1) scaled[index] = logits[index]! / sampling.temperature;
  const topK = sampling.topK ?? 0;
  if (topK > 0 && topK < vocabulary) {
    const threshold = kthLargest(logits, sampling.temperature, topK);
    for (let index = 0; index < vocabulary; index += 1)
      if (scaled[index]! < threshold) scaled[index] = Number.NEGATIVE_INFINITY;
  }
  let logProbs = logSoftmax(scaled);
  // HF TopPLogitsWarper: sort ascending, drop tokens whose cumulative probability ≤ 1 − topP,
  // always keeping the most likely token.
  const order = Array.from({ length: vocabulary }, (_, index) => index).sort(
    (a, b) => logProbs[a]! - logProbs[b]! || b - a,
  );
  let dropped = 0;
  for (let rank = 0; rank < vocabulary - 1; rank += 1) {
    const index = order[rank]!;
    dropped += Math.exp(logProbs[index]!);
    if (dropped <= 1 - topP) scaled[index] = Number.NEGATIVE_INFINITY;
    else break;
  }
  logProbs = logSoftmax(scaled);
  const draw = params.random.nextFloat();
  let cumulative = 0;
  let tokenId = -1;
  let lastAllowed = -1;
  for (let index = 0; index < vocabulary; index += 1) {
    const logProb = logProbs[index]!;
    if (logProb === Number.NEGATIVE_INFINITY) continue;
    lastAllowed = index;
    cumulative += Math.exp(logProb);
    if (draw < cumulative) {
      tokenId = index;
      break;
    }
  }
  if (tokenId < 0) tokenId = lastAllowed; // rounding: the cumulative sum ended just below the draw
  return {
    tokenId,
    modelLogProb: logits[tokenId]! - params.modelNormalizer,
    samplingLogProb: logProbs[tokenId]!,
  };
}
