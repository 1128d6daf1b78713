import { describe, expect, it } from "vitest";
import { DecoderModel } from "./model/decoder.js";
import { parseLlamaConfig } from "./model/llama-config.js";
import { globalGradientNorm } from "./optimizer.js";
import {
  buildCausalLmTrainingGraph,
  CausalLmTrainer,
  defaultGradientOutputSliceBytes,
  gradientRowSlices,
  type TokenBatch,
} from "./trainer.js";

const model = new DecoderModel(
  parseLlamaConfig({
    vocab_size: 50,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
  }),
  { threadInvariantGemms: false },
);

function rows(start: number, count: number, sequenceLength: number): TokenBatch {
  const ids: number[] = [];
  const labels: number[] = [];
  const mask: number[] = [];
  for (let row = start; row < start + count; row += 1) {
    for (let position = 0; position < sequenceLength; position += 1) {
      ids.push((row * 7 + position * 3) % 50);
      labels.push((row * 7 + (position + 1) * 3) % 50);
      mask.push(position === 0 || (row + position) % 5 === 0 ? 0 : 1);
    }
  }
  return {
    batchSize: count,
    sequenceLength,
    inputIds: BigInt64Array.from(ids, BigInt),
    labels: BigInt64Array.from(labels, BigInt),
    lossMask: Float32Array.from(mask),
  };
}

const options = { schedule: { kind: "constant", peak: 1e-2, totalSteps: 100 }, lossChunks: 3 } as const;

describe("CausalLmTrainer", () => {
  it("accumulating two micro-batches gives the token-mean gradient of the full batch", async () => {
    const whole = await CausalLmTrainer.create({ model, options, seed: 1, threads: 1 });
    const split = await CausalLmTrainer.create({ model, options, seed: 1, threads: 1 });
    const full = await whole.accumulateGradients([rows(0, 4, 9)]);
    const parts = await split.accumulateGradients([rows(0, 1, 9), rows(1, 3, 9)]);
    expect(parts.tokens).toBe(full.tokens);
    expect(parts.loss).toBeCloseTo(full.loss, 5);
    let worst = 0;
    for (let index = 0; index < whole.gradients.length; index += 1) {
      worst = Math.max(worst, Math.abs(whole.gradients[index]! - split.gradients[index]!));
    }
    // ORT wrote the gradients straight into the preallocated views of the flat buffer.
    const largest = Math.max(...Array.from(whole.gradients, Math.abs));
    expect(largest).toBeGreaterThan(0);
    for (const entry of whole.layout.entries) {
      expect(
        Math.max(...Array.from(whole.layout.view(whole.gradients, entry.name), Math.abs)),
        entry.name,
      ).toBeGreaterThan(0);
    }
    expect(worst / largest).toBeLessThan(1e-5);
  });

  it("learns a deterministic sequence, clips the update and reports the step", async () => {
    const trainer = await CausalLmTrainer.create({
      model,
      options: { ...options, maxGradientNorm: 1, adamW: { weightDecay: 0.01 } },
      seed: 2,
      threads: 1,
    });
    const batch = rows(0, 4, 16);
    const first = await trainer.trainStep({ microBatches: [batch] });
    expect(first.step).toBe(1);
    expect(first.loss).toBeGreaterThan(3.5); // ≈ ln 50 at initialisation
    expect(first.gradientNorm).toBeCloseTo(globalGradientNorm(trainer.gradients), 4);
    let last = first;
    for (let step = 0; step < 30; step += 1) last = await trainer.trainStep({ microBatches: [batch] });
    expect(last.step).toBe(31);
    expect(last.loss).toBeLessThan(first.loss / 4);
  });

  it("keeps one session for every batch shape", async () => {
    const trainer = await CausalLmTrainer.create({ model, options, seed: 3, threads: 1 });
    const short = await trainer.trainStep({ microBatches: [rows(0, 1, 5)] });
    const long = await trainer.trainStep({ microBatches: [rows(0, 3, 17), rows(3, 2, 4)] });
    expect(short.tokens).toBeGreaterThan(0);
    expect(long.tokens).toBeGreaterThan(short.tokens);
    expect(Number.isFinite(long.loss)).toBe(true);
  });
});

describe("gradient outputs below the mmap threshold", () => {
  it("splits only tensors larger than the slice size, into as few even row slices as fit", () => {
    // The SmolLM2-135M tied embedding: 49152 × 576 float32 = 108 MiB.
    const embedding = gradientRowSlices({ shape: [49152, 576], sliceBytes: defaultGradientOutputSliceBytes });
    expect(embedding).toHaveLength(5);
    expect(embedding[0]).toEqual({ start: 0, end: 9831 });
    expect(embedding.at(-1)!.end).toBe(49152);
    for (const [index, slice] of embedding.entries()) {
      expect(4 * 576 * (slice.end - slice.start)).toBeLessThanOrEqual(defaultGradientOutputSliceBytes);
      if (index > 0) expect(slice.start).toBe(embedding[index - 1]!.end);
    }
    expect(gradientRowSlices({ shape: [1536, 576], sliceBytes: defaultGradientOutputSliceBytes })).toEqual([
      { start: 0, end: 1536 },
    ]);
    expect(gradientRowSlices({ shape: [49152, 576], sliceBytes: 0 })).toEqual([{ start: 0, end: 49152 }]);
    expect(gradientRowSlices({ shape: [], sliceBytes: 1 })).toEqual([{ start: 0, end: 1 }]);
    // A row larger than the slice size still gets one row per slice.
    expect(gradientRowSlices({ shape: [3, 100], sliceBytes: 16 })).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 3 },
    ]);
  });

  it("emits row-sliced outputs only for large gradients and leaves the small graphs unchanged", () => {
    const whole = buildCausalLmTrainingGraph({ model, lossChunks: 3 });
    const sliced = buildCausalLmTrainingGraph({ model, lossChunks: 3, gradientOutputSliceBytes: 1024 });
    const embeddingName = Object.keys(whole.outputs).find((name) => name.includes("embed"))!;
    expect(embeddingName).toBeDefined();
    expect(Object.keys(sliced.outputs)).not.toContain(embeddingName);
    // 50 rows × 32 floats = 128 bytes a row: 8 rows per 1 KiB slice, 7 slices.
    expect(Object.keys(sliced.outputs).filter((name) => name.startsWith(`${embeddingName}@`))).toHaveLength(
      7,
    );
    const untouched = buildCausalLmTrainingGraph({
      model,
      lossChunks: 3,
      gradientOutputSliceBytes: defaultGradientOutputSliceBytes,
    });
    expect(Object.keys(untouched.outputs)).toEqual(Object.keys(whole.outputs));
  });

  it("writes bit-identical gradients, losses and parameters whether gradients leave ORT whole or sliced", async () => {
    const whole = await CausalLmTrainer.create({
      model,
      options,
      seed: 3,
      threads: 1,
      gradientOutputSliceBytes: 0,
    });
    const sliced = await CausalLmTrainer.create({
      model,
      options,
      seed: 3,
      threads: 1,
      gradientOutputSliceBytes: 1024,
    });
    for (let step = 0; step < 2; step += 1) {
      const batch = rows(step, 3, 8);
      const a = await whole.trainStep({ microBatches: [batch] });
      const b = await sliced.trainStep({ microBatches: [batch] });
      expect(b.loss).toBe(a.loss);
      expect(b.gradientNorm).toBe(a.gradientNorm);
      expect(Buffer.from(sliced.gradients.buffer).equals(Buffer.from(whole.gradients.buffer))).toBe(true);
      expect(Buffer.from(sliced.parameters.buffer).equals(Buffer.from(whole.parameters.buffer))).toBe(true);
    }
  });
});
