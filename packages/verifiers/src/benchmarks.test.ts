// Real benchmark answers (../shared/data/benchmarks), formatted as model outputs: the gold
// verifies, and the same output with a perturbed number does not. Skips when the data is absent.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { verify } from "./verify.js";

const benchmarks = fileURLToPath(new URL("../../../../shared/data/benchmarks/", import.meta.url));
const gsm8kPath = `${benchmarks}gsm8k-test.jsonl`;
const mathPath = `${benchmarks}math500-test.jsonl`;
const readJsonl = <Row>(path: string): Row[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Row);

/** Adds one to the last integer in `text`. */
const perturbLast = (text: string) => text.replace(/(\d+)(?!.*\d)/s, (digits) => String(Number(digits) + 1));
/** Adds one to the first integer in `text`. */
const perturbFirst = (text: string) => text.replace(/\d+/, (digits) => String(Number(digits) + 1));

describe.skipIf(!existsSync(gsm8kPath))("GSM8K test set (1,319 gold solutions)", () => {
  const rows = existsSync(gsm8kPath) ? readJsonl<{ answer: string }>(gsm8kPath) : [];
  const label = (answer: string) => (answer.split("####").at(-1) ?? "").trim().replaceAll(",", "");

  it("the gold solutions verify under gsm8k and gsm8k_strict; perturbed ones do not", async () => {
    const honest = rows.map((row) => ({ response: row.answer, ground_truth: label(row.answer) }));
    const perturbed = rows.map((row) => ({
      response: perturbLast(row.answer),
      ground_truth: label(row.answer),
    }));
    for (const verifier of ["gsm8k", "gsm8k_strict"]) {
      const good = await verify({ verifier, rows: honest, workers: 0 });
      expect(good.summary).toMatchObject({ count: 1319, meanScore: 1, errors: 0 });
      const bad = await verify({ verifier, rows: perturbed, workers: 0 });
      expect(bad.summary).toMatchObject({ count: 1319, meanScore: 0, errors: 0 });
    }
  });
});

describe.skipIf(!existsSync(mathPath))("MATH-500 (500 gold answers)", () => {
  const rows = existsSync(mathPath) ? readJsonl<{ answer: string; solution: string }>(mathPath) : [];

  it("gold answers as boxed, Minerva and full-solution outputs verify", async () => {
    const responses = rows.flatMap((row) => [
      { response: `Therefore the answer is $\\boxed{${row.answer}}$.`, ground_truth: row.answer },
      {
        response: `Final Answer: The final answer is $${row.answer}$. I hope it is correct.`,
        ground_truth: row.answer,
      },
      { response: row.solution, ground_truth: row.answer },
    ]);
    const output = await verify({ verifier: "math", rows: responses, workers: 0 });
    const failed = output.rows.filter((row) => row.score !== 1).map((row) => row.ground_truth);
    expect(failed).toEqual([]);
    expect(output.summary).toMatchObject({ count: 1500, meanScore: 1, errors: 0, timeouts: 0 });
  });

  it("the same outputs with a perturbed number do not", async () => {
    const withDigits = rows.filter((row) => /\d/.test(row.answer));
    expect(withDigits.length).toBeGreaterThan(450);
    const output = await verify({
      verifier: "math",
      rows: withDigits.map((row) => ({
        response: `So $\\boxed{${perturbFirst(row.answer)}}$.`,
        ground_truth: row.answer,
      })),
      workers: 2,
    });
    expect(output.summary).toMatchObject({ count: withDigits.length, meanScore: 0, errors: 0, timeouts: 0 });
  });
});
