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

/** Picks the next token of one row; see the module comment for the two log-probs. */
export function sampleToken(params: {
  logits: Float32Array;
  sampling: SamplingParameters;
  random: Random;
}): SampledToken {
  const { logits, sampling } = params;
  const modelLogProbs = logSoftmax(logits);
  if (sampling.temperature === 0) {
    const tokenId = argmax(logits);
    return { tokenId, modelLogProb: modelLogProbs[tokenId]!, samplingLogProb: modelLogProbs[tokenId]! };
  }
  const vocabulary = logits.length;
  const scaled = new Float64Array(vocabulary);
  for (let index = 0; index < vocabulary; index += 1) scaled[index] = logits[index]! / sampling.temperature;
  const topK = sampling.topK ?? 0;
  if (topK > 0 && topK < vocabulary) {
    const threshold = Float64Array.from(scaled).sort().reverse()[topK - 1]!;
    for (let index = 0; index < vocabulary; index += 1)
      if (scaled[index]! < threshold) scaled[index] = Number.NEGATIVE_INFINITY;
  }
  let logProbs = logSoftmax(scaled);
  const topP = sampling.topP ?? 1;
  if (topP < 1) {
    // HF TopPLogitsWarper: sort ascending, drop tokens whose cumulative probability ≤ 1 − topP,
    // always keeping the most likely token.
    const order = Array.from({ length: vocabulary }, (_, index) => index).sort(
      (a, b) => logProbs[a]! - logProbs[b]! || b - a,
    );
    let cumulative = 0;
    for (let rank = 0; rank < vocabulary - 1; rank += 1) {
      const index = order[rank]!;
      cumulative += Math.exp(logProbs[index]!);
      if (cumulative <= 1 - topP) scaled[index] = Number.NEGATIVE_INFINITY;
      else break;
    }
    logProbs = logSoftmax(scaled);
  }
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
  return { tokenId, modelLogProb: modelLogProbs[tokenId]!, samplingLogProb: logProbs[tokenId]! };
}
