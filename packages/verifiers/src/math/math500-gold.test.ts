/** Whole MATH-500 solutions as `math` labels: the gold is their last box (skips without the data). */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { VerifyContext } from "../types.js";
import { mathVerifier } from "./verifiers.js";

const path = fileURLToPath(
  new URL("../../../../../shared/data/benchmarks/math500-test.jsonl", import.meta.url),
);
const context: VerifyContext = { timeoutMilliseconds: 5_000 };

describe.skipIf(!existsSync(path))("MATH-500 solutions as labels", () => {
  const rows = existsSync(path)
    ? readFileSync(path, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as { answer: string; solution: string })
    : [];
  it("the boxed gold answer matches its solution label; a perturbed one does not", async () => {
    const wrong: string[] = [];
    let perturbedAccepted = 0;
    for (const row of rows) {
      const right = await mathVerifier.verify({
        response: `So the answer is $\\boxed{${row.answer}}$.`,
        label: row.solution,
        context,
      });
      if (right.score !== 1) wrong.push(row.answer);
      const perturbed = row.answer.replace(/\d+/, (digits) => String(Number(digits) + 1));
      if (perturbed === row.answer) continue;
      const other = await mathVerifier.verify({
        response: `So the answer is $\\boxed{${perturbed}}$.`,
        label: row.solution,
        context,
      });
      if (other.score === 1) perturbedAccepted += 1;
    }
    expect(rows.length).toBe(500);
    expect(wrong).toEqual([]);
    expect(perturbedAccepted).toBe(0);
  }, 300_000);
});
