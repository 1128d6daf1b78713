// End-to-end checks on the real benchmark files in ../shared (skipped when absent).
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { loadTokenizer } from "@posttrain/data";
import { describe, expect, it } from "vitest";
import { loadTaskItems } from "./dataset.js";
import { createOpenAiBackend } from "./openai-backend.js";
import { renderPrompt } from "./prompt.js";
import { getTask } from "./registry.js";
import { runEval, scoreResponses } from "./run-eval.js";
import { startFakeOpenAiServer } from "./test/index.js";

const benchmarks = fileURLToPath(new URL("../../../../shared/data/benchmarks/", import.meta.url));
const smolLm = fileURLToPath(
  new URL("../../../../shared/data/tokenizers/SmolLM2-135M-Instruct/", import.meta.url),
);
const file = (name: string) => `${benchmarks}${name}`;
const jsonl = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe.skipIf(!existsSync(file("gsm8k-test.jsonl")))("GSM8K (../shared)", () => {
  it("the 1,319 gold solutions, given as responses, score 100% (OLMES rule and our verifier)", async () => {
    const rows = jsonl(readFileSync(file("gsm8k-test.jsonl"), "utf8"));
    const results = await scoreResponses({
      task: "gsm8k",
      dataPath: benchmarks,
      responses: rows.map((row, index) => ({ doc_id: index, response: String(row["answer"]) })),
    });
    const [task] = results.tasks;
    expect(task?.count).toBe(1319);
    expect(task?.metrics["exact_match"]?.value).toBe(1);
    expect(task?.metrics["exact_match_verifier"]?.value).toBe(1);
    expect(task?.primaryScore).toBe(1);
    expect(task?.dataset.files[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a shifted answer key scores near 0 (the check is not vacuous)", async () => {
    const rows = jsonl(readFileSync(file("gsm8k-test.jsonl"), "utf8")).slice(0, 200);
    const results = await scoreResponses({
      task: "gsm8k",
      dataPath: benchmarks,
      limit: 200,
      responses: rows.map((row, index) => ({ doc_id: (index + 1) % 200, response: String(row["answer"]) })),
    });
    expect(results.tasks[0]?.metrics["exact_match"]?.value).toBeLessThan(0.05);
  });
});

describe.skipIf(!existsSync(file("math500-test.jsonl")))("MATH-500 (../shared)", () => {
  it("gold answers in the Minerva sentence score 1 under exact_match and exact_match_flex", async () => {
    const rows = jsonl(readFileSync(file("math500-test.jsonl"), "utf8")).slice(0, 25);
    const results = await scoreResponses({
      task: "math500",
      dataPath: benchmarks,
      limit: 25,
      responses: rows.map((row, index) => ({
        doc_id: index,
        response: `Some work.\nFinal Answer: The final answer is $${String(row["answer"])}$. I hope it is correct.`,
      })),
    });
    const [task] = results.tasks;
    expect(task?.metrics["exact_match"]?.value).toBe(1);
    expect(task?.metrics["exact_match_flex"]?.value).toBe(1);
    expect(Object.keys(task?.groups ?? {}).length).toBeGreaterThan(1);
  });
});

describe.skipIf(!existsSync(file("humaneval.jsonl.gz")))("HumanEval (../shared)", () => {
  const rows = () => jsonl(gunzipSync(readFileSync(file("humaneval.jsonl.gz"))).toString("utf8"));

  it("canonical solutions as completions score pass@1 = 1.0; with a wrong second sample pass@1 = 0.5", async () => {
    const limit = 6;
    const canonical = rows().slice(0, limit);
    const results = await scoreResponses({
      task: "humaneval",
      dataPath: benchmarks,
      limit,
      responses: canonical.map((row, index) => ({
        doc_id: index,
        response: String(row["canonical_solution"]),
      })),
    });
    expect(results.tasks[0]?.metrics["pass_at_1"]?.value).toBe(1);
    expect(results.tasks[0]?.metrics["pass_at_10"]).toBeUndefined();
    const mixed = await scoreResponses({
      task: "humaneval",
      dataPath: benchmarks,
      limit: 4,
      responses: canonical.slice(0, 4).map((row, index) => ({
        doc_id: index,
        responses: [String(row["canonical_solution"]), "    raise NotImplementedError\n"],
      })),
    });
    expect(mixed.tasks[0]?.metrics["pass_at_1"]?.value).toBe(0.5);
  });
});

describe.skipIf(!existsSync(file("ifeval-input_data.jsonl")))("IFEval (../shared)", () => {
  it("every prompt is one raw user turn, zero-shot, no assistant prefix", async () => {
    const rows = jsonl(readFileSync(file("ifeval-input_data.jsonl"), "utf8"));
    const task = getTask({ name: "ifeval" });
    const { items } = await loadTaskItems({ task, dataPath: benchmarks });
    expect(items).toHaveLength(541);
    items.forEach((item, index) => {
      expect(renderPrompt({ prompt: task.prompt, item })).toEqual({
        kind: "chat",
        messages: [{ role: "user", content: rows[index]?.["prompt"] }],
      });
    });
  });

  it.skipIf(!existsSync(smolLm))(
    "through the completions API the server gets the chat template with the generation prompt",
    async () => {
      const tokenizer = await loadTokenizer({ directory: smolLm });
      const server = await startFakeOpenAiServer({ model: "smol", respond: () => "Sure." });
      try {
        const backend = await createOpenAiBackend({
          endpoint: server.url,
          model: "smol",
          tokenizer,
          retries: 0,
        });
        const results = await runEval({ task: "ifeval", backend, dataPath: benchmarks, limit: 3 });
        const rows = jsonl(readFileSync(file("ifeval-input_data.jsonl"), "utf8")).slice(0, 3);
        expect(server.requests.map((request) => request.body["prompt"])).toEqual(
          rows.map((row) =>
            tokenizer.applyChatTemplate({
              messages: [{ role: "user", content: String(row["prompt"]) }],
              addGenerationPrompt: true,
            }),
          ),
        );
        expect(String(server.requests[0]?.body["prompt"])).toMatch(
          /<\|im_start\|>user\nWrite a 300\+ word summary[\s\S]*<\|im_end\|>\n<\|im_start\|>assistant\n$/,
        );
        expect(results.tasks[0]?.metrics["prompt_level_loose_acc"]?.count).toBe(3);
      } finally {
        await server.close();
      }
    },
  );
});

describe.skipIf(!existsSync(file("gsm8k-test.jsonl")) || !existsSync(file("math500-test.jsonl")))(
  "a suite over ../shared",
  () => {
    it("runs every task of the `math` suite, each from its own file in the --data folder", async () => {
      const server = await startFakeOpenAiServer({ model: "m" });
      try {
        const backend = await createOpenAiBackend({ endpoint: server.url, model: "m", retries: 0 });
        const results = await runEval({ suite: "math", backend, dataPath: benchmarks, limit: 3 });
        expect(results.suite).toEqual({ name: "math", version: "1.0.0" });
        expect(
          results.tasks.map((task) => [
            task.task.name,
            task.count,
            task.dataset.files[0]?.path.split("/").at(-1),
          ]),
        ).toEqual([
          ["gsm8k", 3, "gsm8k-test.jsonl"],
          ["math500", 3, "math500-test.jsonl"],
        ]);
        expect(server.requests).toHaveLength(6);
      } finally {
        await server.close();
      }
    });

    it("a task whose rows do not fit names the task and the file", async () => {
      const failure = await scoreResponses({
        task: "ifeval",
        dataPath: file("gsm8k-test.jsonl"),
        limit: 1,
        responses: [],
      }).catch((error: unknown) => error);
      expect((failure as Error).message).toMatch(
        /task ifeval, .*gsm8k-test\.jsonl: row 0 does not fit the ifeval row format/,
      );
    });
  },
);
