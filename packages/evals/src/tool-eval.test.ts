import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GenerationBackend } from "@posttrain/core";
import { builtinChatTemplates, createChatTemplate } from "@posttrain/data";
import { initializePretrainedModel, savePretrainedModel } from "@posttrain/engine";
import type { ConversationGenerator, GeneratedTurn, TurnRequest } from "@posttrain/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmbeddedBackend, createEmbeddedToolBackend } from "./embedded-backend.js";
import { getTask } from "./registry.js";
import { runEval } from "./run-eval.js";
import { defineTask } from "./task-spec.js";
import type { ToolGenerationBackend } from "./tool-eval.js";

let directory = "";
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "evals-tools-"));
  await writeFile(
    join(directory, "gsm8k.jsonl"),
    [
      { question: "What is 1234 * 5678?", answer: "#### 7006652" },
      { question: "What is 99 * 99?", answer: "#### 9801" },
    ]
      .map((row) => JSON.stringify(row))
      .join("\n"),
  );
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const encode = (text: string) => [...text].map((character) => character.codePointAt(0)!);
const decode = (ids: readonly number[]) => String.fromCodePoint(...ids);
const template = createChatTemplate({
  source: builtinChatTemplates.chatml,
  specialTokens: {
    bosToken: null,
    eosToken: "<|im_end|>",
    padToken: null,
    unknownToken: null,
    additionalSpecialTokens: [],
  },
});

/** A "model" that cannot multiply: it guesses 0 without tools, and with tools asks the calculator and repeats its output. */
function scriptedToolBackend(): ToolGenerationBackend {
  return {
    tokenizer: {
      encode,
      decode,
      applyChatTemplate: ({ messages, addGenerationPrompt }) =>
        template.render({ messages: messages as never, addGenerationPrompt }),
    },
    chatTemplate: template,
    eosTokenIds: [],
    endOfTurnText: "<|im_end|>",
    createGenerator: (): ConversationGenerator => {
      const questions = new Map<number, string>();
      return {
        async generateTurns({ requests }: { requests: readonly TurnRequest[] }): Promise<GeneratedTurn[]> {
          return requests.map((request) => {
            const appended = decode(request.appendTokenIds);
            let text: string;
            if (!questions.has(request.id)) {
              const asked = [...appended.matchAll(/What is (\d+ \* \d+)\?/g)].at(-1)?.[1] ?? "0";
              questions.set(request.id, asked);
              text = `Let me compute <calculator>${asked}</calculator>`;
            } else {
              const value = /<output>\n(.*)\n<\/output>/.exec(appended)?.[1] ?? "?";
              text = ` So the answer is ${value}.`;
            }
            const tokenIds = encode(text);
            return {
              id: request.id,
              tokenIds,
              modelLogProbs: tokenIds.map(() => 0),
              samplingLogProbs: tokenIds.map(() => 0),
              text,
              finishReason: "eos",
            };
          });
        },
        release() {},
      };
    },
    describe: () => ({ kind: "scripted", model: "scripted" }),
  };
}

const guessingBackend: GenerationBackend = {
  describe: () => ({ kind: "scripted", model: "scripted" }),
  generate: async ({ requests }) =>
    requests.map((request) =>
      Array.from({ length: request.samples ?? 1 }, () => ({
        text: "So the answer is 0.",
        tokenIds: null,
        logprobs: null,
        finishReason: "stop" as const,
      })),
    ),
};

describe("evals with tools", () => {
  it("reports the task without and with tools (two rows), scoring only the model's last turn", async () => {
    const base = getTask({ name: "gsm8k" });
    const task = defineTask({
      spec: { ...base, name: "gsm8k_products", tools: { allow: ["calculator"], maxToolCalls: 2 } },
    });
    const results = await runEval({
      task,
      backend: guessingBackend,
      toolBackend: async () => scriptedToolBackend(),
      dataPath: join(directory, "gsm8k.jsonl"),
      bootstrapResamples: 50,
    });
    expect(results.tasks.map((result) => result.task.name)).toEqual([
      "gsm8k_products",
      "gsm8k_products+tools",
    ]);
    const [without, withTools] = results.tasks;
    expect(without!.primaryScore).toBe(0);
    expect(withTools!.primaryScore).toBe(1);
    expect(without!.toolUse).toBeUndefined();
    expect(withTools!.toolUse).toMatchObject({
      format: "tags",
      allow: ["calculator"],
      rollouts: 2,
      toolCalls: 2,
      toolCallsPerRollout: 1,
      toolErrorRate: 0,
      rolloutsWithToolUse: 2,
      callsByTool: { calculator: 2 },
    });
  });

  it("the tag format's system paragraph is the spec's `instructions` when given, else tagFormatInstructions", async () => {
    const prompts: string[] = [];
    const recording = (): ToolGenerationBackend => {
      const backend = scriptedToolBackend();
      return {
        ...backend,
        createGenerator: (params) => {
          const generator = backend.createGenerator(params);
          return {
            generateTurns: async (request) => {
              for (const turn of request.requests)
                if (turn.appendTokenIds.length > 0 && /What is/.test(decode(turn.appendTokenIds)))
                  prompts.push(decode(turn.appendTokenIds));
              return generator.generateTurns(request);
            },
            release: (request) => generator.release(request),
          };
        },
      };
    };
    const base = getTask({ name: "gsm8k" });
    for (const instructions of ["Tools: <calculator>expression</calculator>", undefined]) {
      prompts.length = 0;
      const task = defineTask({
        spec: {
          ...base,
          name: "gsm8k_products",
          tools: { allow: ["calculator"], ...(instructions === undefined ? {} : { instructions }) },
        },
      });
      const results = await runEval({
        task,
        backend: guessingBackend,
        toolBackend: async () => recording(),
        dataPath: join(directory, "gsm8k.jsonl"),
        bootstrapResamples: 50,
      });
      expect(results.tasks[1]!.primaryScore).toBe(1);
      expect(prompts).toHaveLength(2);
      for (const prompt of prompts) {
        if (instructions === undefined) {
          expect(prompt).toContain("You may call tools while you work.");
          expect(prompt).toContain("<calculator>expression</calculator>: Evaluates");
        } else {
          expect(prompt.startsWith(`<|im_start|>system\n${instructions}<|im_end|>`)).toBe(true);
          expect(prompt).not.toContain("You may call tools");
        }
      }
    }
  });

  it("a task with tools and no tool backend (an HTTP endpoint) is eval_tools_unsupported", async () => {
    const task = defineTask({
      spec: { ...getTask({ name: "gsm8k" }), name: "gsm8k_t", tools: { allow: ["python"] } },
    });
    await expect(
      runEval({
        task,
        backend: guessingBackend,
        dataPath: join(directory, "gsm8k.jsonl"),
        bootstrapResamples: 10,
      }),
    ).rejects.toMatchObject({ code: "eval_tools_unsupported" });
  });

  const smolLm = fileURLToPath(
    new URL("../../../../shared/data/tokenizers/SmolLM2-135M-Instruct/", import.meta.url),
  );
  it.skipIf(!existsSync(smolLm))(
    "runs in-process on the engine's conversation decoder (a tiny random Llama, SmolLM2's tokenizer)",
    async () => {
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
        tokenizerFiles: [
          "tokenizer.json",
          "tokenizer_config.json",
          "special_tokens_map.json",
          "generation_config.json",
        ].map((name) => join(smolLm, name)),
      });
      const base = getTask({ name: "gsm8k" });
      const task = defineTask({
        spec: {
          ...base,
          name: "gsm8k_tiny",
          generation: { ...base.generation, maxNewTokens: 6 },
          tools: { allow: ["calculator", "python"], format: "chat_template" },
        },
      });
      const backend = await createEmbeddedBackend({ modelDirectory: join(directory, "model"), threads: 1 });
      const results = await runEval({
        task,
        backend,
        toolBackend: () =>
          createEmbeddedToolBackend({ modelDirectory: join(directory, "model"), threads: 1 }),
        dataPath: join(directory, "gsm8k.jsonl"),
        bootstrapResamples: 10,
      });
      expect(results.tasks.map((result) => result.task.name)).toEqual(["gsm8k_tiny", "gsm8k_tiny+tools"]);
      expect(results.tasks[1]!.count).toBe(2);
      expect(results.tasks[1]!.toolUse?.rollouts).toBe(2);
      await backend.close?.();
    },
  );
});
