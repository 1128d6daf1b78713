import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { gradients } from "../autodiff.js";
import { emitModel } from "../emit.js";
import { GraphBuilder, type GraphTensor } from "../graph.js";
import { tokenCrossEntropy } from "../losses.js";
import { ParameterLayout, packParameters } from "../parameters.js";
import { compileGraph, type Feed } from "../runtime.js";
import { DecoderModel } from "./decoder.js";
import { parseLlamaConfig } from "./llama-config.js";

const python = "/usr/bin/python3";
const torchAvailable = spawnSync(python, ["-c", "import torch, numpy"], { encoding: "utf8" }).status === 0;
if (!torchAvailable) {
  console.warn(
    "skipping the PyTorch parity test: /usr/bin/python3 cannot import torch (apt install python3-torch)",
  );
}
const referenceScript = fileURLToPath(new URL("../test/llama_reference.py", import.meta.url));

const batch = 2;
const sequence = 7;
// Row 0: one sequence; row 1: two packed segments (positions restart).
const positions = [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 0, 1, 2, 3];
const segments = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
const lossMask = [0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0];

async function runParity(tied: boolean) {
  const config = parseLlamaConfig({
    vocab_size: 61,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: tied,
  });
  const model = new DecoderModel(config, { threadInvariantGemms: false });
  const layout = new ParameterLayout(model.parameterSpecs());
  const values = model.initialValues(Random.fromSeed(3));
  // Perturb the norm gains so their gradients are not trivially symmetric.
  const random = Random.fromSeed(4);
  for (const spec of model.parameterSpecs()) {
    if (spec.init === "ones")
      values.set(
        spec.name,
        values.get(spec.name)!.map(() => 1 + 0.1 * random.nextNormal()),
      );
    else
      values.set(
        spec.name,
        values.get(spec.name)!.map((value) => value * 5),
      );
  }
  const flat = packParameters({ layout, values });

  const graph = new GraphBuilder();
  const parameters = model.declareParameters(graph);
  const inputs = model.declareInputs(graph);
  const labels = graph.input({ name: "labels", dtype: "int64", shape: ["batch", "sequence"] });
  const mask = graph.input({ name: "loss_mask", dtype: "float32", shape: ["batch", "sequence"] });
  const logits = model.logits({ graph, parameters, inputs });
  const logProbs = model.tokenLogProbs({ graph, parameters, inputs, labels, chunks: 3 });
  const loss = tokenCrossEntropy({ graph, logProbs, mask, reduction: "mean" });
  const names = [...parameters.keys()];
  const grads = gradients({ graph, loss, parameters: names.map((name) => parameters.get(name)!) });
  const outputs: Record<string, GraphTensor> = { logits, loss };
  names.forEach((name, index) => {
    outputs[`grad:${name}`] = grads[index]!;
  });
  const compiled = await compileGraph({ model: emitModel({ graph, outputs }), threads: 1 });

  const ids = Array.from({ length: batch * sequence }, (_, index) => (index * 17 + 5) % config.vocab_size);
  const targets = Array.from(
    { length: batch * sequence },
    (_, index) => (index * 23 + 2) % config.vocab_size,
  );
  const dims = [batch, sequence];
  const int64 = (values: number[]) => BigInt64Array.from(values.map((value) => BigInt(value)));
  const feeds: Record<string, Feed> = {
    input_ids: { data: int64(ids), dims },
    position_ids: { data: int64(positions), dims },
    segment_ids: { data: int64(segments), dims },
    labels: { data: int64(targets), dims },
    loss_mask: { data: Float32Array.from(lossMask), dims },
  };
  for (const entry of layout.entries)
    feeds[entry.name] = { data: layout.view(flat, entry.name), dims: entry.shape };
  const result = await compiled.run({ feeds });

  const directory = mkdtempSync(join(tmpdir(), "engine-parity-"));
  try {
    writeFileSync(
      join(directory, "meta.json"),
      JSON.stringify({ config, layout: layout.entries, batch, sequence }),
    );
    writeFileSync(join(directory, "parameters.bin"), flat);
    for (const name of ["input_ids", "position_ids", "segment_ids", "labels"])
      writeFileSync(join(directory, `${name}.bin`), feeds[name]!.data);
    writeFileSync(join(directory, "loss_mask.bin"), feeds["loss_mask"]!.data);
    const run = spawnSync(python, [referenceScript, directory], {
      encoding: "utf8",
      env: { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" },
    });
    expect(run.status, run.stderr).toBe(0);
    const torchLoss = JSON.parse(run.stdout.trim().split("\n").pop()!).loss as number;
    const read = (name: string) => {
      const bytes = readFileSync(join(directory, name));
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    };
    const relativeError = (ours: ArrayLike<number>, reference: ArrayLike<number>) => {
      let difference = 0;
      let scale = 0;
      for (let index = 0; index < reference.length; index += 1) {
        difference = Math.max(difference, Math.abs(ours[index]! - reference[index]!));
        scale = Math.max(scale, Math.abs(reference[index]!));
      }
      return difference / Math.max(scale, 1e-30);
    };
    const errors: Record<string, number> = {
      logits: relativeError(result["logits"]!.data as Float32Array, read("torch_logits.bin")),
    };
    const torchGradients = read("torch_grads.bin");
    for (const entry of layout.entries) {
      const reference = torchGradients.subarray(entry.offset, entry.offset + entry.size);
      expect(Math.max(...Array.from(reference, Math.abs)), entry.name).toBeGreaterThan(0);
      errors[entry.name] = relativeError(result[`grad:${entry.name}`]!.data as Float32Array, reference);
    }
    expect(Math.abs((result["loss"]!.data[0] as number) - torchLoss) / Math.abs(torchLoss)).toBeLessThan(
      1e-5,
    );
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThan(1e-5);
    return errors;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

describe.skipIf(!torchAvailable)(
  "Llama parity with PyTorch autograd (logits and every gradient within 1e-5 relative)",
  () => {
    it("untied LM head, GQA 4/2, packed segments, masked mean CE", async () => {
      const errors = await runParity(false);
      expect(Object.keys(errors)).toHaveLength(1 + 2 + 2 * 9 + 1);
    });
    it("tied embeddings", async () => {
      const errors = await runParity(true);
      expect(Object.keys(errors)).toHaveLength(1 + 1 + 2 * 9 + 1);
    });
  },
);

describe("parseLlamaConfig", () => {
  it("derives head_dim and KV heads, and names invalid fields", () => {
    const config = parseLlamaConfig({
      vocab_size: 10,
      hidden_size: 8,
      intermediate_size: 4,
      num_hidden_layers: 1,
      num_attention_heads: 2,
    });
    expect(config.head_dim).toBe(4);
    expect(config.num_key_value_heads).toBe(2);
    expect(() =>
      parseLlamaConfig({
        vocab_size: 10,
        hidden_size: 8,
        intermediate_size: 4,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        num_key_value_heads: 3,
      }),
    ).toThrowError(/num_key_value_heads/);
    expect(() => parseLlamaConfig({ vocab_size: -1 })).toThrowError(/vocab_size/);
  });
});
