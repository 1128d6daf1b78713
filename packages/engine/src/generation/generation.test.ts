import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { emitModel } from "../emit.js";
import { GraphBuilder } from "../graph.js";
import type { PretrainedModel } from "../model/pretrained.js";
import { type CompiledGraph, compileGraph, type Feed } from "../runtime.js";
import { tinyConfigs, tinyModel } from "../test/tiny-models.js";
import { createEmbeddedGenerationBackend } from "./backend.js";
import { computeCompletionLogProbs } from "./completion-log-probs.js";
import { DecodingSession } from "./decoding-session.js";
import { generateTokens } from "./generate.js";
import { logSoftmax, sampleToken } from "./sampling.js";
import type { GenerationTokenizer } from "./tokenizer.js";

const logitGraphs = new WeakMap<PretrainedModel, Promise<CompiledGraph>>();

/** Full-sequence logits `[length, vocab]` of one row (training-path graph, compiled once per model). */
async function fullLogits(model: PretrainedModel, row: readonly number[]): Promise<Float32Array> {
  let compiledGraph = logitGraphs.get(model);
  if (compiledGraph === undefined) {
    const graph = new GraphBuilder();
    const parameters = model.model.declareParameters(graph);
    const inputs = model.model.declareInputs(graph);
    const logits = model.model.logits({ graph, parameters, inputs });
    compiledGraph = compileGraph({ model: emitModel({ graph, outputs: { logits } }), threads: 1 });
    logitGraphs.set(model, compiledGraph);
  }
  const compiled = await compiledGraph;
  const feeds: Record<string, Feed> = {
    input_ids: { data: BigInt64Array.from(row, BigInt), dims: [1, row.length] },
    position_ids: { data: BigInt64Array.from(row, (_, index) => BigInt(index)), dims: [1, row.length] },
    segment_ids: { data: new BigInt64Array(row.length), dims: [1, row.length] },
  };
  for (const entry of model.layout.entries)
    feeds[entry.name] = { data: model.layout.view(model.parameters, entry.name), dims: entry.shape };
  return (await compiled.run({ feeds }))["logits"]!.data as Float32Array;
}

function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let error = 0;
  let scale = 0;
  for (let index = 0; index < expected.length; index += 1) {
    error = Math.max(error, Math.abs(actual[index]! - expected[index]!));
    scale = Math.max(scale, Math.abs(expected[index]!));
  }
  return error / scale;
}

const prompts = [
  [1, 4, 9, 16, 25, 36, 49],
  [1, 8],
  [1, 3, 5, 7, 11],
];

/**
 * A character-level tokenizer (0 pad, 1 bos, 2 eos; id ≥ 3 is a character, ids past the
 * alphabet wrap around) for text prompts and stop strings.
 */
const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .,:;\n";
const characterTokenizer: GenerationTokenizer = {
  encode: (text, options) => [
    ...(options?.addSpecialTokens === false ? [] : [1]),
    ...[...text].map((character) => 3 + Math.max(0, alphabet.indexOf(character))),
  ],
  decode: (ids, options) =>
    ids
      .filter((id) => id >= 3 || options?.skipSpecialTokens !== true)
      .map((id) => (id >= 3 ? alphabet[(id - 3) % alphabet.length]! : `<${id}>`))
      .join(""),
  eosTokenIds: [2],
  applyChatTemplate: ({ messages, addGenerationPrompt }) =>
    messages.map((message) => `${message.role}: ${message.content}\n`).join("") +
    (addGenerationPrompt ? "assistant: " : ""),
};

describe.each(Object.entries(tinyConfigs))("%s", (_label, config) => {
  it("KV-cache decoding (batched, left-padded, rows leaving) equals a full recompute", async () => {
    const model = tinyModel({ config, seed: 21 });
    const session = await DecodingSession.create({ model, threads: 1 });
    const state = await session.prefill({ prompts });
    const sequences = prompts.map((prompt) => [...prompt]);
    const vocabulary = session.vocabularySize;
    for (let step = 0; step < 6; step += 1) {
      const tokens: number[] = [];
      for (const [batchRow, row] of state.rows.entries()) {
        const cached = state.logits.subarray(batchRow * vocabulary, (batchRow + 1) * vocabulary);
        const full = await fullLogits(model, sequences[row]!);
        const last = full.subarray(full.length - vocabulary);
        expect(maxRelativeError(cached, last)).toBeLessThan(1e-5);
        const token = (step * 7 + row * 13 + 3) % vocabulary;
        tokens.push(token);
        sequences[row]!.push(token);
      }
      // Row 0 (the longest prompt, which sets the padding) leaves after two steps.
      if (step === 2) {
        session.retainRows({ state, keep: [1, 2] });
        tokens.shift();
        sequences[0]!.pop();
      }
      await session.step({ state, tokens });
    }
    expect(state.rows).toEqual([1, 2]);
  });

  it("sampled log-probs equal the training path's (padded and packed), and rows do not depend on the batch", async () => {
    const model = tinyModel({ config, seed: 22 });
    const session = await DecodingSession.create({ model, threads: 1 });
    const rows = prompts.map((prompt, index) => ({
      promptTokenIds: prompt,
      sampling: { temperature: 1 },
      maxNewTokens: 8 + index,
      random: Random.fromSeed(5).stream(`row ${index}`),
    }));
    const generated = await generateTokens({ session, rows, eosTokenIds: [] });
    for (const layout of ["padded", "packed"] as const) {
      const training = await computeCompletionLogProbs({
        model,
        layout,
        threads: 1,
        batch: prompts.map((prompt, index) => ({
          promptTokenIds: prompt,
          completionTokenIds: generated[index]!.tokenIds,
        })),
      });
      generated.forEach((sequence, index) => {
        expect(sequence.tokenIds).toHaveLength(8 + index);
        expect(sequence.finishReason).toBe("length");
        // temperature 1, no truncation: the sampling distribution is the model's.
        expect(sequence.samplingLogProbs).toEqual(sequence.modelLogProbs);
        training[index]!.tokenLogProbs.forEach((value, position) => {
          expect(Math.abs(value - sequence.modelLogProbs[position]!)).toBeLessThan(1e-5);
        });
        expect(training[index]!.sum).toBeCloseTo(
          sequence.modelLogProbs.reduce((a, b) => a + b, 0),
          4,
        );
      });
    }
    const alone = await generateTokens({
      session,
      rows: [{ ...rows[1]!, random: Random.fromSeed(5).stream("row 1") }],
      eosTokenIds: [],
    });
    expect(alone[0]!.tokenIds).toEqual(generated[1]!.tokenIds);
  });
});

describe("the time-major cache", () => {
  const config = tinyConfigs["llama (tied, GQA)"]!;

  it("grows past its initial room (twice) and still equals a full recompute; states share no buffer", async () => {
    const model = tinyModel({ config, seed: 24 });
    const session = await DecodingSession.create({ model, threads: 1 });
    const state = await session.prefill({ prompts });
    const firstCapacity = state.capacity;
    const firstBuffer = state.caches[0]!.key;
    expect(state.length).toBe(7);
    expect(firstCapacity).toBeGreaterThan(state.length);
    // Cache layout: time-major [capacity, rows, kv heads × head dim] per layer.
    expect(state.width).toBe(model.config.num_key_value_heads * model.config.head_dim);
    expect(firstBuffer.length).toBe(firstCapacity * prompts.length * state.width);
    const sequences = prompts.map((prompt) => [...prompt]);
    const vocabulary = session.vocabularySize;
    let grown = 0;
    for (let step = 0; step < 2 * firstCapacity; step += 1) {
      const capacity = state.capacity;
      const tokens = state.rows.map((row) => (step * 5 + row * 3 + 4) % vocabulary);
      tokens.forEach((token, row) => {
        sequences[row]!.push(token);
      });
      await session.step({ state, tokens });
      if (state.capacity !== capacity) grown += 1;
      expect(state.capacity).toBeGreaterThanOrEqual(state.length);
    }
    expect(grown).toBeGreaterThanOrEqual(2);
    expect(state.caches[0]!.key).not.toBe(firstBuffer);
    for (const [row, sequence] of sequences.entries()) {
      const full = await fullLogits(model, sequence);
      expect(
        maxRelativeError(
          state.logits.subarray(row * vocabulary, (row + 1) * vocabulary),
          full.subarray(full.length - vocabulary),
        ),
      ).toBeLessThan(1e-5);
    }
    // A selected copy owns its buffers: stepping it leaves the original's cache as it was.
    const copy = session.selectRows({ state, rows: [0, 2] });
    expect(copy.caches.every((cache, layer) => cache.key.buffer !== state.caches[layer]!.key.buffer)).toBe(
      true,
    );
    const before = Float32Array.from(state.caches[0]!.key.subarray(0, state.length * state.positionSize));
    for (let step = 0; step < firstCapacity; step += 1) await session.step({ state: copy, tokens: [5, 6] });
    expect(state.caches[0]!.key.subarray(0, state.length * state.positionSize)).toEqual(before);
  });
});

describe("stopping", () => {
  it("stops rows at EOS ids, stop strings and max new tokens, each with its finish reason", async () => {
    const model = tinyModel({ config: tinyConfigs["llama (tied, GQA)"]!, seed: 23 });
    const session = await DecodingSession.create({ model, threads: 1 });
    const greedy = (prompt: number[], maxNewTokens: number) => ({
      promptTokenIds: prompt,
      sampling: { temperature: 0 },
      maxNewTokens,
      random: Random.fromSeed(0),
    });
    const [free] = await generateTokens({
      session,
      rows: [greedy(prompts[0]!, 12)],
      eosTokenIds: [],
      tokenizer: characterTokenizer,
    });
    const tokens = free!.tokenIds;
    expect(free!.text).toBe(characterTokenizer.decode(tokens, { skipSpecialTokens: true }));
    // EOS: declare the 4th generated token an EOS id.
    const eos = tokens[3]!;
    const firstEos = tokens.indexOf(eos);
    const [stoppedAtEos] = await generateTokens({
      session,
      rows: [greedy(prompts[0]!, 12)],
      eosTokenIds: [eos],
    });
    expect(stoppedAtEos!.tokenIds).toEqual(tokens.slice(0, firstEos + 1));
    expect(stoppedAtEos!.finishReason).toBe("stop");
    // A stop string made of the 5th and 6th generated characters (when they are text).
    const text = free!.text!;
    const stop = text.slice(4, 6);
    expect(stop).toHaveLength(2);
    const [stoppedAtString, lengthLimited] = await generateTokens({
      session,
      rows: [{ ...greedy(prompts[0]!, 12), stop: [stop] }, greedy(prompts[1]!, 3)],
      eosTokenIds: [],
      tokenizer: characterTokenizer,
    });
    expect(stoppedAtString!.finishReason).toBe("stop");
    expect(stoppedAtString!.text).toBe(text.slice(0, text.indexOf(stop)));
    // Tokens run up to the first one whose text completes the stop string.
    const completing = tokens.findIndex((_, index) =>
      characterTokenizer.decode(tokens.slice(0, index + 1), { skipSpecialTokens: true }).includes(stop),
    );
    expect(stoppedAtString!.tokenIds).toEqual(tokens.slice(0, completing + 1));
    expect(lengthLimited!.finishReason).toBe("length");
    expect(lengthLimited!.tokenIds).toHaveLength(3);
  });
});

describe("sampling", () => {
  const logits = Float32Array.from([2, 1, 0.5, 0.5, -1, 3]);

  it("greedy takes the argmax and reports the model log-prob", () => {
    const sampled = sampleToken({ logits, sampling: { temperature: 0 }, random: Random.fromSeed(1) });
    expect(sampled.tokenId).toBe(5);
    expect(sampled.modelLogProb).toBeCloseTo(logSoftmax(logits)[5]!, 12);
    expect(sampled.samplingLogProb).toBe(sampled.modelLogProb);
  });

  it("top-k, top-p and temperature restrict and renormalise the sampling distribution (HF order)", () => {
    const counts = new Map<number, number>();
    const random = Random.fromSeed(2);
    for (let draw = 0; draw < 2000; draw += 1) {
      const sampled = sampleToken({ logits, sampling: { temperature: 0.7, topK: 3 }, random });
      counts.set(sampled.tokenId, (counts.get(sampled.tokenId) ?? 0) + 1);
      // Under top-k 3 at temperature 0.7 the distribution is softmax over {5, 0, 1} of logits/0.7.
      const kept = [3, 2, 1].map((value) => value / 0.7);
      const normalizer = Math.log(kept.reduce((sum, value) => sum + Math.exp(value), 0));
      expect(sampled.samplingLogProb).toBeCloseTo(logits[sampled.tokenId]! / 0.7 - normalizer, 10);
    }
    expect([...counts.keys()].sort()).toEqual([0, 1, 5]);
    const p5 = Math.exp(3 / 0.7) / [3, 2, 1].reduce((sum, value) => sum + Math.exp(value / 0.7), 0);
    expect(Math.abs(counts.get(5)! / 2000 - p5)).toBeLessThan(0.04);
    // top-p 0.5 keeps the smallest most-likely set with mass ≥ 0.5: token 5 (0.59) only.
    const probabilities = Array.from(logSoftmax(logits), Math.exp);
    expect(probabilities[5]!).toBeGreaterThan(0.5);
    for (let draw = 0; draw < 50; draw += 1) {
      const sampled = sampleToken({ logits, sampling: { temperature: 1, topP: 0.5 }, random });
      expect(sampled.tokenId).toBe(5);
      expect(sampled.samplingLogProb).toBe(0);
    }
    // Probabilities 0.593 (5), 0.218 (0), 0.080 (1), 0.049 (2, 3), 0.011 (4): top-p 0.8 keeps
    // {5, 0} (mass 0.811), top-p 0.85 also keeps 1.
    for (const [topP, expected] of [
      [0.8, [0, 5]],
      [0.85, [0, 1, 5]],
    ] as const) {
      const seen = new Set<number>();
      for (let draw = 0; draw < 400; draw += 1)
        seen.add(sampleToken({ logits, sampling: { temperature: 1, topP }, random }).tokenId);
      expect([...seen].sort()).toEqual(expected);
    }
  });

  it("the streaming path draws exactly what the full-row definition draws (temperature, top-k)", () => {
    // The definition: scaled row, top-k mask from the sorted row, log-softmax, inverse-CDF draw.
    const reference = (row: Float32Array, temperature: number, topK: number, random: Random) => {
      const scaled = Float64Array.from(row, (value) => value / temperature);
      if (topK > 0 && topK < row.length) {
        const threshold = Float64Array.from(scaled).sort().reverse()[topK - 1]!;
        for (let index = 0; index < scaled.length; index += 1)
          if (scaled[index]! < threshold) scaled[index] = Number.NEGATIVE_INFINITY;
      }
      const logProbs = logSoftmax(scaled);
      const draw = random.nextFloat();
      let cumulative = 0;
      let chosen = -1;
      for (let index = 0; index < row.length && chosen < 0; index += 1) {
        if (logProbs[index] === Number.NEGATIVE_INFINITY) continue;
        cumulative += Math.exp(logProbs[index]!);
        if (draw < cumulative) chosen = index;
      }
      return { tokenId: chosen, samplingLogProb: logProbs[chosen]!, modelLogProb: logSoftmax(row)[chosen]! };
    };
    const random = Random.fromSeed(11);
    for (let trial = 0; trial < 200; trial += 1) {
      const row = Float32Array.from({ length: 257 }, () => random.nextNormal() * 3);
      row[trial % 257] = row[(trial * 7) % 257]!; // ties
      const temperature = [1, 0.7, 1.3][trial % 3]!;
      const topK = [0, 1, 5, 50][trial % 4]!;
      const seed = `draw-${trial}`;
      expect(
        sampleToken({
          logits: row,
          sampling: { temperature, topK },
          random: Random.fromSeed(3).stream(seed),
        }),
      ).toEqual(reference(row, temperature, topK, Random.fromSeed(3).stream(seed)));
    }
  });

  it("the same seed gives the same draws", () => {
    const draw = (seed: number) =>
      Array.from(
        { length: 20 },
        (_, index) =>
          sampleToken({
            logits,
            sampling: { temperature: 1 },
            random: Random.fromSeed(seed).stream(`${index}`),
          }).tokenId,
      );
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });
});

describe("embedded GenerationBackend", () => {
  it("serves text, chat and token prompts with n samples, stop strings, logprobs and a model hash", async () => {
    const model = tinyModel({ config: tinyConfigs["qwen2 (qkv bias, tied)"]!, seed: 24 });
    const backend = createEmbeddedGenerationBackend({
      model,
      tokenizer: characterTokenizer,
      threads: 1,
      maxBatchSize: 2,
    });
    expect(backend.describe()).toMatchObject({
      kind: "embedded",
      modelHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const progress: number[] = [];
    const results = await backend.generate({
      requests: [
        {
          prompt: { kind: "text", text: "hello" },
          sampling: { temperature: 1, maxNewTokens: 5, seed: 3, logprobs: true },
          samples: 3,
        },
        {
          prompt: { kind: "chat", messages: [{ role: "user", content: "hi" }], assistantPrefix: "ok" },
          sampling: { temperature: 0, maxNewTokens: 4 },
        },
        {
          prompt: { kind: "tokens", tokenIds: [1, 5, 6] },
          sampling: { temperature: 0.8, topP: 0.9, maxNewTokens: 6 },
        },
      ],
      onProgress: ({ completedRequests }) => progress.push(completedRequests),
    });
    expect(results.map((samples) => samples.length)).toEqual([3, 1, 1]);
    for (const completion of results[0]!) {
      expect(completion.logprobs).toHaveLength(completion.tokenIds!.length);
      expect(completion.text).toBe(
        characterTokenizer.decode(completion.tokenIds!, { skipSpecialTokens: true }),
      );
    }
    expect(results[1]![0]!.logprobs).toBeNull();
    expect(progress.at(-1)).toBe(3);
    // The same requests in another batch composition give the same samples.
    const again = await createEmbeddedGenerationBackend({
      model,
      tokenizer: characterTokenizer,
      threads: 1,
      maxBatchSize: 5,
    }).generate({
      requests: [
        {
          prompt: { kind: "text", text: "hello" },
          sampling: { temperature: 1, maxNewTokens: 5, seed: 3, logprobs: true },
          samples: 3,
        },
      ],
    });
    expect(again[0]!.map((completion) => completion.tokenIds)).toEqual(
      results[0]!.map((completion) => completion.tokenIds),
    );
    // A chat prompt is the rendered template plus the assistant prefix, without special tokens.
    const [chat] = await backend.generate({
      requests: [
        {
          prompt: {
            kind: "tokens",
            tokenIds: characterTokenizer.encode("user: hi\nassistant: ok", { addSpecialTokens: false }),
          },
          sampling: { temperature: 0, maxNewTokens: 4 },
        },
      ],
    });
    expect(chat![0]!.tokenIds).toEqual(results[1]![0]!.tokenIds);
  });
});

describe("parameter updates", () => {
  it("a backend follows model.parameters when a trainer replaces or updates them", async () => {
    const model = tinyModel({ config: tinyConfigs["llama (tied, GQA)"]!, seed: 25 });
    const backend = createEmbeddedGenerationBackend({ model, tokenizer: characterTokenizer, threads: 1 });
    const request = {
      prompt: { kind: "tokens" as const, tokenIds: [1, 5, 9, 13] },
      sampling: { temperature: 0, maxNewTokens: 6 },
    };
    const before = await backend.generate({ requests: [request] });
    const hashBefore = backend.describe().modelHash;
    const other = tinyModel({ config: tinyConfigs["llama (tied, GQA)"]!, seed: 26 });
    model.parameters = other.parameters;
    const after = await backend.generate({ requests: [request] });
    expect(backend.describe().modelHash).not.toBe(hashBefore);
    const reference = await createEmbeddedGenerationBackend({
      model: other,
      tokenizer: characterTokenizer,
      threads: 1,
    }).generate({
      requests: [request],
    });
    expect(after[0]![0]!.tokenIds).toEqual(reference[0]![0]!.tokenIds);
    expect(after[0]![0]!.tokenIds).not.toEqual(before[0]![0]!.tokenIds);
  });
});
