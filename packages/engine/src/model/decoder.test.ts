import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { emitModel } from "../emit.js";
import { createEmbeddedGenerationBackend } from "../generation/backend.js";
import type { GenerationTokenizer } from "../generation/tokenizer.js";
import { GraphBuilder, innerBlockCount } from "../graph.js";
import { compileGraph, type Feed } from "../runtime.js";
import { tinyModel } from "../test/tiny-models.js";
import { parseHuggingFaceConfig } from "./architecture.js";
import { DecoderModel, threadInvariantInnerBlock } from "./decoder.js";
import { parseLlamaConfig } from "./llama-config.js";

// The micro recipe's shape: the MLP down projection has K = 384 > 128, the width at which
// onnxruntime's SGEMM starts to sum in a thread-dependent order for short inputs.
const microShaped = {
  vocab_size: 97,
  hidden_size: 128,
  intermediate_size: 384,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  hidden_act: "silu",
  max_position_embeddings: 256,
  bos_token_id: 1,
  eos_token_id: 2,
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  tie_word_embeddings: true,
};

const idTokenizer: GenerationTokenizer = {
  encode: (text) => [...text].map((character) => 3 + (character.charCodeAt(0) % 90)),
  decode: (ids) => ids.map((id) => String.fromCharCode(32 + (id % 90))).join(""),
  eosTokenIds: [2],
  applyChatTemplate: ({ messages }) => messages.map((message) => message.content).join("\n"),
};

function bitsOf(values: ArrayLike<number>): string {
  return Buffer.from(Float32Array.from(values).buffer).toString("hex");
}

describe("innerBlockCount", () => {
  it("splits a width into the fewest even blocks of at most the largest, or not at all", () => {
    expect(innerBlockCount({ size: 128, largest: 128 })).toBe(1);
    expect(innerBlockCount({ size: 384, largest: 128 })).toBe(3);
    expect(innerBlockCount({ size: 576, largest: 128 })).toBe(6); // blocks of 96
    expect(innerBlockCount({ size: 1536, largest: 128 })).toBe(12);
    expect(innerBlockCount({ size: 131, largest: 128 })).toBe(1); // prime: one Gemm
  });
});

describe("linear with innerBlock", () => {
  it("equals the one-Gemm product (to float rounding) for stored and transposed weights", async () => {
    const random = Random.fromSeed(5).stream("linear");
    const rows = 7;
    const inFeatures = 384;
    const outFeatures = 48;
    const x = Float32Array.from({ length: rows * inFeatures }, () => random.nextNormal());
    const weight = Float32Array.from({ length: inFeatures * outFeatures }, () => random.nextNormal());
    for (const transposeWeight of [false, true]) {
      const graph = new GraphBuilder();
      const input = graph.input({ name: "x", dtype: "float32", shape: [rows, inFeatures] });
      const w = graph.input({
        name: "w",
        dtype: "float32",
        shape: transposeWeight ? [outFeatures, inFeatures] : [inFeatures, outFeatures],
      });
      const outputs = {
        plain: graph.linear(input, w, { transposeWeight }),
        blocked: graph.linear(input, w, { transposeWeight, innerBlock: 128 }),
      };
      const compiled = await compileGraph({ model: emitModel({ graph, outputs }), threads: 1 });
      const dims = transposeWeight ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
      const result = await compiled.run({
        feeds: { x: { data: x, dims: [rows, inFeatures] }, w: { data: weight, dims } },
      });
      const plain = result["plain"]!.data as Float32Array;
      const blocked = result["blocked"]!.data as Float32Array;
      expect(blocked).toHaveLength(rows * outFeatures);
      for (let index = 0; index < plain.length; index += 1)
        expect(blocked[index]).toBeCloseTo(plain[index]!, 3);
    }
  });
});

describe("one decoder class for from-scratch and pretrained models", () => {
  // The micro recipe's model config, as a recipe gives it (no architecture fields).
  const fromScratch = {
    vocab_size: 97,
    hidden_size: 128,
    intermediate_size: 384,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
  };

  /** The widest inner dimension of any Gemm/MatMul in a from-scratch training graph. */
  function widestInnerDimension(model: DecoderModel): number {
    const graph = new GraphBuilder();
    const parameters = model.declareParameters(graph);
    const inputs = model.declareInputs(graph);
    const labels = graph.input({ name: "labels", dtype: "int64", shape: ["batch", "sequence"] });
    model.tokenLogProbs({ graph, parameters, inputs, labels, chunks: 1 });
    let widest = 0;
    for (const node of graph.nodes) {
      if (node.op !== "gemm" && node.op !== "matMul") continue;
      const inner = node.inputs[0]!.shape.at(-1)!;
      if (inner.symbols.length === 0) widest = Math.max(widest, inner.coefficient);
    }
    return widest;
  }

  it("reads a LlamaConfig as the LlamaForCausalLM its output folder declares: same layout, same initial values", () => {
    const scratch = new DecoderModel(parseLlamaConfig(fromScratch));
    const pretrained = new DecoderModel(parseHuggingFaceConfig(microShaped));
    expect(scratch.config).toMatchObject({
      architecture: "llama",
      queryKeyValueBias: false,
      queryKeyNorm: false,
      normPlacement: "pre",
      ropeScaling: null,
    });
    expect(scratch.parameterSpecs()).toEqual(pretrained.parameterSpecs());
    const a = scratch.initialValues(Random.fromSeed(3));
    const b = pretrained.initialValues(Random.fromSeed(3));
    for (const [name, values] of a) expect(bitsOf(values), name).toBe(bitsOf(b.get(name)!));
  });

  it("blocks Gemms at 128 input features by default and keeps one Gemm per projection without", () => {
    const config = parseLlamaConfig(fromScratch);
    expect(widestInnerDimension(new DecoderModel(config))).toBe(128);
    expect(widestInnerDimension(new DecoderModel(config, { threadInvariantGemms: false }))).toBe(384);
    expect(widestInnerDimension(new DecoderModel(config, { threadInvariantGemms: false }))).toBe(384);
  });
});

describe("decoder graphs across thread counts", () => {
  it("uses blocks of at most 128 input features", () => {
    expect(threadInvariantInnerBlock).toBe(128);
  });

  it("token log-probs of a short batch are bit-identical with 1, 2 and 4 threads", async () => {
    const model = tinyModel({ config: microShaped, seed: 11 });
    const graph = new GraphBuilder();
    const parameters = model.model.declareParameters(graph);
    const inputs = model.model.declareInputs(graph);
    const logits = model.model.logits({ graph, parameters, inputs });
    const emitted = emitModel({ graph, outputs: { logits } });
    const row = [1, 5, 9, 14, 20, 27, 35, 44, 54, 65, 77, 90];
    const feeds: Record<string, Feed> = {
      input_ids: { data: BigInt64Array.from(row, BigInt), dims: [1, row.length] },
      position_ids: { data: BigInt64Array.from(row, (_, index) => BigInt(index)), dims: [1, row.length] },
      segment_ids: { data: new BigInt64Array(row.length), dims: [1, row.length] },
    };
    for (const entry of model.layout.entries)
      feeds[entry.name] = { data: model.layout.view(model.parameters, entry.name), dims: entry.shape };
    const bits = [];
    for (const threads of [1, 2, 4]) {
      const compiled = await compileGraph({ model: emitted, threads });
      bits.push(bitsOf((await compiled.run({ feeds }))["logits"]!.data as Float32Array));
    }
    expect(bits[1]).toBe(bits[0]);
    expect(bits[2]).toBe(bits[0]);
  });

  it("sampled tokens and their log-probs (KV-cache decoding) are bit-identical with 1, 2 and 4 threads", async () => {
    const model = tinyModel({ config: microShaped, seed: 12 });
    const outcomes = [];
    for (const threads of [1, 2, 4]) {
      const backend = createEmbeddedGenerationBackend({ model, tokenizer: idTokenizer, threads });
      const results = await backend.generate({
        requests: [3, 9, 17].map((length, index) => ({
          prompt: {
            kind: "tokens" as const,
            tokenIds: Array.from({ length }, (_, at) => 3 + ((at * 7) % 90)),
          },
          samples: 4,
          sampling: { temperature: 0.7, maxNewTokens: 12, seed: 100 + index, logprobs: true },
        })),
      });
      outcomes.push(
        results
          .flat()
          .map((sample) => ({ tokens: sample.tokenIds, logprobs: bitsOf(sample.logprobs ?? []) })),
      );
    }
    expect(outcomes[1]).toEqual(outcomes[0]);
    expect(outcomes[2]).toEqual(outcomes[0]);
  });
});
