/**
 * Batched generation with per-row stopping on a {@link DecodingSession}: one prefill for the
 * batch, then one decode step per token; a row stops at an EOS id, at a stop string (needs a
 * tokenizer), or after `maxNewTokens`, and leaves the batch.
 *
 * A finished row's `tokenIds` and log-probs include the token that ended it (the EOS token,
 * or the token that completed a stop string); its `text` excludes special tokens and is cut
 * before the first stop string.
 */
import type { Random } from "@posttrain/core";
import type { DecodingSession } from "./decoding-session.js";
import { type SamplingParameters, sampleToken } from "./sampling.js";
import type { GenerationTokenizer } from "./tokenizer.js";

export interface GenerationRow {
  promptTokenIds: readonly number[];
  sampling: SamplingParameters;
  maxNewTokens: number;
  /** Stop strings (need `tokenizer`). */
  stop?: readonly string[];
  /** This row's own stream: draws do not depend on the other rows of the batch. */
  random: Random;
}

export interface GeneratedSequence {
  tokenIds: number[];
  /** Raw model log-prob of each token (log softmax of the logits, temperature 1). */
  modelLogProbs: number[];
  /** Log-prob of each token under the sampling distribution (see sampling.ts). */
  samplingLogProbs: number[];
  /** Decoded text (special tokens skipped, cut at a stop string); null without a tokenizer. */
  text: string | null;
  finishReason: "stop" | "length";
}

function firstStop(text: string, stops: readonly string[]): number {
  let first = -1;
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const index = text.indexOf(stop);
    if (index >= 0 && (first < 0 || index < first)) first = index;
  }
  return first;
}

/** Generates every row in one batch (callers split large requests into batches). */
export async function generateTokens(params: {
  session: DecodingSession;
  rows: readonly GenerationRow[];
  eosTokenIds: readonly number[];
  tokenizer?: GenerationTokenizer;
  signal?: AbortSignal;
  /** Called after every decode step with the number of tokens generated in it. */
  onStep?: (generatedTokens: number) => void;
}): Promise<GeneratedSequence[]> {
  const { session, rows, tokenizer } = params;
  const eos = new Set(params.eosTokenIds);
  const results: GeneratedSequence[] = rows.map(() => ({
    tokenIds: [],
    modelLogProbs: [],
    samplingLogProbs: [],
    text: tokenizer === undefined ? null : "",
    finishReason: "length",
  }));
  const decodeText = (tokenIds: readonly number[]) =>
    tokenizer!.decode(
      tokenIds.filter((token) => !eos.has(token)),
      { skipSpecialTokens: true },
    );
  const active = rows.map((_, index) => index).filter((index) => rows[index]!.maxNewTokens > 0);
  for (const row of rows) {
    if ((row.stop?.length ?? 0) > 0 && tokenizer === undefined)
      throw new RangeError("stop strings need a tokenizer");
    if (row.promptTokenIds.length === 0) throw new RangeError("a prompt needs at least one token");
  }
  if (active.length === 0) return results;
  const state = await session.prefill({ prompts: active.map((index) => rows[index]!.promptTokenIds) });
  const vocabulary = session.vocabularySize;
  for (;;) {
    params.signal?.throwIfAborted();
    const keep: number[] = [];
    const nextTokens: number[] = [];
    state.rows.forEach((rowIndex, batchRow) => {
      const row = rows[rowIndex]!;
      const result = results[rowIndex]!;
      const sampled = sampleToken({
        logits: state.logits.subarray(batchRow * vocabulary, (batchRow + 1) * vocabulary),
        sampling: row.sampling,
        random: row.random,
      });
      result.tokenIds.push(sampled.tokenId);
      result.modelLogProbs.push(sampled.modelLogProb);
      result.samplingLogProbs.push(sampled.samplingLogProb);
      let finished: "stop" | "length" | null = null;
      if (eos.has(sampled.tokenId)) finished = "stop";
      if (tokenizer !== undefined && (row.stop?.length ?? 0) > 0) {
        const text = decodeText(result.tokenIds);
        const at = firstStop(text, row.stop!);
        if (at >= 0) {
          result.text = text.slice(0, at);
          finished = "stop";
        }
      }
      if (finished === null && result.tokenIds.length >= row.maxNewTokens) finished = "length";
      if (finished === null) {
        keep.push(batchRow);
        nextTokens.push(sampled.tokenId);
      } else {
        result.finishReason = finished;
      }
    });
    params.onStep?.(state.rows.length);
    if (keep.length === 0) break;
    if (keep.length < state.rows.length) session.retainRows({ state, keep });
    await session.step({ state, tokens: nextTokens });
  }
  if (tokenizer !== undefined) {
    rows.forEach((row, index) => {
      const result = results[index]!;
      const stopped = result.finishReason === "stop" && (row.stop?.length ?? 0) > 0;
      if (!stopped || firstStop(decodeText(result.tokenIds), row.stop!) < 0)
        result.text = decodeText(result.tokenIds);
    });
  }
  return results;
}
