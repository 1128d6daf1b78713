import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { runProgramTests } from "./run-program-tests.js";
import { createTaskPool } from "./task-pool.js";

const humanevalPath = fileURLToPath(
  new URL("../../../../../shared/data/benchmarks/humaneval.jsonl.gz", import.meta.url),
);

interface HumanEvalRow {
  task_id: string;
  prompt: string;
  canonical_solution: string;
  test: string;
  entry_point: string;
}

describe.skipIf(!existsSync(humanevalPath))("HumanEval canonical solutions (../shared)", () => {
  it("all 164 pass their tests under the hardened harness", { timeout: 240_000 }, async () => {
    const rows = gunzipSync(readFileSync(humanevalPath))
      .toString("utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as HumanEvalRow);
    expect(rows).toHaveLength(164);
    // Two processes at a time: the machines running the suite have two cores.
    const pool = createTaskPool({ concurrency: 2 });
    const failures: string[] = [];
    await Promise.all(
      rows.map(async (row) => {
        // The HumanEval program is prompt + solution; the test (with its check() call) runs after it.
        const result = await runProgramTests({
          program: row.prompt + row.canonical_solution,
          language: "python",
          tests: [{ kind: "assert", code: `${row.test}\ncheck(${row.entry_point})\n` }],
          limits: { wallSeconds: 20 },
          pool,
        });
        const outcome = result.outcomes[0];
        if (outcome === undefined || !outcome.passed || outcome.assertions < 1) {
          failures.push(`${row.task_id}: ${outcome?.reason} ${outcome?.detail} ${outcome?.stderrTail}`);
        }
      }),
    );
    expect(failures).toEqual([]);
  });

  it("a wrong solution fails (the harness is not vacuous)", async () => {
    const rows = gunzipSync(readFileSync(humanevalPath)).toString("utf8").trim().split("\n");
    const row = JSON.parse(rows[0] as string) as HumanEvalRow;
    const result = await runProgramTests({
      program: `${row.prompt}    return not (${row.canonical_solution.trim().split("\n").length} > 0)\n`,
      language: "python",
      tests: [{ kind: "assert", code: `${row.test}\ncheck(${row.entry_point})\n` }],
    });
    expect(result.outcomes[0]).toMatchObject({ passed: false, reason: "assertion_failed" });
  });
});
