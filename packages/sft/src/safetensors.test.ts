import { loadTrainingModel, safetensorsBytes } from "@posttrain/training";
import { describe, expect, it } from "vitest";
import { toyModelConfig } from "./test/toy.js";

describe("safetensors export", () => {
  it("writes HF names, [out, in] linear weights and exact bytes", async () => {
    const loaded = await loadTrainingModel({
      source: { kind: "initialize", config: { ...toyModelConfig, tie_word_embeddings: false }, seed: 1 },
    });
    const bytes = safetensorsBytes({ layout: loaded.layout, parameters: loaded.parameters });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    const body = bytes.subarray(8 + headerLength);
    const tensor = (name: string) => {
      const [begin, end] = header[name].data_offsets as [number, number];
      return new Float32Array(body.slice(begin, end).buffer);
    };
    // q_proj: engine [hidden, heads·head_dim] = [32, 32]; lm_head: engine [32, 32 vocab] → HF [vocab, hidden].
    expect(header["model.layers.0.mlp.up_proj.weight"].shape).toEqual([64, 32]);
    expect(header["model.embed_tokens.weight"].shape).toEqual([32, 32]);
    const up = loaded.layout.view(loaded.parameters, "model.layers.0.mlp.up_proj.weight"); // [32 in, 64 out]
    const exported = tensor("model.layers.0.mlp.up_proj.weight"); // [64 out, 32 in]
    expect(exported[5 * 32 + 7]).toBe(up[7 * 64 + 5]);
    expect(Array.from(tensor("model.norm.weight"))).toEqual(
      Array.from(loaded.layout.view(loaded.parameters, "model.norm.weight")),
    );
    expect(header.__metadata__).toEqual({ format: "pt" });
  });
});
