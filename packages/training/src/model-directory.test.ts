import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaConfigInput } from "@posttrain/engine";
import { loadPretrainedModel, readSafetensors } from "@posttrain/engine";
import { afterEach, describe, expect, it } from "vitest";
import { TrainError } from "./errors.js";
import { writeModelDirectory } from "./model-directory.js";
import { loadTrainingModel } from "./model-source.js";

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

const config: LlamaConfigInput = {
  vocab_size: 24,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: false,
};

describe("training model folders", () => {
  for (const tied of [false, true]) {
    it(`round-trips through loadTrainingModel and the engine's HF loadPretrainedModel (tied: ${tied})`, async () => {
      const directory = await mkdtemp(join(tmpdir(), "training-model-"));
      directories.push(directory);
      const initial = await loadTrainingModel({
        source: { kind: "initialize", config: { ...config, tie_word_embeddings: tied }, seed: 5 },
      });
      await writeModelDirectory({ directory, ...initial });
      const reloaded = await loadTrainingModel({ source: { kind: "directory", directory } });
      expect(reloaded.hash).toBe(initial.hash);
      expect(Array.from(reloaded.parameters)).toEqual(Array.from(initial.parameters));
      const huggingFace = await loadPretrainedModel({ directory });
      expect(huggingFace.storedDtype).toBe("F32");
      for (const entry of initial.layout.entries)
        expect(Array.from(huggingFace.layout.view(huggingFace.parameters, entry.name))).toEqual(
          Array.from(initial.layout.view(initial.parameters, entry.name)),
        );
      const { tensors } = await readSafetensors({ path: join(directory, "model.safetensors") });
      expect(tensors.has("lm_head.weight")).toBe(!tied);
      expect(tensors.get("model.layers.0.mlp.up_proj.weight")!.shape).toEqual([32, 16]);
    });
  }

  it("refuses parameters that do not fit the config", async () => {
    await expect(
      loadTrainingModel({ source: { kind: "parameters", config, parameters: new Float32Array(3) } }),
    ).rejects.toSatisfy((error) => TrainError.hasCode(error, "train_model_invalid"));
  });
});
