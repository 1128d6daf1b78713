import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContinuationRequest, GenerationBackend } from "@posttrain/core";
import { PosttrainError } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEval, scoreResponses } from "./run-eval.js";
import { defineTask } from "./task-spec.js";

// Four preference pairs; the fake backend's log-likelihood of a reply is minus its length in
// characters, so the shorter reply is preferred: pairs 0 and 2 (short chosen) are right, pair
// 1 (short rejected) is wrong, and pair 3 is a tie, which counts as wrong.
const pairs = [
  { prompt: "Q0", chosen: "4", rejected: "five" },
  { prompt: "Q1", chosen: "a long answer", rejected: "no" },
  { prompt: "Q2", chosen: "ok", rejected: "not ok" },
  { prompt: "Q3", chosen: "same", rejected: "size" },
];
const rows = pairs.map((pair, index) => ({
  id: `pair-${index}`,
  chosen: [
    { role: "user", content: pair.prompt },
    { role: "assistant", content: pair.chosen },
  ],
  rejected: [
    { role: "user", content: pair.prompt },
    { role: "assistant", content: pair.rejected },
  ],
}));

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "evals-preference-"));
  await writeFile(join(directory, "test.jsonl"), rows.map((row) => JSON.stringify(row)).join("\n"));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const task = () =>
  defineTask({
    spec: {
      name: "toy_preference",
      version: "1",
      olmes: { task: "none", era: "none" },
      dataset: { kind: "local", directory, split: "test" },
      rowFormat: "preference",
      prompt: { style: "chat" },
      generation: { temperature: 0, maxNewTokens: 1, stop: [] },
      scoring: { kind: "preference" },
      primaryMetric: "accuracy",
    },
  });

function scoringBackend(seen: ContinuationRequest[]): GenerationBackend {
  return {
    describe: () => ({ kind: "fake", model: "by-length" }),
    generate: async () => {
      throw new Error("a preference task must not generate");
    },
    scoreContinuations: async ({ requests }) => {
      seen.push(...requests);
      return requests.map((request) => {
        const text = request.continuation.kind === "assistant" ? request.continuation.content : "";
        return { logProbability: -text.length, tokenCount: text.length };
      });
    },
  };
}

describe("preference tasks (log-likelihood of chosen vs rejected)", () => {
  it("scores each pair from the backend's log-likelihoods: accuracy, margin, ties wrong", async () => {
    const seen: ContinuationRequest[] = [];
    const results = await runEval({ task: task(), backend: scoringBackend(seen) });
    const result = results.tasks[0]!;
    expect(result.count).toBe(4);
    expect(result.metrics["accuracy"]!.value).toBe(0.5);
    // Margins: 4 − 1, 2 − 13, 6 − 2, 0.
    expect(result.metrics["margin"]!.value).toBeCloseTo((3 - 11 + 4 + 0) / 4, 12);
    // Chosen then rejected for each pair, the prompt turns as a chat prompt.
    expect(seen).toHaveLength(8);
    expect(seen[2]).toEqual({
      prompt: { kind: "chat", messages: [{ role: "user", content: "Q1" }] },
      continuation: { kind: "assistant", content: "a long answer" },
    });
  });

  it("refuses a backend that cannot score continuations, and pre-generated responses", async () => {
    const generateOnly: GenerationBackend = {
      describe: () => ({ kind: "openai", model: "m" }),
      generate: async () => [],
    };
    await expect(runEval({ task: task(), backend: generateOnly })).rejects.toMatchObject({
      code: "eval_backend_cannot_score",
    });
    await expect(scoreResponses({ task: task(), responses: [{ response: "x" }] })).rejects.toBeInstanceOf(
      PosttrainError,
    );
  });

  it("names the row that is not a preference pair", async () => {
    const bad = await mkdtemp(join(tmpdir(), "evals-preference-bad-"));
    try {
      await writeFile(
        join(bad, "test.jsonl"),
        `${JSON.stringify(rows[0])}\n${JSON.stringify({
          chosen: rows[1]!.chosen,
          rejected: [
            { role: "user", content: "other" },
            { role: "assistant", content: "x" },
          ],
        })}\n`,
      );
      const spec = { ...task(), dataset: { kind: "local" as const, directory: bad, split: "test" } };
      await expect(runEval({ task: spec, backend: scoringBackend([]) })).rejects.toThrow(
        /row 1 does not fit the preference row format: chosen and rejected do not share their prompt/,
      );
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});
