import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Random } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitModel } from "../emit.js";
import { DecodingSession } from "../generation/decoding-session.js";
import { generateTokens } from "../generation/generate.js";
import { GraphBuilder } from "../graph.js";
import { compileGraph, type Feed } from "../runtime.js";
import { readSafetensors } from "../safetensors.js";
import { tinyConfigs, tinyModel } from "../test/tiny-models.js";
import { parseHuggingFaceConfig, UnsupportedModelError } from "./architecture.js";
import {
  initializePretrainedModel,
  loadPretrainedModel,
  ModelFolderError,
  modelHash,
  type PretrainedModel,
  savePretrainedModel,
} from "./pretrained.js";

const python = "/usr/bin/python3";
const torchAvailable = spawnSync(python, ["-c", "import torch, numpy"], { encoding: "utf8" }).status === 0;
if (!torchAvailable) {
  console.warn(
    "skipping the PyTorch parity tests: /usr/bin/python3 cannot import torch (apt install python3-torch)",
  );
}
const referenceScript = fileURLToPath(new URL("../test/hf_reference.py", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "engine-pretrained-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Full-sequence logits `[length, vocab]` of one row through the training-path graph. */
async function engineLogits(model: PretrainedModel, row: readonly number[]): Promise<Float32Array> {
  const graph = new GraphBuilder();
  const parameters = model.model.declareParameters(graph);
  const inputs = model.model.declareInputs(graph);
  const logits = model.model.logits({ graph, parameters, inputs });
  const compiled = await compileGraph({ model: emitModel({ graph, outputs: { logits } }), threads: 1 });
  const feeds: Record<string, Feed> = {
    input_ids: { data: BigInt64Array.from(row, BigInt), dims: [1, row.length] },
    position_ids: { data: BigInt64Array.from(row, (_, index) => BigInt(index)), dims: [1, row.length] },
    segment_ids: { data: new BigInt64Array(row.length), dims: [1, row.length] },
  };
  for (const entry of model.layout.entries)
    feeds[entry.name] = { data: model.layout.view(model.parameters, entry.name), dims: entry.shape };
  return (await compiled.run({ feeds }))["logits"]!.data as Float32Array;
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let error = 0;
  let scale = 0;
  for (let index = 0; index < expected.length; index += 1) {
    error = Math.max(error, Math.abs(actual[index]! - expected[index]!));
    scale = Math.max(scale, Math.abs(expected[index]!));
  }
  return error / scale;
}

const prompts = [
  [1, 5, 9, 14, 3, 22, 40, 7, 11],
  [1, 60, 33, 2, 17],
];
const greedySteps = 10;

interface ReferenceAnswer {
  logits: number[][];
  greedy: number[][];
}

describe.skipIf(!torchAvailable)("parity with a PyTorch reference of the Hugging Face architectures", () => {
  const labels = Object.keys(tinyConfigs);
  let answers: ReferenceAnswer[] = [];
  beforeAll(async () => {
    const requests = [];
    for (const label of labels) {
      const directory = join(scratch, label.replace(/[^a-z0-9]+/gi, "-"));
      await savePretrainedModel({ model: tinyModel({ config: tinyConfigs[label]!, seed: 11 }), directory });
      requests.push({ directory, input_ids: prompts, greedy_steps: greedySteps });
    }
    // One Python process for every architecture (importing torch dominates its run time).
    const result = spawnSync(python, [referenceScript], {
      input: JSON.stringify(requests),
      encoding: "utf8",
      maxBuffer: 1 << 26,
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    });
    if (result.status !== 0) throw new Error(`hf_reference.py failed: ${result.stderr}`);
    answers = JSON.parse(result.stdout) as ReferenceAnswer[];
  }, 120_000);

  labels.forEach((label, index) => {
    it(`${label}: logits within 1e-5 relative, greedy decoding (KV cache, batched) identical`, async () => {
      const reference = answers[index]!;
      const model = await loadPretrainedModel({
        directory: join(scratch, label.replace(/[^a-z0-9]+/gi, "-")),
      });
      for (const [row, prompt] of prompts.entries()) {
        const logits = await engineLogits(model, prompt);
        expect(logits.length).toBe(reference.logits[row]!.length);
        expect(relativeError(logits, reference.logits[row]!)).toBeLessThan(1e-5);
      }
      const session = await DecodingSession.create({ model, threads: 1 });
      const generated = await generateTokens({
        session,
        rows: prompts.map((prompt) => ({
          promptTokenIds: prompt,
          sampling: { temperature: 0 },
          maxNewTokens: greedySteps,
          random: Random.fromSeed(0),
        })),
        eosTokenIds: [],
      });
      expect(generated.map((row) => row.tokenIds)).toEqual(reference.greedy);
      // The reference's greedy tokens are not all one repeated token (the test would be weak).
      expect(new Set(reference.greedy.flat()).size).toBeGreaterThan(2);
    }, 60_000);
  });
});

describe("Hugging Face folders", () => {
  it("load → save → load gives identical tensors; BF16 converts exactly; sharding and tied heads", async () => {
    const config = tinyConfigs["qwen2 (qkv bias, tied)"]!;
    const model = tinyModel({ config, seed: 5 });
    const first = join(scratch, "round-trip-1");
    const second = join(scratch, "round-trip-2");
    const saved = await savePretrainedModel({ model, directory: first, maxShardBytes: 40_000 });
    expect(saved.files).toContain("model.safetensors.index.json");
    expect(
      saved.files.filter((name) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(name)).length,
    ).toBeGreaterThan(1);
    const loaded = await loadPretrainedModel({ directory: first });
    expect(modelHash(loaded)).toBe(modelHash(model));
    await savePretrainedModel({ model: loaded, directory: second });
    const reloaded = await loadPretrainedModel({ directory: second });
    expect(Buffer.from(reloaded.parameters.buffer).equals(Buffer.from(model.parameters.buffer))).toBe(true);
    const { tensors, metadata } = await readSafetensors({ path: join(second, "model.safetensors") });
    expect(metadata).toEqual({ format: "pt" });
    expect(tensors.has("lm_head.weight")).toBe(false);
    // HF layout: q_proj.weight is [out, in].
    expect(tensors.get("model.layers.0.self_attn.q_proj.weight")!.shape).toEqual([32, 32]);
    expect(tensors.get("model.layers.0.self_attn.k_proj.weight")!.shape).toEqual([16, 32]);
    const savedConfig = JSON.parse(readFileSync(join(second, "config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(savedConfig["architectures"]).toEqual(["Qwen2ForCausalLM"]);
    expect(savedConfig["torch_dtype"]).toBe("float32");

    // BF16: write, read back, write again: the second BF16 file is byte-identical and the
    // values are exactly the BF16-rounded floats (BF16 → F32 is exact).
    const bf16 = join(scratch, "bf16");
    await savePretrainedModel({ model, directory: bf16, dtype: "BF16" });
    const fromBf16 = await loadPretrainedModel({ directory: bf16 });
    expect(fromBf16.storedDtype).toBe("BF16");
    const bf16Again = join(scratch, "bf16-again");
    await savePretrainedModel({ model: fromBf16, directory: bf16Again, dtype: "BF16" });
    expect(
      readFileSync(join(bf16Again, "model.safetensors")).equals(
        readFileSync(join(bf16, "model.safetensors")),
      ),
    ).toBe(true);
    const bits = new Uint32Array(fromBf16.parameters.buffer);
    expect(bits.every((value) => (value & 0xffff) === 0)).toBe(true);
    const original = model.layout.view(model.parameters, "model.embed_tokens.weight");
    const rounded = fromBf16.layout.view(fromBf16.parameters, "model.embed_tokens.weight");
    for (let index = 0; index < original.length; index += 1)
      expect(Math.abs(rounded[index]! - original[index]!)).toBeLessThanOrEqual(
        Math.abs(original[index]!) * 2 ** -8,
      );
  });

  it("carries generation_config.json and tokenizer files through", async () => {
    const source = join(scratch, "with-tokenizer");
    const model = initializePretrainedModel({ config: tinyConfigs["llama (tied, GQA)"]!, seed: 1 });
    await savePretrainedModel({ model, directory: source });
    writeFileSync(join(source, "tokenizer.json"), '{"version":"1.0"}');
    writeFileSync(join(source, "generation_config.json"), '{"eos_token_id":[2,3]}');
    const loaded = await loadPretrainedModel({ directory: source });
    const target = join(scratch, "with-tokenizer-copy");
    const { files } = await savePretrainedModel({ model: loaded, directory: target });
    expect(files).toEqual(
      expect.arrayContaining(["tokenizer.json", "generation_config.json", "config.json"]),
    );
    expect(readFileSync(join(target, "tokenizer.json"), "utf8")).toBe('{"version":"1.0"}');
  });

  it("rejects missing, unexpected and mis-shaped tensors and missing folders", async () => {
    await expect(loadPretrainedModel({ directory: join(scratch, "nowhere") })).rejects.toMatchObject({
      code: "model_folder_missing",
    });
    const directory = join(scratch, "mismatch");
    await savePretrainedModel({
      model: initializePretrainedModel({ config: tinyConfigs["llama (tied, GQA)"]!, seed: 1 }),
      directory,
    });
    const wrong = { ...tinyConfigs["llama (tied, GQA)"]!, intermediate_size: 40 };
    writeFileSync(join(directory, "config.json"), JSON.stringify(wrong));
    const error = await loadPretrainedModel({ directory }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelFolderError);
    expect((error as Error).message).toMatch(
      /mlp\.gate_proj\.weight has shape \[48, 32\], config\.json implies \[40, 32\]/,
    );
    writeFileSync(
      join(directory, "config.json"),
      JSON.stringify({ ...tinyConfigs["qwen2 (qkv bias, tied)"]! }),
    );
    await expect(loadPretrainedModel({ directory })).rejects.toThrow(
      /missing 6 tensor\(s\): model\.layers\.0\.self_attn\.q_proj\.bias/,
    );
    expect(existsSync(join(directory, "model.safetensors"))).toBe(true);
  });
});

describe("config.json", () => {
  it("names what is supported when the architecture or a field is not", () => {
    const base = tinyConfigs["llama (tied, GQA)"]!;
    expect(() => parseHuggingFaceConfig({ ...base, architectures: ["MistralForCausalLM"] })).toThrow(
      /unsupported architecture MistralForCausalLM; supported: LlamaForCausalLM .*Qwen2ForCausalLM .*Olmo2ForCausalLM/,
    );
    expect(() => parseHuggingFaceConfig({ ...base, rope_scaling: { rope_type: "yarn", factor: 4 } })).toThrow(
      UnsupportedModelError,
    );
    expect(() => parseHuggingFaceConfig({ ...base, hidden_act: "gelu" })).toThrow(
      /hidden_act = "gelu"; supported: "silu"/,
    );
    expect(() => parseHuggingFaceConfig({ ...base, hidden_size: "wide" })).toThrow(/hidden_size/);
    const parsed = parseHuggingFaceConfig({ ...base, architectures: undefined, model_type: "olmo2" });
    expect(parsed).toMatchObject({
      architecture: "olmo2",
      normPlacement: "post",
      queryKeyNorm: true,
      eosTokenIds: [2],
    });
  });
});
