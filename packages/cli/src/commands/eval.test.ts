import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initializePretrainedModel, savePretrainedModel } from "@posttrain/engine";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@posttrain/evals/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Runs the built `posttrain` bin (turbo's test task depends on build). Children are spawned
// asynchronously so the fake server in this process keeps answering.
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const smolLm = fileURLToPath(
  new URL("../../../../../shared/data/tokenizers/SmolLM2-135M-Instruct/", import.meta.url),
);

function start(
  args: string[],
  cwd?: string,
): {
  child: ChildProcess;
  done: Promise<{ status: number | null; stdout: string; stderr: string }>;
} {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, CI: "true" },
    ...(cwd === undefined ? {} : { cwd }),
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (status) => resolve({ status, stdout, stderr })),
  );
  return { child, done };
}
const posttrain = (...args: string[]) => start(args).done;

let directory: string;
let server: FakeOpenAiServer;
const rows = Array.from({ length: 12 }, (_, index) => ({
  question: `Question number ${index}: what is ${index} + ${index}?`,
  answer: `${index} + ${index} = ${2 * index}\n#### ${2 * index}`,
}));

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "cli-eval-"));
  await writeFile(join(directory, "gsm8k-test.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n"));
  // One short IFEval prompt (the task's 2,048-token budget ends early at the tiny model's EOS or not at all: keep it to one row).
  await writeFile(
    join(directory, "ifeval.jsonl"),
    JSON.stringify({
      key: 1,
      prompt: "Say hi in lowercase.",
      instruction_id_list: ["change_case:english_lowercase"],
      kwargs: [{}],
    }),
  );
  server = await startFakeOpenAiServer({ model: "fake" });
});
afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

describe("posttrain eval", () => {
  it("usage errors exit 2; --model on a folder that is not a model exits 1 with embedded_backend_unavailable", async () => {
    // (Each start of the bin costs seconds on a loaded machine: a few representative cases.)
    const [noTask, badLimit] = await Promise.all([
      posttrain("eval", "--endpoint", server.url),
      posttrain("eval", "--task", "gsm8k", "--endpoint", server.url, "--limit", "0"),
    ]);
    expect(noTask.status).toBe(2);
    expect(noTask.stderr).toContain("exactly one of --suite and --task");
    expect(badLimit.status).toBe(2);
    const embedded = await posttrain("eval", "--task", "gsm8k", "--model", join(directory, "model"));
    expect(embedded.status).toBe(1);
    expect(embedded.stderr).toContain("embedded_backend_unavailable");
    expect(embedded.stderr).toContain("--endpoint");
  });

  it.skipIf(!existsSync(smolLm))("--model DIR generates in-process with the engine", async () => {
    // A tiny random Llama whose greedy choice is always an EOS token (lm_head is zero except
    // ±100 on hidden dim 0 for ids 2 and 3, both EOS): every generation stops at once.
    const vocabulary = 49152;
    const model = initializePretrainedModel({
      seed: 3,
      config: {
        architectures: ["LlamaForCausalLM"],
        model_type: "llama",
        vocab_size: vocabulary,
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
        eos_token_id: [2, 3],
        tie_word_embeddings: false,
      },
    });
    const head = model.layout.view(model.parameters, "lm_head.weight");
    head.fill(0);
    head[2] = 100;
    head[3] = -100;
    const modelDirectory = join(directory, "tiny-model");
    await savePretrainedModel({
      model,
      directory: modelDirectory,
      tokenizerFiles: ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"].map((name) =>
        join(smolLm, name),
      ),
    });
    const result = await posttrain(
      "eval",
      "--task",
      "ifeval",
      "--model",
      modelDirectory,
      "--threads",
      "1",
      "--data",
      join(directory, "ifeval.jsonl"),
      "--output",
      join(directory, "embedded"),
      "--json",
    );
    expect(result.stderr).not.toContain("error");
    expect(result.status).toBe(0);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.model.kind).toBe("embedded");
    expect(parsed.tasks[0].count).toBe(1);
  });

  it("--responses scores pre-generated responses and prints a table", async () => {
    const responses = join(directory, "responses.jsonl");
    await writeFile(
      responses,
      rows
        .map((row, index) =>
          JSON.stringify({ doc_id: index, response: index < 9 ? row.answer : "I do not know" }),
        )
        .join("\n"),
    );
    const output = join(directory, "scored");
    const result = await posttrain(
      "eval",
      "--task",
      "gsm8k",
      "--responses",
      responses,
      "--data",
      directory,
      "--output",
      output,
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/gsm8k\s+1\.0\.0\+olmes-tulu3\s+exact_match \*\s+0\.7500/);
    expect(result.stdout).toContain("exact_match_verifier");
    const saved = JSON.parse(await readFile(join(output, "results.json"), "utf8"));
    expect(saved.tasks[0].metrics.exact_match.value).toBe(0.75);
    const failing = join(directory, "expected.json");
    await writeFile(
      failing,
      JSON.stringify([{ task: "gsm8k", metric: "exact_match", value: 0.9, tolerance: 0.05 }]),
    );
    const compared = await posttrain(
      "eval",
      "--task",
      "gsm8k",
      "--responses",
      responses,
      "--data",
      directory,
      "--output",
      output,
      "--expected",
      failing,
    );
    expect(compared.status).toBe(1);
    expect(compared.stdout).toContain("expected results: FAIL");
    expect(compared.stderr).toContain("eval_expected_results_mismatch");
  });

  it("an eval killed half-way resumes from the response cache with identical results", {
    timeout: 240_000,
  }, async () => {
    const output = join(directory, "resumed");
    const args = [
      "eval",
      "--task",
      "gsm8k",
      "--endpoint",
      server.url,
      "--data",
      directory,
      "--concurrency",
      "1",
      "--json",
    ];
    server.setFaults({ delayMilliseconds: 150 });
    server.requests.length = 0;
    const first = start([...args, "--output", output]);
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (server.completedRequests >= 5) {
          clearInterval(timer);
          first.child.kill("SIGKILL");
          resolve();
        }
      }, 10);
      first.done.then(() => reject(new Error("the eval finished before it was killed")));
    });
    const killed = await first.done;
    expect(killed.status).toBeNull();
    expect(existsSync(join(output, "results.json"))).toBe(false);
    const cached = (await readFile(join(output, "response-cache", "responses.jsonl"), "utf8"))
      .trim()
      .split("\n").length;
    expect(cached).toBeGreaterThanOrEqual(4);
    expect(cached).toBeLessThan(12);

    server.setFaults({});
    const before = server.requests.length;
    const resumed = await posttrain(...args, "--output", output);
    expect(resumed.status).toBe(0);
    expect(server.requests.length - before).toBe(12 - cached);

    const fresh = await posttrain(...args, "--output", join(directory, "fresh"));
    expect(fresh.status).toBe(0);
    expect(JSON.parse(resumed.stdout).tasks).toEqual(JSON.parse(fresh.stdout).tasks);
    expect(await readFile(join(output, "gsm8k-predictions.jsonl"), "utf8")).toBe(
      await readFile(join(directory, "fresh", "gsm8k-predictions.jsonl"), "utf8"),
    );
  });

  it("--task micro_gsm works from a folder other than the repository root (its data resolves from the checkout)", async () => {
    const output = join(directory, "micro-elsewhere");
    const result = await start(
      ["eval", "--task", "micro_gsm", "--endpoint", server.url, "--limit", "2", "--output", output, "--json"],
      directory,
    ).done;
    expect(result.stderr).not.toContain("unexpected error");
    expect(result.status, result.stderr).toBe(0);
    const tasks = JSON.parse(result.stdout).tasks as Array<{ task: { name: string }; count: number }>;
    expect(tasks.map((task) => [task.task.name, task.count])).toEqual([["micro_gsm", 2]]);
  });

  it("--suite micro on an endpoint names the preference task it cannot score, before generating anything", async () => {
    const before = server.requests.length;
    const result = await start(
      [
        "eval",
        "--suite",
        "micro",
        "--endpoint",
        server.url,
        "--limit",
        "2",
        "--output",
        join(directory, "m"),
      ],
      directory,
    ).done;
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/micro_preference compares the log-likelihoods of two replies.*--model/);
    expect(server.requests.length).toBe(before);
  });
});
