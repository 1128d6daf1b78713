import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const posttrain = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } });
const tokenizerDirectory = fileURLToPath(
  new URL("../../../../../shared/data/tokenizers/SmolLM2-135M-Instruct", import.meta.url),
);
const scratch = mkdtempSync(join(tmpdir(), "cli-generate-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface GenerateOutput {
  model: { kind: string; modelHash: string };
  completions: { text: string; tokenIds: number[]; logprobs: number[]; finishReason: string }[];
}

describe.skipIf(!existsSync(tokenizerDirectory))(
  "posttrain generate (SmolLM2 tokenizer, tiny random Llama)",
  () => {
    const model = join(scratch, "model");
    beforeAll(() => {
      const configPath = join(scratch, "config.json");
      writeFileSync(
        configPath,
        JSON.stringify({
          architectures: ["LlamaForCausalLM"],
          vocab_size: 49152,
          hidden_size: 32,
          intermediate_size: 64,
          num_hidden_layers: 2,
          num_attention_heads: 4,
          num_key_value_heads: 2,
          tie_word_embeddings: true,
          bos_token_id: 1,
          eos_token_id: 2,
        }),
      );
      const init = posttrain(
        "model",
        "init",
        "--config",
        configPath,
        "--out",
        model,
        "--tokenizer",
        tokenizerDirectory,
      );
      if (init.status !== 0) throw new Error(init.stderr);
    }, 60_000);

    it("samples reproducibly per seed with text, token ids, log-probs and finish reasons; chat renders the template", () => {
      const run = (...extra: string[]) => {
        const result = posttrain("generate", "--model", model, "--max-new-tokens", "6", "--json", ...extra);
        expect(result.status, result.stderr).toBe(0);
        return JSON.parse(result.stdout) as GenerateOutput;
      };
      const first = run(
        "--prompt",
        "The capital of France is",
        "--temperature",
        "1",
        "--seed",
        "4",
        "--samples",
        "2",
      );
      expect(first.model).toMatchObject({
        kind: "embedded",
        modelHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(first.completions).toHaveLength(2);
      for (const completion of first.completions) {
        expect(completion.tokenIds).toHaveLength(6);
        expect(completion.logprobs).toHaveLength(6);
        expect(completion.finishReason).toBe("length");
        expect(completion.text.length).toBeGreaterThan(0);
      }
      expect(first.completions[0]!.tokenIds).not.toEqual(first.completions[1]!.tokenIds);
      const again = run(
        "--prompt",
        "The capital of France is",
        "--temperature",
        "1",
        "--seed",
        "4",
        "--samples",
        "2",
      );
      expect(again.completions).toEqual(first.completions);
      const chat = run("--prompt", "Hi", "--chat", "--system", "Be brief.");
      expect(chat.completions[0]!.tokenIds).toHaveLength(6);
    }, 60_000);

    it("exits 2 on bad arguments", () => {
      expect(posttrain("generate", "--model", model, "--prompt", "x", "--temperature", "-1").status).toBe(2);
      expect(posttrain("generate", "--model", join(scratch, "absent"), "--prompt", "x").status).toBe(2);
    });
  },
);
