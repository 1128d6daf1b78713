import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { tinyConfigs, tinyModel } from "../test/tiny-models.js";
import { ConversationDecoder } from "./conversation-decoder.js";
import { DecodingSession } from "./decoding-session.js";
import type { GenerationTokenizer } from "./tokenizer.js";

/** Max |a − b| over max |b|: float32 results of two different ONNX call shapes. */
function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let error = 0;
  let scale = 0;
  for (let index = 0; index < expected.length; index += 1) {
    error = Math.max(error, Math.abs(actual[index]! - expected[index]!));
    scale = Math.max(scale, Math.abs(expected[index]!));
  }
  return error / scale;
}

/** Tolerance of a cached continuation against a re-prefill: float32 with different summation orders. */
const tolerance = 1e-5;

/** Characters a–z and `<>/` as ids 3…; 2 is EOS. */
const alphabet = "abcdefghijklmnopqrstuvwxyz<>/";
const tokenizer: GenerationTokenizer = {
  encode: (text) => [...text].map((character) => 3 + Math.max(0, alphabet.indexOf(character))),
  decode: (ids, options) =>
    ids
      .filter((id) => id >= 3 || options?.skipSpecialTokens !== true)
      .map((id) => (id >= 3 ? alphabet[(id - 3) % alphabet.length]! : `<${id}>`))
      .join(""),
  eosTokenIds: [2],
  applyChatTemplate: () => "",
};

describe.each(Object.entries(tinyConfigs))("%s", (_label, config) => {
  it("extend on the cache (batched, left-padded, merged, split) equals a re-prefill of the whole sequence", async () => {
    const model = tinyModel({ config, seed: 31 });
    const session = await DecodingSession.create({ model, threads: 1 });
    const vocabulary = session.vocabularySize;
    const sequences = [
      [1, 4, 9, 16, 25, 36, 49],
      [1, 8],
    ];
    const state = await session.prefill({ prompts: sequences });
    for (let step = 0; step < 3; step += 1) {
      const tokens = sequences.map((_, row) => (step * 5 + row * 11 + 3) % vocabulary);
      tokens.forEach((token, row) => {
        sequences[row]!.push(token);
      });
      await session.step({ state, tokens });
    }
    // Two rows appended with the same number of tokens in one call.
    const appended = [
      [7, 7, 3, 9],
      [5, 6, 7, 8],
    ];
    await session.extend({ state, tokens: appended });
    appended.forEach((tokens, row) => {
      sequences[row]!.push(...tokens);
    });
    for (const [row, sequence] of sequences.entries()) {
      const reference = await session.prefill({ prompts: [sequence] });
      expect(
        maxRelativeError(state.logits.subarray(row * vocabulary, (row + 1) * vocabulary), reference.logits),
      ).toBeLessThan(tolerance);
    }
    // Split the rows apart, extend one by a different length, merge back (it is now the shorter cache).
    const first = session.selectRows({ state, rows: [0] });
    const second = session.selectRows({ state, rows: [1] });
    await session.extend({ state: second, tokens: [[10, 11, 12]] });
    sequences[1]!.push(10, 11, 12);
    await session.extend({ state: first, tokens: [[13]] });
    sequences[0]!.push(13);
    const merged = session.mergeStates({ states: [second, first] });
    expect(merged.rows).toEqual([1, 0]);
    await session.step({ state: merged, tokens: [14, 15] });
    sequences[1]!.push(14);
    sequences[0]!.push(15);
    for (const [batchRow, row] of merged.rows.entries()) {
      const reference = await session.prefill({ prompts: [sequences[row]!] });
      expect(
        maxRelativeError(
          merged.logits.subarray(batchRow * vocabulary, (batchRow + 1) * vocabulary),
          reference.logits,
        ),
      ).toBeLessThan(tolerance);
    }
  });

  it("a conversation continued on its cache generates what a re-prefill of the whole text generates", async () => {
    const model = tinyModel({ config, seed: 32 });
    const session = await DecodingSession.create({ model, threads: 1 });
    const decoder = ConversationDecoder.create({
      session,
      tokenizer,
      sampling: { temperature: 0 },
      randomFor: (id) => Random.fromSeed(1).stream(`conversation ${id}`),
    });
    const prompts = [tokenizer.encode("what is six times seven"), tokenizer.encode("hi")];
    const first = await decoder.generateTurns({
      requests: prompts.map((prompt, id) => ({ id, appendTokenIds: prompt, maxNewTokens: 3 + id, stop: [] })),
      eosTokenIds: [],
    });
    expect(first.map((turn) => turn.tokenIds.length)).toEqual([3, 4]);
    expect(decoder.heldConversations).toBe(2);
    // Tool outputs of different lengths, appended on each cache.
    const outputs = [tokenizer.encode("<output>xlii</output>"), tokenizer.encode("<o>")];
    const second = await decoder.generateTurns({
      requests: outputs.map((tokens, id) => ({ id, appendTokenIds: tokens, maxNewTokens: 6, stop: [] })),
      eosTokenIds: [],
    });
    for (const id of [0, 1]) {
      const whole = [...prompts[id]!, ...first[id]!.tokenIds, ...outputs[id]!];
      const fresh = ConversationDecoder.create({
        session,
        tokenizer,
        sampling: { temperature: 0 },
        randomFor: () => Random.fromSeed(2),
      });
      const [reference] = await fresh.generateTurns({
        requests: [{ id: 0, appendTokenIds: whole, maxNewTokens: 6, stop: [] }],
        eosTokenIds: [],
      });
      expect(second[id]!.tokenIds).toEqual(reference!.tokenIds);
      second[id]!.modelLogProbs.forEach((value, position) => {
        expect(Math.abs(value - reference!.modelLogProbs[position]!)).toBeLessThan(1e-4);
      });
    }
    decoder.release({ ids: [0, 1] });
    expect(decoder.heldConversations).toBe(0);
  });

  it("a turn stops at a stop string with the stop in its text, and the stop token is run at the next turn", async () => {
    const model = tinyModel({ config, seed: 33 });
    const session = await DecodingSession.create({ model, threads: 1 });
    const decoder = ConversationDecoder.create({
      session,
      tokenizer,
      sampling: { temperature: 1 },
      randomFor: (id) => Random.fromSeed(3).stream(`c${id}`),
    });
    const [turn] = await decoder.generateTurns({
      requests: [{ id: 7, appendTokenIds: tokenizer.encode("abc"), maxNewTokens: 200, stop: ["a"] }],
      eosTokenIds: [],
    });
    // With 29+ ids of which one is "a", 200 draws at temperature 1 reach it (or the test says why not).
    expect(turn!.finishReason).toBe("stop");
    expect(turn!.text.endsWith("a")).toBe(true);
    const [next] = await decoder.generateTurns({
      requests: [{ id: 7, appendTokenIds: tokenizer.encode("z"), maxNewTokens: 2, stop: [] }],
      eosTokenIds: [],
    });
    expect(next!.tokenIds).toHaveLength(2);
  });
});
