import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareWithExpected } from "./compare.js";
import { createEmbeddedBackend } from "./embedded-backend.js";
import { olmesGsm8kAnswer, olmesGsm8kExactMatch } from "./olmes-gsm8k.js";
import { createOpenAiBackend } from "./openai-backend.js";
import { runEval, scoreResponses } from "./run-eval.js";
import { cutAtStop } from "./scoring.js";
import { defineHeldOutTask } from "./tasks/builtin.js";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "./test/index.js";

let directory: string;
let server: FakeOpenAiServer;
const questions = Array.from({ length: 10 }, (_, index) => ({
  question: `Tom has ${index} apples and buys ${index + 2} more. How many apples?`,
  answer: `He has ${index} + ${index + 2} = ${2 * index + 2} apples.\n#### ${2 * index + 2}`,
}));

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "evals-run-"));
  await writeFile(
    join(directory, "gsm8k-test.jsonl"),
    questions.map((row) => JSON.stringify(row)).join("\n"),
  );
  // The fake model answers even-numbered questions right and odd ones wrong.
  server = await startFakeOpenAiServer({
    model: "m",
    respond: ({ messages }) => {
      const last = messages?.at(-2)?.content ?? "";
      const match = /Tom has (\d+) apples/.exec(last);
      const index = Number(match?.[1] ?? 0);
      const answer = index % 2 === 0 ? 2 * index + 2 : 2 * index + 3;
      return ` Tom ends with ${answer} apples. So the answer is ${answer}.\n\nQuestion: what next?`;
    },
  });
});
afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

describe("OLMES GSM8K rule", () => {
  it("takes the last number, drops commas and a final period; the sign quirk applies to both sides", () => {
    expect(olmesGsm8kAnswer({ text: "So the answer is 1,234." })).toBe("1234");
    expect(olmesGsm8kAnswer({ text: "#### 18" })).toBe("18");
    expect(olmesGsm8kExactMatch({ response: "It is 18.0", gold: "18" })).toBe(false);
    expect(olmesGsm8kExactMatch({ response: "so -5", gold: "-5" })).toBe(true);
    expect(cutAtStop({ text: "a Question: b </s>", stop: ["</s>", "Question:"] })).toBe("a ");
  });
});

describe("runEval over the HTTP backend", () => {
  it("scores, records settings and hashes, writes results, predictions and OLMES files", async () => {
    const backend = await createOpenAiBackend({ endpoint: server.url, model: "m", retries: 0 });
    const output = join(directory, "out");
    const results = await runEval({
      task: "gsm8k",
      backend,
      dataPath: directory,
      outputDirectory: output,
      limit: 8,
    });
    const [task] = results.tasks;
    expect(task?.count).toBe(8);
    expect(task?.metrics["exact_match"]?.value).toBe(0.5);
    expect(task?.metrics["exact_match_verifier"]?.value).toBe(0.5);
    expect(task?.metrics["exact_match"]?.standardError).toBeCloseTo(Math.sqrt((0.25 * (8 / 7)) / 8), 10);
    expect(task?.metrics["exact_match"]?.confidenceInterval?.lower).toBeLessThan(0.5);
    expect(task?.task).toMatchObject({ name: "gsm8k", olmes: { task: "gsm8k::tulu", era: "tulu3" } });
    expect(task?.task.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(task?.generation).toMatchObject({ temperature: 0, maxNewTokens: 512, samples: 1 });
    expect(results.model).toEqual({ kind: "openai-http", model: `m @ ${server.url}/v1` });

    const saved = JSON.parse(await readFile(join(output, "results.json"), "utf8"));
    expect(saved).toEqual(JSON.parse(JSON.stringify(results)));
    const predictions = (await readFile(join(output, "gsm8k-predictions.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(predictions).toHaveLength(8);
    expect(predictions[0]).toMatchObject({
      doc_id: 0,
      label: "2",
      extracted: ["2"],
      metrics: { exact_match: 1 },
    });
    // The stop string "Question:" cut the response.
    expect(predictions[0].responses[0]).toBe(" Tom ends with 2 apples. So the answer is 2.\n\n");
    expect(predictions[0].prompt).toContain("<|user|>\nQuestion: Tom has 0 apples");
    const olmes = JSON.parse(await readFile(join(output, "task-000-gsm8k-metrics.json"), "utf8"));
    expect(olmes).toMatchObject({
      task_name: "gsm8k",
      num_instances: 8,
      metrics: { primary_score: 0.5, exact_match: 0.5 },
    });
    const olmesPredictions = (await readFile(join(output, "task-000-gsm8k-predictions.jsonl"), "utf8"))
      .trim()
      .split("\n");
    expect(JSON.parse(olmesPredictions[1] as string)).toMatchObject({
      doc_id: 1,
      native_id: "1",
      metrics: { exact_match: 0 },
    });
    const run = JSON.parse(await readFile(join(output, "metrics.json"), "utf8"));
    expect(run.all_primary_scores).toEqual(["gsm8k: 0.5"]);

    const comparison = compareWithExpected({
      results,
      expected: [
        { task: "gsm8k", metric: "exact_match", value: 0.55, tolerance: 0.06 },
        { task: "gsm8k", metric: "primary_score", value: 0.7, tolerance: 0.1 },
        { task: "ifeval", metric: "prompt_level_loose_acc", value: 0.7, tolerance: 0.1 },
        { task: "gsm8k", metric: "no_such_metric", value: 0, tolerance: 1 },
      ],
    });
    expect(comparison.passed).toBe(false);
    expect(comparison.rows.map((row) => row.reason)).toEqual([
      "within_tolerance",
      "outside_tolerance",
      "missing_task",
      "missing_metric",
    ]);
    expect(() =>
      compareWithExpected({ results, expected: [{ task: "gsm8k", metric: "x", value: 1 }] }),
    ).toThrow(/tolerance/);
  });

  it("scoring the saved responses again gives the same metrics", async () => {
    const backend = await createOpenAiBackend({ endpoint: server.url, model: "m", retries: 0 });
    const output = join(directory, "generated");
    const generated = await runEval({
      task: "gsm8k",
      backend,
      dataPath: directory,
      limit: 6,
      outputDirectory: output,
    });
    const saved = (await readFile(join(output, "gsm8k-predictions.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { doc_id: number; responses: string[] });
    const rescored = await scoreResponses({
      task: "gsm8k",
      dataPath: join(directory, "gsm8k-test.jsonl"),
      limit: 6,
      responses: saved.map((row) => ({ doc_id: row.doc_id, responses: row.responses })),
    });
    expect(rescored.tasks[0]?.metrics).toEqual(generated.tasks[0]?.metrics);
    const missing = await scoreResponses({
      task: "gsm8k",
      dataPath: directory,
      limit: 6,
      responses: [{ doc_id: 0, response: "2" }],
    }).catch((error: unknown) => error);
    expect(PosttrainError.hasCode(missing, "eval_responses_invalid")).toBe(true);
  });

  it("a held-out task over a local RLVR split uses the row's messages and the named verifier", async () => {
    const split = join(directory, "micro");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(split, { recursive: true });
    await writeFile(
      join(split, "test.jsonl"),
      [0, 1, 2, 3]
        .map((index) =>
          JSON.stringify({
            messages: [
              {
                role: "user",
                content: `Tom has ${index} apples and buys ${index + 2} more. How many apples?`,
              },
            ],
            ground_truth: String(2 * index + 2),
            dataset: "gsm8k",
          }),
        )
        .join("\n"),
    );
    const task = defineHeldOutTask({ name: "micro_test", directory: split, verifier: "gsm8k" });
    const chatServer = await startFakeOpenAiServer({
      model: "m",
      respond: ({ messages }) => {
        const index = Number(/Tom has (\d+)/.exec(messages?.at(-1)?.content ?? "")?.[1] ?? 0);
        return `The answer is ${index < 2 ? 2 * index + 2 : 0}.`;
      },
    });
    try {
      const backend = await createOpenAiBackend({ endpoint: chatServer.url, model: "m", retries: 0 });
      const results = await runEval({ task, backend });
      expect(results.tasks[0]?.metrics["accuracy"]?.value).toBe(0.5);
      expect(results.tasks[0]?.dataset.files).toHaveLength(1);
      expect(chatServer.requests[0]?.body["messages"]).toEqual([
        { role: "user", content: "Tom has 0 apples and buys 2 more. How many apples?" },
      ]);
    } finally {
      await chatServer.close();
    }
  });

  it("an unpinned Hub dataset without --data is a clear error; so is the embedded backend", async () => {
    const backend = await createOpenAiBackend({ endpoint: server.url, model: "m", retries: 0 });
    const failure = await runEval({ task: "gsm8k", backend }).catch((error: unknown) => error);
    expect(PosttrainError.hasCode(failure, "eval_dataset_unavailable")).toBe(true);
    expect((failure as Error).message).toMatch(/posttrain data lock[\s\S]*--data/);
    const embedded = await createEmbeddedBackend({ modelDirectory: "/models/x" }).catch(
      (error: unknown) => error,
    );
    expect(PosttrainError.hasCode(embedded, "embedded_backend_unavailable")).toBe(true);
    expect((embedded as Error).message).toContain("--endpoint");
  });
});
