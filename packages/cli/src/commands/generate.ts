import type { ChatMessage, GenerationPrompt } from "@posttrain/core";
import { loadTokenizer } from "@posttrain/data";
import { createEmbeddedGenerationBackend, loadPretrainedModel } from "@posttrain/engine";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";
import { resolveModelDirectory } from "./model.js";

interface GenerateOptions {
  model: string;
  prompt: string;
  chat?: boolean;
  system?: string;
  maxNewTokens: string;
  temperature: string;
  topP?: string;
  topK?: string;
  seed: string;
  samples: string;
  stop?: string[];
  threads?: string;
  json?: boolean;
}

function numberOption(
  name: string,
  value: string,
  check: (value: number) => boolean,
  expected: string,
): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || !check(parsed))
    throw new UsageError(`${name} must be ${expected}, got ${value}`);
  return parsed;
}

const isCount = (value: number) => Number.isSafeInteger(value) && value >= 1;

export function register(program: Command): void {
  program
    .command("generate")
    .description("generate from a local model folder (or hub:owner/name@sha) with the embedded engine")
    .requiredOption("--model <model>", "a Hugging Face model folder or hub:owner/name@<commit sha>")
    .requiredOption("--prompt <text>", "the prompt (raw text, or the user message with --chat)")
    .option("--chat", "render --prompt as a user message with the model's chat template")
    .option("--system <text>", "a system message (with --chat)")
    .option("--max-new-tokens <n>", "tokens to generate at most", "64")
    .option("--temperature <t>", "0 for greedy", "0")
    .option("--top-p <p>", "nucleus sampling mass")
    .option("--top-k <k>", "keep the k most likely tokens")
    .option("--seed <n>", "sampling seed", "0")
    .option("--samples <n>", "completions to generate", "1")
    .option("--stop <text...>", "stop strings")
    .option("--threads <n>", "intra-op threads (default: all cores)")
    .option("--json", "print JSON (text, token ids, log-probs, finish reason)")
    .action(async (options: GenerateOptions) => {
      if (options.system !== undefined && options.chat !== true)
        throw new UsageError("--system needs --chat");
      const maxNewTokens = numberOption(
        "--max-new-tokens",
        options.maxNewTokens,
        isCount,
        "a positive integer",
      );
      const temperature = numberOption("--temperature", options.temperature, (value) => value >= 0, "≥ 0");
      const topP =
        options.topP === undefined
          ? undefined
          : numberOption("--top-p", options.topP, (value) => value > 0 && value <= 1, "in (0, 1]");
      const topK =
        options.topK === undefined
          ? undefined
          : numberOption("--top-k", options.topK, isCount, "a positive integer");
      const seed = numberOption("--seed", options.seed, (value) => Number.isSafeInteger(value), "an integer");
      const samples = numberOption("--samples", options.samples, isCount, "a positive integer");
      const threads =
        options.threads === undefined
          ? undefined
          : numberOption("--threads", options.threads, isCount, "a positive integer");
      const directory = await resolveModelDirectory(options.model);
      const [model, tokenizer] = await Promise.all([
        loadPretrainedModel({ directory }),
        loadTokenizer({ directory }),
      ]);
      const messages: ChatMessage[] = [
        ...(options.system === undefined ? [] : [{ role: "system" as const, content: options.system }]),
        { role: "user", content: options.prompt },
      ];
      const prompt: GenerationPrompt =
        options.chat === true ? { kind: "chat", messages } : { kind: "text", text: options.prompt };
      const backend = createEmbeddedGenerationBackend({
        model,
        tokenizer,
        ...(threads === undefined ? {} : { threads }),
      });
      const [completions] = await backend.generate({
        requests: [
          {
            prompt,
            samples,
            sampling: {
              temperature,
              maxNewTokens,
              seed,
              logprobs: true,
              ...(topP === undefined ? {} : { topP }),
              ...(topK === undefined ? {} : { topK }),
              ...(options.stop === undefined ? {} : { stop: options.stop }),
            },
          },
        ],
      });
      output({
        json: options.json,
        value: { model: backend.describe(), completions },
        human: () =>
          completions!
            .map((completion, index) =>
              samples > 1
                ? `--- sample ${index + 1} (${completion.finishReason})\n${completion.text}`
                : completion.text,
            )
            .join("\n"),
      });
    });
}
