import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError, ValidationError } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemFromRow } from "./items.js";
import { createOpenAiBackend } from "./openai-backend.js";
import { getSuite, getTask, registerSuite, registerTask, suiteRegistry, taskRegistry } from "./registry.js";
import { runEval, scoreResponses } from "./run-eval.js";
import { defineTask, taskHash } from "./task-spec.js";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "./test/index.js";

let directory: string;
let server: FakeOpenAiServer;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "evals-spec-"));
  server = await startFakeOpenAiServer({
    model: "m",
    // Sample i of a prompt: correct when i is even.
    respond: ({ sampleIndex }) => (sampleIndex % 2 === 0 ? "    return a + b\n" : "    return a - b\n"),
  });
});
afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});

describe("task specs and registries", () => {
  it("ships the tasks and suites with their OLMES era", () => {
    expect([...taskRegistry.keys()]).toEqual([
      "gsm8k",
      "minerva_math",
      "math500",
      "ifeval",
      "humaneval",
      "micro_gsm",
      "micro_gsm_sampled",
      "micro_ifeval",
      "micro_preference",
    ]);
    expect([...suiteRegistry.keys()]).toEqual(["tulu3_dev", "math", "micro"]);
    for (const task of taskRegistry.values()) {
      if (!task.name.startsWith("micro")) expect(task.olmes.era).toBe("tulu3");
    }
    expect(getTask({ name: "humaneval" }).generation).toMatchObject({
      temperature: 0.8,
      topP: 0.95,
      samples: 20,
      maxNewTokens: 512,
    });
    expect(getTask({ name: "ifeval" }).generation.maxNewTokens).toBe(2048);
    expect(getTask({ name: "minerva_math" }).generation).toMatchObject({ maxNewTokens: 1024, stop: [] });
    expect(getSuite({ name: "micro" }).tasks).toEqual([
      "micro_gsm",
      "micro_gsm_sampled",
      "micro_ifeval",
      "micro_preference",
    ]);
  });

  it("unknown names list the known ones", () => {
    expect(() => getTask({ name: "mmlu" })).toThrow(/unknown eval task "mmlu" \(known: gsm8k/);
    expect(() => getSuite({ name: "x" })).toThrow(/known: tulu3_dev/);
  });

  it("validation names the offending field; the hash changes with any setting", () => {
    const base = getTask({ name: "gsm8k" });
    let caught: unknown;
    try {
      defineTask({ spec: { ...base, generation: { ...base.generation, maxNewTokens: -1 } } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as Error).message).toContain("generation.maxNewTokens");
    const changed = defineTask({ spec: { ...base, generation: { ...base.generation, maxNewTokens: 513 } } });
    expect(taskHash({ spec: changed })).not.toBe(taskHash({ spec: base }));
    expect(taskHash({ spec: defineTask({ spec: base }) })).toBe(taskHash({ spec: base }));
    expect(() => registerSuite({ spec: { name: "bad", version: "1", tasks: ["nope"] } })).toThrow(
      /unknown eval task/,
    );
  });

  it("rows that do not fit the format are errors naming the row and field", () => {
    const failure = (() => {
      try {
        itemFromRow({ row: { question: "q" }, index: 7, format: "gsm8k" });
      } catch (error) {
        return error;
      }
    })();
    expect(PosttrainError.hasCode(failure, "eval_dataset_row_invalid")).toBe(true);
    expect((failure as Error).message).toMatch(/row 7 .*answer/);
    expect(
      itemFromRow({ row: { problem: "p", solution: "so $\\boxed{\\frac12}$" }, index: 0, format: "math" })
        .label,
    ).toBe("\\frac12");
    expect(
      itemFromRow({ row: { question: "q", answer: "x\n#### 1,234" }, index: 0, format: "gsm8k" }).label,
    ).toBe("1234");
  });
});

describe("scoring kinds end to end", () => {
  it("a registered code task: samples through the backend, unbiased pass@k over them", async () => {
    const path = join(directory, "code.jsonl");
    await writeFile(
      path,
      [
        {
          task_id: "t/0",
          prompt: "def add(a, b):\n",
          canonical_solution: "    return a + b\n",
          test: "def check(f):\n    assert f(2, 3) == 5\n",
          entry_point: "add",
        },
        {
          task_id: "t/1",
          prompt: "def plus(a, b):\n",
          canonical_solution: "    return a + b\n",
          test: "def check(f):\n    assert f(1, 1) == 2\n",
          entry_point: "plus",
        },
      ]
        .map((row) => JSON.stringify(row))
        .join("\n"),
    );
    const base = getTask({ name: "humaneval" });
    registerTask({
      spec: {
        ...base,
        name: "tiny_code",
        generation: { ...base.generation, samples: 4 },
        scoring: { kind: "humaneval", passAtK: [1, 2, 8], timeoutSeconds: 5 },
        primaryMetric: "pass_at_2",
      },
    });
    const backend = await createOpenAiBackend({ endpoint: server.url, model: "m", retries: 0 });
    const results = await runEval({ task: "tiny_code", backend, dataPath: path });
    const metrics = results.tasks[0]?.metrics ?? {};
    // 2 of 4 samples pass for each problem: pass@1 = 0.5, pass@2 = 1 − C(2,2)/C(4,2) = 5/6.
    expect(metrics["pass_at_1"]?.value).toBeCloseTo(0.5, 12);
    expect(metrics["pass_at_2"]?.value).toBeCloseTo(5 / 6, 12);
    expect(metrics["pass_at_8"]).toBeUndefined();
    expect(server.requests[0]?.body).toMatchObject({ n: 4, temperature: 0.8, top_p: 0.95 });
  });

  it("MATH subjects are macro-averaged; IFEval reports prompt and instruction level", async () => {
    const mathPath = join(directory, "math.jsonl");
    const mathRows = [
      { problem: "1+1", answer: "2", subject: "Algebra" },
      { problem: "2+2", answer: "4", subject: "Algebra" },
      { problem: "3+3", answer: "6", subject: "Algebra" },
      { problem: "area", answer: "9", subject: "Geometry" },
    ];
    await writeFile(mathPath, mathRows.map((row) => JSON.stringify(row)).join("\n"));
    const spec = { ...getTask({ name: "minerva_math" }), name: "tiny_math" };
    const responses = ["2", "4", "7", "9"].map((answer, index) => ({
      doc_id: index,
      response: `Final Answer: The final answer is $${answer}$. I hope it is correct.`,
    }));
    const math = await scoreResponses({ task: defineTask({ spec }), dataPath: mathPath, responses });
    expect(math.tasks[0]?.metrics["exact_match_flex"]?.value).toBeCloseTo((2 / 3 + 1) / 2, 12);
    expect(math.tasks[0]?.groups?.["Algebra"]?.["exact_match_flex"]?.value).toBeCloseTo(2 / 3, 12);

    const ifevalPath = join(directory, "ifeval.jsonl");
    await writeFile(
      ifevalPath,
      JSON.stringify({
        key: 1,
        prompt: "Answer in lowercase and without commas.",
        instruction_id_list: ["change_case:english_lowercase", "punctuation:no_comma"],
        kwargs: [{}, {}],
      }),
    );
    const ifeval = await scoreResponses({
      task: "ifeval",
      dataPath: ifevalPath,
      responses: [{ doc_id: 0, response: "**hello there, friend**" }],
    });
    const metrics = ifeval.tasks[0]?.metrics ?? {};
    expect(metrics["prompt_level_strict_acc"]?.value).toBe(0);
    expect(metrics["inst_level_strict_acc"]?.value).toBe(0.5);
    expect(metrics["inst_level_strict_acc"]?.count).toBe(2);
  });
});

describe("task tools", () => {
  it("are @posttrain/tools' toolUseConfigSchema (the schema rlvr's tools uses too)", async () => {
    const { toolUseConfigSchema } = await import("@posttrain/tools");
    const { toolUseSpecSchema } = await import("./index.js");
    expect(toolUseSpecSchema).toBe(toolUseConfigSchema);
  });
});
