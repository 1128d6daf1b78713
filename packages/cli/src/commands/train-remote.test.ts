// RLVR on the embedded trainer with rollouts from a `posttrain serve` child process over HTTP
// (SGLang's native API), the policy pushed after every step: both run as the built bin.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readEvents } from "@posttrain/core";
import { loadTokenizer } from "@posttrain/data";
import { createEmbeddedGenerationBackend, loadPretrainedModel } from "@posttrain/engine";
import { writeTinyServeModel } from "@posttrain/evals/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
/** The micro recipe's 512-token tokenizer (the tiny served model's). */
const microTokenizerDirectory = fileURLToPath(
  new URL("../../../../recipes/micro/tokenizer/", import.meta.url),
);

/** The server's weight-update token; the trainer sends it from its environment. */
const token = "train-remote-test-token-0123456789";

function run(
  args: string[],
  environment: NodeJS.ProcessEnv = { POSTTRAIN_GENERATION_API_KEY: token },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, CI: "true", ...environment },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

function startServer(args: string[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [bin, "serve", ...args], {
    env: { ...process.env, CI: "true", POSTTRAIN_WEIGHT_UPDATE_TOKEN: token },
  });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const url = new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const line = stdout.split("\n").find((entry) => entry.startsWith("{"));
      if (line !== undefined && stdout.includes("\n")) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.on("close", () => reject(new Error(`serve exited: ${stderr}`)));
  });
  return { child, url };
}

/** The tiny served model's shape (writeTinyServeModel), as an initial trainer config. */
const tinyConfig = {
  vocab_size: 512,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
};

interface Generated {
  output_ids: number[];
  meta_info: { weight_version: string; output_token_logprobs: [number, number, null][] };
}

describe.skipIf(!existsSync(bin))("posttrain train rlvr --generation-server sglang (posttrain serve)", () => {
  let directory: string;
  let server: { child: ChildProcess; url: Promise<string> };
  let base: string;
  const greedy = async (prompt: number[]): Promise<Generated> => {
    const response = await fetch(`${base}/generate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        input_ids: prompt,
        sampling_params: { temperature: 0, max_new_tokens: 6 },
        return_logprob: true,
      }),
    });
    return (await response.json()) as Generated;
  };

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "cli-train-remote-"));
    // The server starts from other weights than the trainer's: the first push replaces them.
    await writeTinyServeModel({ directory: join(directory, "served"), seed: 5 });
    // Weight updates on, token from the environment; the root defaults to `directory` (the
    // served folder's parent), which holds the runs' weight folders.
    server = startServer([
      "--model",
      join(directory, "served"),
      "--port",
      "0",
      "--threads",
      "1",
      "--enable-weight-updates",
    ]);
    base = (await server.url).replace(/\/v1$/, "");
  });
  afterAll(async () => {
    server?.child.kill("SIGKILL");
    if (process.env["KEEP_TEST_DIRECTORY"] === undefined)
      await rm(directory, { recursive: true, force: true });
    else process.stderr.write(`kept ${directory}\n`);
  });

  it("trains with rollouts from the server, pushing the policy every step; the server ends on the final model", async () => {
    const tokenizer = await loadTokenizer({ directory: microTokenizerDirectory });
    const rows = ["Q: 2+3=", "Q: 1+1=", "Q: 4+4=", "Q: 3+3="].map((question, index) => ({
      prompt_ids: tokenizer.encode(question, { addSpecialTokens: false }),
      ground_truth: String([5, 2, 8, 6][index]),
      dataset: "gsm8k",
    }));
    await writeFile(join(directory, "prompts.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n"));
    const config = join(directory, "config.json");
    await writeFile(
      config,
      JSON.stringify({
        output: "run",
        seed: 1,
        model: { kind: "initialize", config: tinyConfig, seed: 7 },
        data: { train: "prompts.jsonl" },
        tokenizer: { directory: microTokenizerDirectory },
        training: {
          seed: 3,
          batch: { devices: 1, perDeviceBatchSize: 8, gradientAccumulationSteps: 1, effectiveBatchSize: 8 },
          steps: 3,
          rollouts: { promptsPerStep: 4, samplesPerPrompt: 4, temperature: 1, maxNewTokens: 3 },
          // A format reward ("the answer contains an e") gives the random policy reward variance.
          rewards: {
            verificationReward: 10,
            format: { pattern: "[\\s\\S]*e[\\s\\S]*", reward: 1 },
            nonStopPenalty: null,
          },
          advantages: "standard",
          filterZeroVarianceGroups: true,
          maskTruncatedCompletions: false,
          kl: { beta: 0.01, estimator: "k3" },
          clip: { low: 0.2, high: 0.28 },
          epochs: 1,
          learningRate: { peak: 2e-2, schedule: "constant", warmup: { steps: 0 } },
          adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
          maxGradientNorm: 1,
          checkpointEverySteps: 10,
          monitor: null,
          verifierWorkers: 0,
          verifierTimeoutMilliseconds: 5000,
          lossChunks: 1,
          threads: 1,
        },
      }),
    );
    const probe = rows[0]!.prompt_ids;
    const before = await greedy(probe);
    expect(before.meta_info.weight_version).toBe("default");

    const result = await run([
      "train",
      "rlvr",
      "--config",
      config,
      "--generation-server",
      "sglang",
      "--generation-url",
      await server.url,
      "--json",
    ]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout) as { status: string; step: number; modelDirectory: string };
    expect(summary.status).toBe("completed");
    expect(summary.step).toBe(3);

    const { events } = readEvents({ path: join(directory, "run", "events.jsonl") });
    const syncs = events.filter((event) => event.type === "weight-sync");
    expect(syncs.map((event) => event["weightVersion"])).toEqual([
      "step-000000",
      "step-000001",
      "step-000002",
      "step-000003",
    ]);
    const steps = events.filter((event) => event.type === "step-end");
    expect(steps).toHaveLength(3);
    // The server sampled with the trainer's current weights at every step: its sampling
    // log-probs equal the training graph's (stale weights would differ after step 1).
    for (const step of steps) expect(step["logProbMismatch"] as number).toBeLessThan(1e-3);
    expect(steps.some((step) => (step["optimizerSteps"] as number) > 0)).toBe(true);

    // The server now serves the final model: its greedy answer and log-probs are the trainer's.
    const after = await greedy(probe);
    expect(after.meta_info.weight_version).toBe("step-000003");
    const finalModel = await loadPretrainedModel({ directory: summary.modelDirectory });
    const backend = createEmbeddedGenerationBackend({ model: finalModel, tokenizer, threads: 1 });
    const expected = (
      await backend.generate({
        requests: [
          {
            prompt: { kind: "tokens", tokenIds: probe },
            sampling: { temperature: 0, maxNewTokens: 6, logprobs: true },
          },
        ],
      })
    )[0]![0]!;
    expect(after.output_ids).toEqual(expected.tokenIds);
    after.meta_info.output_token_logprobs.forEach((entry, index) => {
      expect(entry[0]).toBeCloseTo(expected.logprobs![index]!, 4);
    });
    const beforeLogProbs = before.meta_info.output_token_logprobs.map((entry) => entry[0]);
    const afterLogProbs = after.meta_info.output_token_logprobs.map((entry) => entry[0]);
    expect(afterLogProbs).not.toEqual(beforeLogProbs);
    // Only the newest step folders are kept.
    const resolved = JSON.parse(await readFile(join(directory, "run", "config.json"), "utf8")) as {
      config: { generation: { backend: string; server: string } };
    };
    expect(resolved.config.generation).toMatchObject({ backend: "remote", server: "sglang" });
  }, 180_000);

  it("--sync-every-steps 2 lets rollouts lag one step behind, which the log-prob check sees", async () => {
    const config = JSON.parse(await readFile(join(directory, "config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const lagged = join(directory, "lagged.json");
    await writeFile(lagged, JSON.stringify({ ...config, output: "run-lagged" }));
    const result = await run([
      "train",
      "rlvr",
      "--config",
      lagged,
      "--generation-server",
      "sglang",
      "--generation-url",
      await server.url,
      "--sync-every-steps",
      "2",
    ]);
    expect(result.status).toBe(0);
    const { events } = readEvents({ path: join(directory, "run-lagged", "events.jsonl") });
    expect(events.filter((event) => event.type === "weight-sync").map((event) => event["step"])).toEqual([
      0, 2, 3,
    ]);
    const mismatch = events
      .filter((event) => event.type === "step-end")
      .map((event) => event["logProbMismatch"] as number);
    // Step 2's rollouts came from the step-0 policy while the trainer held the step-1 one.
    expect(mismatch[0]).toBeLessThan(1e-3);
    expect(mismatch[1]).toBeGreaterThan(1e-2);
    expect(mismatch[2]).toBeLessThan(1e-3);
  }, 180_000);

  it("vLLM mode: the policy overwrites the served folder, then reload_weights (dev mode)", async () => {
    const config = JSON.parse(await readFile(join(directory, "config.json"), "utf8")) as {
      training: Record<string, unknown>;
    };
    const vllm = join(directory, "vllm.json");
    await writeFile(
      vllm,
      JSON.stringify({ ...config, output: "run-vllm", training: { ...config.training, steps: 2 } }),
    );
    const result = await run(
      [
        "train",
        "rlvr",
        "--config",
        vllm,
        "--generation-server",
        "vllm",
        "--generation-url",
        await server.url,
        "--generation-weights-directory",
        join(directory, "served"),
      ],
      { POSTTRAIN_WEIGHT_UPDATE_TOKEN: token },
    );
    expect(result.status).toBe(0);
    const { events } = readEvents({ path: join(directory, "run-vllm", "events.jsonl") });
    const syncs = events.filter((event) => event.type === "weight-sync");
    expect(syncs.map((event) => event["directory"])).toEqual([0, 1, 2].map(() => join(directory, "served")));
    for (const step of events.filter((event) => event.type === "step-end"))
      expect(step["logProbMismatch"] as number).toBeLessThan(1e-3);
  }, 180_000);

  it("without the token the first weight push is refused (exit 1, the error names the variable)", async () => {
    const config = JSON.parse(await readFile(join(directory, "config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const versionBefore = (await greedy([72, 101])).meta_info.weight_version;
    const untokened = join(directory, "untokened.json");
    await writeFile(untokened, JSON.stringify({ ...config, output: "run-untokened" }));
    const result = await run(
      [
        "train",
        "rlvr",
        "--config",
        untokened,
        "--generation-server",
        "sglang",
        "--generation-url",
        await server.url,
      ],
      { POSTTRAIN_GENERATION_API_KEY: "", POSTTRAIN_WEIGHT_UPDATE_TOKEN: "" },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("401");
    expect(result.stderr).toContain("POSTTRAIN_WEIGHT_UPDATE_TOKEN");
    expect((await greedy([72, 101])).meta_info.weight_version).toBe(versionBefore);
  }, 60_000);

  it("refuses remote-generation flags on other stages and without a server (exit 2)", async () => {
    const config = join(directory, "config.json");
    const wrongStage = await run(["train", "sft", "--config", config, "--generation-server", "sglang"]);
    expect(wrongStage.status).toBe(2);
    expect(wrongStage.stderr).toContain("train rlvr only");
    const badServer = await run(["train", "rlvr", "--config", config, "--generation-server", "tgi"]);
    expect(badServer.status).toBe(2);
    expect(badServer.stderr).toContain("sglang or vllm");
  });
});
