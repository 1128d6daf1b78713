import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initializePretrainedModel, savePretrainedModel } from "@posttrain/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmbeddedBackend } from "./embedded-backend.js";
import { getTask } from "./registry.js";
import { runEval } from "./run-eval.js";
import { defineTask } from "./task-spec.js";

const smolLm = fileURLToPath(
  new URL("../../../../shared/data/tokenizers/SmolLM2-135M-Instruct/", import.meta.url),
);
const tokenizerFiles = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "generation_config.json",
];

describe.skipIf(!existsSync(smolLm))(
  "the embedded backend (a tiny random Llama with SmolLM2's tokenizer)",
  () => {
    let directory: string;
    beforeAll(async () => {
      directory = await mkdtemp(join(tmpdir(), "evals-embedded-"));
      const model = initializePretrainedModel({
        seed: 3,
        config: {
          architectures: ["LlamaForCausalLM"],
          model_type: "llama",
          vocab_size: 49152,
          hidden_size: 32,
          intermediate_size: 48,
          num_hidden_layers: 1,
          num_attention_heads: 4,
          num_key_value_heads: 2,
          rms_norm_eps: 1e-5,
          rope_theta: 10000,
          hidden_act: "silu",
          max_position_embeddings: 4096,
          bos_token_id: 1,
          eos_token_id: 2,
          tie_word_embeddings: true,
        },
      });
      await savePretrainedModel({
        model,
        directory: join(directory, "model"),
        tokenizerFiles: tokenizerFiles.map((name) => join(smolLm, name)),
      });
      await writeFile(
        join(directory, "gsm8k.jsonl"),
        [
          { question: "What is 2 + 2?", answer: "2 + 2 = 4\n#### 4" },
          { question: "What is 3 + 5?", answer: "3 + 5 = 8\n#### 8" },
        ]
          .map((row) => JSON.stringify(row))
          .join("\n"),
      );
    });
    afterAll(async () => {
      await rm(directory, { recursive: true, force: true });
    });

    it("runs a task in-process, deterministically, and records the weights' hash", async () => {
      const base = getTask({ name: "gsm8k" });
      const task = defineTask({
        spec: { ...base, name: "gsm8k_tiny", generation: { ...base.generation, maxNewTokens: 6 } },
      });
      const backend = await createEmbeddedBackend({ modelDirectory: join(directory, "model"), threads: 1 });
      const first = await runEval({ task, backend, dataPath: join(directory, "gsm8k.jsonl") });
      const second = await runEval({ task, backend, dataPath: join(directory, "gsm8k.jsonl") });
      expect(first.model.kind).toBe("embedded");
      expect(first.model.modelHash).toMatch(/^[0-9a-f]{64}$/);
      expect(first.tasks[0]?.count).toBe(2);
      expect(second.tasks).toEqual(first.tasks);
      await backend.close?.();
    });

    it("a folder without config.json is embedded_backend_unavailable, pointing at --endpoint", async () => {
      await expect(createEmbeddedBackend({ modelDirectory: directory })).rejects.toThrow(/--endpoint/);
    });
  },
);
