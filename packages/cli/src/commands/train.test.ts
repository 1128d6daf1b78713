import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Runs the built `posttrain` bin (turbo's test task depends on build).
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const posttrain = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } });

const microTokenizer = fileURLToPath(new URL("../../../../recipes/micro/tokenizer", import.meta.url));
const modelConfig = {
  vocab_size: 16,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  tie_word_embeddings: true,
};
const common = {
  seed: 1,
  batch: { devices: 1, perDeviceBatchSize: 2, gradientAccumulationSteps: 1, effectiveBatchSize: 2 },
  duration: { steps: 3 },
  learningRate: { peak: 1e-3, schedule: "linear", warmup: { steps: 0 } },
  adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  maxGradientNorm: 1,
  checkpointEverySteps: 2,
  evaluation: null,
  lossChunks: 1,
  threads: 1,
};

function setup(stage: "sft" | "dpo", training: Record<string, unknown>) {
  const directory = mkdtempSync(join(tmpdir(), `cli-train-${stage}-`));
  const rows =
    stage === "sft"
      ? [
          { input_ids: [1, 5, 2, 7, 8, 3], labels: [-100, -100, -100, 7, 8, 3] },
          { input_ids: [1, 6, 2, 9, 3], labels: [-100, -100, -100, 9, 3] },
        ]
      : [
          { prompt_ids: [1, 5, 2], chosen_ids: [8, 3], rejected_ids: [9, 11, 3] },
          { prompt_ids: [1, 6, 2], chosen_ids: [10, 3], rejected_ids: [7, 3] },
        ];
  writeFileSync(join(directory, "train.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n"));
  const config = join(directory, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      output: "run",
      seed: 1,
      model: { kind: "initialize", config: modelConfig, seed: 2 },
      data: { train: "train.jsonl" },
      training,
    }),
  );
  return { directory, config };
}

const smolTokenizer = fileURLToPath(
  new URL("../../../../../shared/data/tokenizers/SmolLM2-135M-Instruct", import.meta.url),
);

describe.skipIf(!existsSync(bin) || !existsSync(smolTokenizer))(
  "posttrain train rlvr (shared SmolLM2 tokenizer)",
  () => {
    it("rlvr: rollouts, gsm8k rewards and GRPO steps from a config file", () => {
      const directory = mkdtempSync(join(tmpdir(), "cli-train-rlvr-"));
      // "What is 3+4?" style prompts are not needed: ids only; the verifier reads decoded text.
      const rows = [
        { prompt_ids: [28, 29, 30], ground_truth: "7", dataset: "gsm8k" },
        { prompt_ids: [31, 32, 33], ground_truth: ["5"], dataset: ["gsm8k"] },
      ];
      writeFileSync(join(directory, "prompts.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n"));
      const config = join(directory, "config.json");
      writeFileSync(
        config,
        JSON.stringify({
          output: "run",
          seed: 1,
          model: { kind: "initialize", config: { ...modelConfig, vocab_size: 49152 }, seed: 2 },
          data: { train: "prompts.jsonl" },
          tokenizer: { directory: smolTokenizer },
          training: {
            seed: 1,
            batch: { devices: 1, perDeviceBatchSize: 4, gradientAccumulationSteps: 1 },
            steps: 2,
            rollouts: { promptsPerStep: 2, samplesPerPrompt: 2, temperature: 1, maxNewTokens: 3 },
            rewards: { verificationReward: 10, format: null, nonStopPenalty: { value: -10 } },
            advantages: "centered",
            filterZeroVarianceGroups: false,
            maskTruncatedCompletions: false,
            kl: { beta: 0.05, estimator: "k1" },
            clip: { low: 0.2, high: 0.2 },
            epochs: 1,
            learningRate: { peak: 1e-3, schedule: "constant", warmup: { steps: 0 } },
            adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
            maxGradientNorm: 1,
            checkpointEverySteps: 1,
            monitor: null,
            verifierWorkers: 0,
            verifierTimeoutMilliseconds: 5000,
            lossChunks: 1,
            threads: 1,
          },
        }),
      );
      const run = posttrain("train", "rlvr", "--config", config, "--json");
      expect(run.status, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result).toMatchObject({ stage: "rlvr", status: "completed", step: 2 });
      // Three tokens without EOS are truncated: the non-stop penalty replaces the reward.
      expect(result.metrics.lastStep.truncationRate).toBeGreaterThan(0);
      expect(result.metrics.lastStep.rewardMean).toBeLessThan(0);
    }, 120_000);
  },
);

describe.skipIf(!existsSync(bin))("posttrain train", () => {
  it("sft: trains from a config file, writes the model folder, and a rerun resumes to completion", () => {
    const { directory, config } = setup("sft", { ...common, reduction: "sum" });
    const first = posttrain("train", "sft", "--config", config, "--json");
    expect(first.status, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout);
    expect(result).toMatchObject({ stage: "sft", status: "completed", step: 3, totalSteps: 3 });
    expect(existsSync(join(directory, "run", "model", "model.safetensors"))).toBe(true);
    expect(existsSync(join(directory, "run", "events.jsonl"))).toBe(true);
    const again = posttrain("train", "sft", "--config", config);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("completed 3/3 steps");
  }, 120_000);

  it("dpo: trains from a config file", () => {
    const { directory, config } = setup("dpo", {
      ...common,
      loss: { type: "dpo_norm", beta: 5, labelSmoothing: 0, gammaBetaRatio: 0.3 },
      referenceCacheDirectory: "reference-cache",
    });
    const run = posttrain("train", "dpo", "--config", config, "--json");
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ stage: "dpo", status: "completed", step: 3 });
    expect(existsSync(join(directory, "run", "model", "parameters.bin"))).toBe(true);
  }, 120_000);

  it("a config error names the field and exits 1, leaving no empty output folder; an unknown stage exits 2", () => {
    const { directory, config } = setup("sft", { ...common, reduction: "average" });
    const bad = posttrain("train", "sft", "--config", config);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("reduction");
    expect(bad.stderr).not.toContain("unexpected error");
    expect(existsSync(join(directory, "run"))).toBe(false);
    expect(posttrain("train", "ppo", "--config", config).status).toBe(2);
  }, 120_000);

  it.skipIf(!existsSync(microTokenizer))(
    "raw chat and preference rows are tokenized with the config's tokenizer and chat template",
    () => {
      const directory = mkdtempSync(join(tmpdir(), "cli-train-raw-"));
      const chat = (question: string, answer: string) => [
        { role: "user", content: question },
        { role: "assistant", content: answer },
      ];
      writeFileSync(
        join(directory, "chat.jsonl"),
        [1, 2, 3, 4]
          .map((index) => JSON.stringify({ messages: chat(`What is ${index} + ${index}?`, `${2 * index}`) }))
          .join("\n"),
      );
      writeFileSync(
        join(directory, "pairs.jsonl"),
        [1, 2, 3, 4]
          .map((index) =>
            JSON.stringify({
              chosen: chat(`What is ${index} + 1?`, `${index + 1}`),
              rejected: chat(`What is ${index} + 1?`, `${index + 2}`),
            }),
          )
          .join("\n"),
      );
      const micro = { ...modelConfig, vocab_size: 512 };
      const write = (name: string, data: string, training: Record<string, unknown>, withTokenizer = true) => {
        const config = join(directory, `${name}.json`);
        writeFileSync(
          config,
          JSON.stringify({
            output: name,
            seed: 1,
            model: { kind: "initialize", config: micro, seed: 2 },
            data: { train: data, maxLength: 64 },
            ...(withTokenizer ? { tokenizer: { directory: microTokenizer, chatTemplate: "tulu" } } : {}),
            training,
          }),
        );
        return config;
      };
      const sftRun = posttrain(
        "train",
        "sft",
        "--config",
        write("sft", "chat.jsonl", { ...common, reduction: "sum" }),
        "--json",
      );
      expect(sftRun.status, sftRun.stderr).toBe(0);
      expect(JSON.parse(sftRun.stdout)).toMatchObject({ stage: "sft", status: "completed", step: 3 });
      const dpoRun = posttrain(
        "train",
        "dpo",
        "--config",
        write("dpo", "pairs.jsonl", {
          ...common,
          loss: { type: "dpo", beta: 0.1, labelSmoothing: 0, gammaBetaRatio: 0.3 },
          referenceCacheDirectory: null,
        }),
        "--json",
      );
      expect(dpoRun.status, dpoRun.stderr).toBe(0);
      expect(JSON.parse(dpoRun.stdout)).toMatchObject({ stage: "dpo", status: "completed", step: 3 });
      // Raw rows without a tokenizer: a named error, exit 1, no output folder.
      const missing = posttrain(
        "train",
        "sft",
        "--config",
        write("bare", "chat.jsonl", { ...common, reduction: "sum" }, false),
      );
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain("error [train_data_invalid]");
      expect(missing.stderr).toContain('add "tokenizer"');
      expect(existsSync(join(directory, "bare"))).toBe(false);
      // A row that is not a chat: named with its row number.
      writeFileSync(
        join(directory, "broken.jsonl"),
        `${JSON.stringify({ messages: chat("a", "b") })}\n{"text": "no messages"}\n`,
      );
      const broken = posttrain(
        "train",
        "sft",
        "--config",
        write("broken", "broken.jsonl", { ...common, reduction: "sum" }),
      );
      expect(broken.status).toBe(1);
      expect(broken.stderr).toMatch(/broken\.jsonl: 1 of 2 rows are not sft rows:\n {2}row 2: /);
      // The row formats are in --help.
      expect(posttrain("train", "--help").stdout).toContain(
        'dpo: {"chosen": [messages...], "rejected": [messages...]}',
      );
    },
    180_000,
  );
});
