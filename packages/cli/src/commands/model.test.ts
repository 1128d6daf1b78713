import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const posttrain = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } });
const scratch = mkdtempSync(join(tmpdir(), "cli-model-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const config = {
  architectures: ["Qwen2ForCausalLM"],
  model_type: "qwen2",
  vocab_size: 96,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  tie_word_embeddings: true,
  eos_token_id: 2,
};

describe("posttrain model", () => {
  it("init writes a HF folder that inspect describes (architecture, parameters, dtype, files, hashes)", () => {
    const configPath = join(scratch, "config.json");
    writeFileSync(configPath, JSON.stringify(config));
    const out = join(scratch, "model");
    const init = posttrain(
      "model",
      "init",
      "--config",
      configPath,
      "--out",
      out,
      "--seed",
      "3",
      "--dtype",
      "bf16",
      "--json",
    );
    expect(init.status, init.stderr).toBe(0);
    const created = JSON.parse(init.stdout);
    // embed 96·32 + per layer (q 32·32 + k,v 2·16·32 + o 32·32 + biases 32+16+16 + norms 2·32 + mlp 3·32·64) + final norm
    const perLayer = 32 * 32 + 2 * 16 * 32 + 32 * 32 + 64 + 64 + 3 * 32 * 64;
    expect(created.parameterCount).toBe(96 * 32 + 2 * perLayer + 32);
    const inspect = posttrain("model", "inspect", out, "--json");
    expect(inspect.status, inspect.stderr).toBe(0);
    const report = JSON.parse(inspect.stdout);
    expect(report).toMatchObject({
      architecture: "qwen2",
      parameterCount: created.parameterCount,
      dtype: "BF16",
      config: { layers: 2, keyValueHeads: 2, tiedEmbeddings: true },
    });
    expect(report.files.map((file: { name: string }) => file.name)).toEqual([
      "config.json",
      "model.safetensors",
    ]);
    expect(report.files[1].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.modelHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("fails with the supported list for an unknown architecture (exit 1) and rejects bad references (exit 2)", () => {
    const configPath = join(scratch, "mistral.json");
    writeFileSync(configPath, JSON.stringify({ ...config, architectures: ["MistralForCausalLM"] }));
    const unsupported = posttrain("model", "init", "--config", configPath, "--out", join(scratch, "m2"));
    expect(unsupported.status).toBe(1);
    expect(unsupported.stderr).toMatch(/MistralForCausalLM.*supported: LlamaForCausalLM/);
    const badReference = posttrain("model", "inspect", "hub:owner/name@main");
    expect(badReference.status).toBe(2);
    expect(badReference.stderr).toMatch(/40-hex commit sha/);
  });
});
