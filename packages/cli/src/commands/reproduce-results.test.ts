// `posttrain reproduce <recipe> --results DIR` (and its alias compare-results) through the built bin.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { resultsFile } from "@posttrain/export/test";
import { beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const tulu3 = fileURLToPath(new URL("../../../../recipes/tulu3-8b", import.meta.url));
const execute = promisify(execFile);
const posttrain = (...args: string[]) =>
  execute(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } }).then(
    (result) => ({ status: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      status: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );

/** tulu3-8b's published DPO numbers (its expected table after `dpo`), with `gsm8k` overridden. */
const dpoResults = (gsm8k: number) =>
  resultsFile({
    gsm8k: { metric: "exact_match", value: gsm8k },
    minerva_math: { metric: "exact_match_flex", value: 0.42 },
    ifeval: { metric: "prompt_level_loose_acc", value: 0.81 },
    humaneval: { metric: "pass_at_10", value: 0.84 },
  });

interface Comparison {
  passed: boolean;
  rows: Array<{ after: string; task: string; passed: boolean; actual: number | null }>;
  missingStages: string[];
}

describe.skipIf(!existsSync(bin))("posttrain reproduce --results", () => {
  let perStage: string;
  let single: string;
  let failing: string;
  beforeAll(async () => {
    perStage = await mkdtemp(join(tmpdir(), "posttrain-reproduce-results-"));
    await mkdir(join(perStage, "dpo"));
    await writeFile(join(perStage, "dpo", "results.json"), JSON.stringify(dpoResults(0.84)));
    single = await mkdtemp(join(tmpdir(), "posttrain-reproduce-single-"));
    await writeFile(join(single, "results.json"), JSON.stringify(dpoResults(0.84)));
    failing = await mkdtemp(join(tmpdir(), "posttrain-reproduce-failing-"));
    await writeFile(join(failing, "results.json"), JSON.stringify(dpoResults(0.6)));
  });

  it("compares per-stage results with the expected table without running anything (exit 0)", async () => {
    const result = await posttrain("reproduce", tulu3, "--results", perStage, "--json");
    expect(result.status, result.stderr).toBe(0);
    const comparison = JSON.parse(result.stdout) as Comparison;
    expect(comparison.passed).toBe(true);
    expect(comparison.rows.map((row) => row.task).sort()).toEqual([
      "gsm8k",
      "humaneval",
      "ifeval",
      "minerva_math",
    ]);
    expect(comparison.rows.every((row) => row.after === "dpo" && row.passed)).toBe(true);
    expect(comparison.missingStages).toEqual(["sft", "rlvr"]);
  });

  it("a single results.json belongs to --after; a number outside the tolerance exits 1 and says FAIL", async () => {
    const passing = await posttrain("reproduce", tulu3, "--results", single, "--after", "dpo", "--json");
    expect(passing.status, passing.stderr).toBe(0);
    const result = await posttrain("reproduce", tulu3, "--results", failing, "--after", "dpo");
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/dpo\s+gsm8k\s+exact_match[^\n]*FAIL/);
    expect(result.stdout).toContain("NOT reproduced");
    // compare-results is an alias with the same answer.
    const alias = await posttrain("compare-results", tulu3, "--results", failing, "--after", "dpo");
    expect(alias.status).toBe(1);
    expect(alias.stdout).toBe(result.stdout);
  });

  it("usage errors exit 2; an unreadable results folder is a failure (exit 1)", async () => {
    const after = await posttrain("reproduce", tulu3, "--after", "dpo");
    expect(after.status).toBe(2);
    expect(after.stderr).toContain("--after needs --results");
    const missing = await posttrain("reproduce", tulu3, "--results", join(perStage, "absent"));
    expect(missing.status).toBe(1);
  });
});
