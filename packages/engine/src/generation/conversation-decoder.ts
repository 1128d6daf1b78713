/**
 * Multi-turn generation on one KV cache per conversation: a turn stops at an EOS id, a stop
 * string (a tool call's closing tag) or a token limit; the caller then appends tokens (a
 * tool's output) and the next turn continues on the same cache — only the appended tokens
 * (and the turn's last sampled token, not yet in the cache) are run, never the conversation
 * again. The conversations of one `generateTurns` call decode together in one batch.
 *
 * Satisfies @posttrain/tools' `ConversationGenerator` structurally (the engine may not import
 * tools: layer rule).
 */
import type { Random } from "@posttrain/core";
import type { DecodeState, DecodingSession } from "./decoding-session.js";
import { type SamplingParameters, sampleToken } from "./sampling.js";
import type { GenerationTokenizer } from "./tokenizer.js";

/** One turn to generate: append `appendTokenIds` to conversation `id` (its prompt, the first time), then decode. */
export interface ConversationTurnRequest {
  id: number;
  appendTokenIds: readonly number[];
  maxNewTokens: number;
  stop: readonly string[];
}

export interface ConversationTurn {
  id: number;
  /** The tokens sampled in this turn, the one that ended it included. */
  tokenIds: number[];
  /** Raw model log-prob of each token (temperature 1). */
  modelLogProbs: number[];
  /** Log-prob under the sampling distribution. */
  samplingLogProbs: number[];
  /** The turn's text (special tokens skipped), the stop string included. */
  text: string;
  /** `eos`: an EOS id; `stop`: a stop string; `length`: `maxNewTokens`. */
  finishReason: "eos" | "stop" | "length";
}

interface Parked {
  state: DecodeState;
  /** The last sampled token: generated, not yet run through the model. */
  pending: number | null;
}

function containsStop(text: string, stops: readonly string[]): boolean {
  return stops.some((stop) => stop.length > 0 && text.includes(stop));
}

export class ConversationDecoder {
  private readonly parked = new Map<number, Parked>();

  private constructor(
    private readonly session: DecodingSession,
    private readonly tokenizer: GenerationTokenizer,
    private readonly sampling: SamplingParameters,
    private readonly randomFor: (id: number) => Random,
  ) {}

  /** `randomFor(id)`: conversation `id`'s own random stream (called once per conversation). */
  static create(params: {
    session: DecodingSession;
    tokenizer: GenerationTokenizer;
    sampling: SamplingParameters;
    randomFor: (id: number) => Random;
  }): ConversationDecoder {
    return new ConversationDecoder(params.session, params.tokenizer, params.sampling, params.randomFor);
  }

  /** Conversations whose cache is held. */
  get heldConversations(): number {
    return this.parked.size;
  }

  /** Frees the caches of `ids` (finished conversations). */
  release(params: { ids: readonly number[] }): void {
    for (const id of params.ids) this.parked.delete(id);
  }

  private readonly randoms = new Map<number, Random>();

  private randomOf(id: number): Random {
    let random = this.randoms.get(id);
    if (random === undefined) {
      random = this.randomFor(id);
      this.randoms.set(id, random);
    }
    return random;
  }

  /** The state of conversation `id` after appending `tokens` (a prefill for a new conversation). */
  private async continueState(params: { id: number; tokens: readonly number[] }): Promise<DecodeState> {
    const held = this.parked.get(params.id);
    if (held === undefined) {
      if (params.tokens.length === 0) throw new RangeError(`conversation ${params.id}: an empty prompt`);
      const state = await this.session.prefill({ prompts: [params.tokens] });
      state.rows = [params.id];
      return state;
    }
    this.parked.delete(params.id);
    const tokens = [...(held.pending === null ? [] : [held.pending]), ...params.tokens];
    if (tokens.length > 0) await this.session.extend({ state: held.state, tokens: [tokens] });
    return held.state;
  }

  /** Generates one turn of every request (distinct ids), batched; each conversation's cache is kept for its next turn. */
  async generateTurns(params: {
    requests: readonly ConversationTurnRequest[];
    eosTokenIds: readonly number[];
    signal?: AbortSignal;
  }): Promise<ConversationTurn[]> {
    const { requests } = params;
    if (new Set(requests.map((request) => request.id)).size !== requests.length)
      throw new RangeError("generateTurns: a conversation appears twice");
    const eos = new Set(params.eosTokenIds);
    const byId = new Map(requests.map((request) => [request.id, request]));
    const turns = new Map<number, ConversationTurn>(
      requests.map((request) => [
        request.id,
        {
          id: request.id,
          tokenIds: [],
          modelLogProbs: [],
          samplingLogProbs: [],
          text: "",
          finishReason: "length",
        },
      ]),
    );
    const active = requests.filter((request) => request.maxNewTokens > 0);
    // New conversations are prefilled together; continued ones extend their own cache.
    const fresh = active.filter((request) => !this.parked.has(request.id));
    const states: DecodeState[] = [];
    if (fresh.length > 0) {
      const state = await this.session.prefill({ prompts: fresh.map((request) => request.appendTokenIds) });
      state.rows = fresh.map((request) => request.id);
      states.push(state);
    }
    for (const request of active)
      if (this.parked.has(request.id))
        states.push(await this.continueState({ id: request.id, tokens: request.appendTokenIds }));
    if (states.length === 0) return requests.map((request) => turns.get(request.id)!);
    const state = this.session.mergeStates({ states });
    const vocabulary = this.session.vocabularySize;
    const decode = (tokenIds: readonly number[]) =>
      this.tokenizer.decode(
        tokenIds.filter((token) => !eos.has(token)),
        { skipSpecialTokens: true },
      );
    for (;;) {
      params.signal?.throwIfAborted();
      const keep: number[] = [];
      const nextTokens: number[] = [];
      const finished: Array<{ batchRow: number; id: number; token: number }> = [];
      state.rows.forEach((id, batchRow) => {
        const request = byId.get(id)!;
        const turn = turns.get(id)!;
        const sampled = sampleToken({
          logits: state.logits.subarray(batchRow * vocabulary, (batchRow + 1) * vocabulary),
          sampling: this.sampling,
          random: this.randomOf(id),
        });
        turn.tokenIds.push(sampled.tokenId);
        turn.modelLogProbs.push(sampled.modelLogProb);
        turn.samplingLogProbs.push(sampled.samplingLogProb);
        let reason: ConversationTurn["finishReason"] | null = null;
        if (eos.has(sampled.tokenId)) reason = "eos";
        else if (request.stop.length > 0 && containsStop(decode(turn.tokenIds), request.stop))
          reason = "stop";
        else if (turn.tokenIds.length >= request.maxNewTokens) reason = "length";
        if (reason === null) {
          keep.push(batchRow);
          nextTokens.push(sampled.tokenId);
        } else {
          turn.finishReason = reason;
          finished.push({ batchRow, id, token: sampled.tokenId });
        }
      });
      for (const done of finished)
        this.parked.set(done.id, {
          state: this.session.selectRows({ state, rows: [done.batchRow] }),
          pending: done.token,
        });
      if (keep.length === 0) break;
      if (keep.length < state.rows.length) this.session.retainRows({ state, keep });
      await this.session.step({ state, tokens: nextTokens });
    }
    for (const turn of turns.values()) turn.text = decode(turn.tokenIds);
    return requests.map((request) => turns.get(request.id)!);
  }
}
