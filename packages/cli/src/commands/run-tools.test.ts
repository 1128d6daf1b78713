// A tool-use RLVR smoke run through `posttrain run` end to end (issue 19): a recipe built in
// the test's temp folder (a tiny model, the micro tokenizer, a few SFT steps on calculator
// demonstrations so the policy writes calls, then RLVR with `tools: { allow: ["calculator"] }`).
// The run folder's step events carry the tool metrics, the lock records @posttrain/tools and
// @posttrain/training, and a run SIGKILLed in the RLVR stage resumes to the same steps and
// weights as an uninterrupted one.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const root = fileURLToPath(new URL("../../../../", import.meta.url));
const microTokenizer = join(root, "recipes/micro/tokenizer");
const environment = { ...process.env, CI: "true", HF_HUB_OFFLINE: "1" };
const posttrain = (args: string[], cwd: string) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd, env: environment, timeout: 300_000 });

/** A short tag-format system message (the micro tokenizer is small: @posttrain/tools' `tagFormatInstructions` is longer). */
const instructions = "Tools: <calculator>expression</calculator> computes exactly.";

/** Products of two 2-digit numbers: SFT demonstrations call the calculator, RLVR prompts ask for the product. */
function problems(params: { from: number; count: number }) {
  return Array.from({ length: params.count }, (_, index) => {
    const a = 11 + (((params.from + index) * 7) % 80);
    const b = 13 + (((params.from + index) * 11) % 80);
    return { a, b, product: a * b };
  });
}

const prompt = (a: number, b: number) => [
  { role: "system", content: instructions },
  { role: "user", content: `What is ${a} times ${b}?` },
];

const recipeModule = `export const recipe = {
  name: "tool-smoke",
  version: "0.0.1",
  description: "tool-use RLVR smoke test recipe (packages/cli run-tools.test.ts)",
  seed: 1,
  model: {
    kind: "initialize",
    config: { vocab_size: 512, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true },
    seed: 1,
  },
  tokenizer: { source: { kind: "local", directory: "tokenizer" }, chatTemplate: "tulu", addBos: false },
  verifiers: ["gsm8k"],
  stages: [
    {
      name: "sft",
      type: "sft",
      evaluate: false,
      data: { train: [{ kind: "local", directory: "datasets", config: "sft", split: "train" }], maxLength: 256 },
      hyperparameters: {
        seed: 1,
        batch: { devices: 1, perDeviceBatchSize: 8, gradientAccumulationSteps: 1 },
        reduction: "sum",
        duration: { epochs: 16 },
        learningRate: { peak: 5e-3, schedule: "constant", warmup: { steps: 0 } },
        adamW: { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0 },
        maxGradientNorm: 1,
        checkpointEverySteps: 100,
        evaluation: null,
        lossChunks: 1,
        threads: 1,
      },
    },
    {
      name: "rlvr",
      type: "rlvr",
      data: {
        train: [{ kind: "local", directory: "datasets", config: "rlvr", split: "train" }],
        evaluation: [{ kind: "local", directory: "datasets", config: "rlvr", split: "test" }],
        maxLength: 200,
      },
      hyperparameters: {
        seed: 1,
        batch: { devices: 1, perDeviceBatchSize: 8, gradientAccumulationSteps: 1 },
        steps: 6,
        rollouts: { promptsPerStep: 2, samplesPerPrompt: 4, temperature: 1, maxNewTokens: 40 },
        rewards: { verificationReward: 10, format: null, nonStopPenalty: null, toolCallCost: 0.1 },
        advantages: "standard",
        filterZeroVarianceGroups: false,
        maskTruncatedCompletions: false,
        kl: { beta: 0.01, estimator: "k3" },
        clip: { low: 0.2, high: 0.2 },
        epochs: 1,
        learningRate: { peak: 1e-3, schedule: "constant", warmup: { steps: 0 } },
        adamW: { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0 },
        maxGradientNorm: 1,
        checkpointEverySteps: 1,
        monitor: null,
        verifierWorkers: 0,
        verifierTimeoutMilliseconds: 5000,
        lossChunks: 1,
        threads: 1,
        tools: { allow: ["calculator"], format: "tags", maxToolCalls: 2, maxTotalTokens: 96, timeoutMilliseconds: 2000 },
      },
    },
  ],
  evals: {
    name: "tool_smoke",
    version: "1.0.0",
    limit: 4,
    tasks: [
      {
        name: "tool_smoke_products",
        version: "1.0.0",
        olmes: { task: "none", era: "none" },
        dataset: { kind: "local", directory: "datasets", config: "rlvr", split: "test" },
        rowFormat: "rlvr",
        prompt: { style: "chat" },
        generation: { temperature: 0, maxNewTokens: 40, stop: [] },
        scoring: { kind: "verifier", verifier: "gsm8k" },
        primaryMetric: "accuracy",
      },
    ],
  },
  expected: [],
};
`;

const jsonl = (rows: readonly unknown[]) => `${rows.map((row) => JSON.stringify(row)).join("\n")}\n`;

let scratch = "";
let recipeDirectory = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "posttrain-cli-run-tools-"));
  recipeDirectory = join(scratch, "tool-smoke");
  await mkdir(join(recipeDirectory, "datasets/sft"), { recursive: true });
  await mkdir(join(recipeDirectory, "datasets/rlvr"), { recursive: true });
  if (existsSync(microTokenizer)) await symlink(microTokenizer, join(recipeDirectory, "tokenizer"), "dir");
  await writeFile(join(recipeDirectory, "recipe.js"), recipeModule);
  await writeFile(
    join(recipeDirectory, "datasets/sft/train.jsonl"),
    jsonl(
      problems({ from: 0, count: 32 }).map(({ a, b, product }) => ({
        messages: [
          ...prompt(a, b),
          {
            role: "assistant",
            content: `<calculator>${a}*${b}</calculator>\n<output>\n${product}\n</output>\nThe answer is ${product}.`,
          },
        ],
      })),
    ),
  );
  const rlvrRows = (from: number, count: number) =>
    problems({ from, count }).map(({ a, b, product }) => ({
      messages: prompt(a, b),
      ground_truth: String(product),
      dataset: "gsm8k",
    }));
  await writeFile(join(recipeDirectory, "datasets/rlvr/train.jsonl"), jsonl(rlvrRows(100, 16)));
  await writeFile(join(recipeDirectory, "datasets/rlvr/test.jsonl"), jsonl(rlvrRows(200, 4)));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const ready = existsSync(microTokenizer) && existsSync(bin);

/** The run folders under `runs` (one per run id). */
const runFolders = (runs: string) => {
  const base = join(runs, "tool-smoke-0.0.1");
  return existsSync(base) ? readdirSync(base).map((id) => join(base, id)) : [];
};

async function rlvrOutcome(runDirectory: string) {
  const stage = join(runDirectory, "stages", "2-rlvr");
  const events = (await readFile(join(stage, "events.jsonl"), "utf8"))
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    events,
    steps: events.filter((event) => event["type"] === "step-end"),
    model: await readFile(join(stage, "model", "parameters.bin")),
  };
}

describe.skipIf(!ready)("posttrain run: a tool-use RLVR stage end to end", () => {
  it("writes the tool metrics per step, locks the tools package, and a killed run resumes to the same model", {
    timeout: 600_000,
  }, async () => {
    // Uninterrupted.
    const runs = join(scratch, "runs");
    const run = posttrain(["run", recipeDirectory, "--runs", runs], scratch);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/rlvr: tools calculator \(tags\), at most 2 calls per rollout/);
    const [reference] = runFolders(runs);
    const uninterrupted = await rlvrOutcome(reference!);
    expect(uninterrupted.steps).toHaveLength(6);
    for (const step of uninterrupted.steps) {
      for (const name of ["toolCallsPerRollout", "toolErrorRate", "toolTimeShare", "toolUseRate"])
        expect(typeof step[name], name).toBe("number");
      expect(Object.keys(step["seconds"] as object)).toEqual(["generate", "tools", "verify", "train"]);
    }
    // After SFT on calculator demonstrations the policy calls the tool.
    const calls = uninterrupted.steps.reduce(
      (total, step) => total + (step["toolCallsPerRollout"] as number),
      0,
    );
    expect(calls).toBeGreaterThan(0);
    // The prompts carry the tag instructions: no warning.
    expect(uninterrupted.events.filter((event) => event["type"] === "warning")).toEqual([]);
    const lock = JSON.parse(await readFile(join(recipeDirectory, "recipe.lock.json"), "utf8"));
    for (const name of ["@posttrain/tools", "@posttrain/training", "@posttrain/rlvr"])
      expect(lock.packages[name], name).toMatch(/^\d+\.\d+\.\d+/);
    // The stage's summary metrics and the run's MLflow store get the tool metrics too.
    const summary = JSON.parse(await readFile(join(reference!, "summary.json"), "utf8"));
    expect(summary.stages[1].trainingMetrics.toolCallsPerRollout).toBe(
      uninterrupted.steps.at(-1)!["toolCallsPerRollout"],
    );
    const tracked = spawnSync(
      "find",
      [join(reference!, "mlruns"), "-path", "*/metrics/toolCallsPerRollout"],
      {
        encoding: "utf8",
      },
    ).stdout.trim();
    expect(tracked).not.toBe("");
    expect((await readFile(tracked.split("\n")[0]!, "utf8")).trim().split("\n")).toHaveLength(6);

    // Killed (SIGKILL, no checkpoint on the way out) in the RLVR stage, once its step-2 checkpoint is saved.
    const killedRuns = join(scratch, "killed-runs");
    const child = spawn(process.execPath, [bin, "run", recipeDirectory, "--runs", killedRuns], {
      cwd: scratch,
      env: environment,
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const exit = new Promise<NodeJS.Signals | null>((resolveExit) =>
      child.on("close", (_code, signal) => resolveExit(signal)),
    );
    const poll = setInterval(() => {
      const [folder] = runFolders(killedRuns);
      const events = folder === undefined ? "" : join(folder, "stages", "2-rlvr", "events.jsonl");
      if (events === "" || !existsSync(events) || child.killed) return;
      if (/"type":"checkpoint-saved","step":2\b/.test(readFileSync(events, "utf8"))) child.kill("SIGKILL");
    }, 10);
    const signal = await exit;
    clearInterval(poll);
    expect(signal, stderr).toBe("SIGKILL");
    const [killedRun] = runFolders(killedRuns);
    const runId = killedRun!.split("/").at(-1)!;
    const resumed = posttrain(["run", recipeDirectory, "--resume", runId, "--runs", killedRuns], scratch);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/stage sft: finished earlier with the same fingerprint, skipped/);
    const after = await rlvrOutcome(killedRun!);
    // It resumed from a checkpoint (step 2 or later), not from the start of the stage.
    const resumedAt = after.events.find((event) => event["type"] === "resumed")?.["step"] as number;
    expect(resumedAt).toBeGreaterThanOrEqual(2);
    // The resumed run's steps (each written once per step reached) end where the reference does.
    const numbers = (steps: readonly Record<string, unknown>[]) =>
      steps.map((step) => [
        step["step"],
        step["rewardMean"],
        step["loss"],
        step["kl"],
        step["toolCallsPerRollout"],
      ]);
    const lastByStep = new Map(numbers(after.steps).map((row) => [row[0], row]));
    expect([...lastByStep.values()]).toEqual(numbers(uninterrupted.steps));
    expect(Buffer.compare(after.model, uninterrupted.model)).toBe(0);
  });
});
