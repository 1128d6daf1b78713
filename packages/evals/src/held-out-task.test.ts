import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PosttrainError } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultBaseDirectory } from "./dataset.js";
import { createOpenAiBackend } from "./openai-backend.js";
import { getTask } from "./registry.js";
import { runEval } from "./run-eval.js";
import { defineHeldOutTask } from "./tasks/builtin.js";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "./test/index.js";

// A held-out RLVR split mixing verifiers, like datasets/micro's: rows 0–3 are gsm8k (the
// answer is 2i + 2), rows 4–5 are ifeval (answer in lowercase). The fake model answers every
// gsm8k question right in lowercase except question 3, and answers ifeval row 4 in lowercase
// and row 5 in capitals.
const lowercase = JSON.stringify({ instruction_id: ["change_case:english_lowercase"], kwargs: [null] });
const rows = [
  ...[0, 1, 2, 3].map((index) => ({
    messages: [{ role: "user", content: `Q${index}: Tom has ${index} apples and buys ${index + 2} more.` }],
    ground_truth: String(2 * index + 2),
    dataset: "gsm8k",
  })),
  ...[4, 5].map((index) => ({
    messages: [{ role: "user", content: `Q${index}: Say hello, in lowercase letters only.` }],
    ground_truth: lowercase,
    dataset: ["ifeval"],
  })),
];

let directory: string;
let split: string;
let server: FakeOpenAiServer;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "evals-held-out-"));
  split = join(directory, "mixed");
  await mkdir(split, { recursive: true });
  await writeFile(join(split, "test.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n"));
  server = await startFakeOpenAiServer({
    model: "m",
    respond: ({ messages }) => {
      const index = Number(/Q(\d+)/.exec(messages?.at(-1)?.content ?? "")?.[1] ?? 0);
      if (index === 5) return "HELLO THERE";
      if (index === 4) return "hello there";
      return `the answer is ${index === 3 ? 0 : 2 * index + 2}.`;
    },
  });
});

afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

async function evaluate(task: ReturnType<typeof defineHeldOutTask>) {
  const backend = await createOpenAiBackend({ endpoint: server.url, model: "m", retries: 0 });
  return runEval({ task, backend });
}

describe("held-out tasks over a split that mixes verifiers", () => {
  it("verifier 'row' scores each row with the verifier its dataset column names", async () => {
    const task = defineHeldOutTask({ name: "mixed", directory: split, verifier: "row" });
    expect(task.scoring).toEqual({ kind: "verifier", verifier: { fromColumn: "dataset" } });
    const results = await evaluate(task);
    // gsm8k: 3 of 4 right; ifeval: 1 of 2 → 4 of 6.
    expect(results.tasks[0]?.metrics["accuracy"]?.value).toBeCloseTo(4 / 6, 10);
    expect(results.tasks[0]?.count).toBe(6);
  });

  it("onlyVerifiers keeps the rows of one verifier, so each gets its own score", async () => {
    const gsm = await evaluate(
      defineHeldOutTask({ name: "mixed_gsm", directory: split, verifier: "gsm8k", onlyVerifiers: ["gsm8k"] }),
    );
    expect(gsm.tasks[0]?.count).toBe(4);
    expect(gsm.tasks[0]?.metrics["accuracy"]?.value).toBe(0.75);
    const ifeval = await evaluate(
      defineHeldOutTask({
        name: "mixed_ifeval",
        directory: split,
        verifier: "ifeval",
        onlyVerifiers: ["ifeval"],
      }),
    );
    expect(ifeval.tasks[0]?.count).toBe(2);
    expect(ifeval.tasks[0]?.metrics["accuracy"]?.value).toBe(0.5);
  });

  it("a fixed verifier on the mixed split fails on the first row of the other kind", async () => {
    const failure = await evaluate(
      defineHeldOutTask({ name: "mixed_fixed", directory: split, verifier: "gsm8k" }),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PosttrainError);
  });

  it("verifier 'row' names the row that has no dataset column", async () => {
    const bare = join(directory, "bare");
    await mkdir(bare, { recursive: true });
    await writeFile(
      join(bare, "test.jsonl"),
      JSON.stringify({ messages: [{ role: "user", content: "Q1" }], ground_truth: "4" }),
    );
    const failure = await evaluate(
      defineHeldOutTask({ name: "bare", directory: bare, verifier: "row" }),
    ).catch((error: unknown) => error);
    expect(PosttrainError.hasCode(failure, "eval_row_verifier_missing")).toBe(true);
  });

  it("micro_gsm, micro_gsm_sampled and micro_ifeval read datasets/micro's eval split, one verifier each", () => {
    const gsm = getTask({ name: "micro_gsm" });
    expect(gsm.version).toBe("3.0.0");
    expect(gsm.dataset).toMatchObject({
      kind: "local",
      directory: "datasets/micro",
      config: "eval",
      split: "test",
    });
    expect(gsm.rowFilter).toEqual({ column: "dataset", values: ["gsm8k"] });
    expect(gsm.generation).toMatchObject({ temperature: 0, samples: 1, maxNewTokens: 64 });
    const sampled = getTask({ name: "micro_gsm_sampled" });
    expect(sampled.dataset).toEqual(gsm.dataset);
    expect(sampled.generation).toMatchObject({ temperature: 0.7, samples: 4, maxNewTokens: 64 });
    expect(getTask({ name: "micro_ifeval" }).rowFilter).toEqual({ column: "dataset", values: ["ifeval"] });
    expect(getTask({ name: "micro_preference" }).scoring).toEqual({ kind: "preference" });
  });
});

describe("defaultBaseDirectory", () => {
  it("looks a relative local dataset up in the working directory, then the checkout; else names both", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "evals-elsewhere-"));
    try {
      const micro = getTask({ name: "micro_gsm" });
      const checkout = fileURLToPath(new URL("../../../", import.meta.url));
      expect(defaultBaseDirectory({ task: micro, workingDirectory: elsewhere })).toBe(checkout);
      await mkdir(join(elsewhere, "datasets/micro"), { recursive: true });
      expect(defaultBaseDirectory({ task: micro, workingDirectory: elsewhere })).toBe(elsewhere);
      const missing = defineHeldOutTask({ name: "nowhere", directory: "no/such/folder", verifier: "gsm8k" });
      expect(() => defaultBaseDirectory({ task: missing, workingDirectory: elsewhere })).toThrow(
        expect.objectContaining({
          code: "eval_dataset_unavailable",
          message: expect.stringContaining("pass --data <folder>"),
        }),
      );
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
