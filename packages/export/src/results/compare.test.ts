import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError } from "@posttrain/core";
import { recipe as tulu3 } from "@posttrain-recipes/tulu3-8b";
import { describe, expect, it } from "vitest";
import { resultsFile } from "../test-support/results-file.js";
import { compareResultsWithRecipe, formatResultsComparison, readResultsDirectory } from "./compare.js";

const rlvrResults = resultsFile({
  gsm8k: { metric: "exact_match", value: 0.87 },
  minerva_math: { metric: "exact_match_flex", value: 0.44 },
  ifeval: { metric: "prompt_level_loose_acc", value: 0.79 },
  humaneval: { metric: "pass_at_10", value: 0.84 },
});

describe("comparing results from a run done elsewhere with the recipe's expected table", () => {
  it("one results.json: compared with the last stage's rows, failures and intervals reported", async () => {
    const directory = await mkdtemp(join(tmpdir(), "posttrain-results-"));
    await writeFile(join(directory, "results.json"), JSON.stringify(rlvrResults));
    const results = await readResultsDirectory({ directory, recipe: tulu3 });
    expect([...results.keys()]).toEqual(["rlvr"]);
    const comparison = compareResultsWithRecipe({ recipe: tulu3, results });
    expect(comparison.rows).toHaveLength(4);
    const byTask = Object.fromEntries(comparison.rows.map((row) => [row.task, row]));
    expect(byTask["gsm8k"]).toMatchObject({ passed: true, value: 0.876, actual: 0.87, after: "rlvr" });
    // IFEval 0.79 vs 0.824 ± 0.02: outside.
    expect(byTask["ifeval"]).toMatchObject({ passed: false, reason: "outside_tolerance" });
    expect(byTask["gsm8k"]!.confidenceInterval).toEqual({ lower: 0.85, upper: 0.89, confidence: 0.95 });
    expect(comparison.passed).toBe(false);
    expect(comparison.missingStages).toEqual(["sft", "dpo"]);
    const text = formatResultsComparison(comparison);
    expect(text).toContain("FAIL (outside_tolerance)");
    expect(text).toContain("NOT reproduced");
  });

  it("per-stage folders; a missing metric fails its row instead of passing", async () => {
    const directory = await mkdtemp(join(tmpdir(), "posttrain-results-"));
    await mkdir(join(directory, "sft"));
    await writeFile(
      join(directory, "sft", "results.json"),
      JSON.stringify(resultsFile({ gsm8k: { metric: "exact_match", value: 0.76 } })),
    );
    const comparison = compareResultsWithRecipe({
      recipe: tulu3,
      results: await readResultsDirectory({ directory, recipe: tulu3 }),
    });
    expect(comparison.rows.filter((row) => row.passed).map((row) => row.task)).toEqual(["gsm8k"]);
    expect(comparison.rows.find((row) => row.task === "ifeval")?.reason).toBe("missing_task");
  });

  it("rejects a malformed results file naming the field, and an unknown --after stage", async () => {
    const directory = await mkdtemp(join(tmpdir(), "posttrain-results-"));
    await writeFile(
      join(directory, "results.json"),
      JSON.stringify({ schemaVersion: 1, tasks: [{ task: {} }] }),
    );
    await expect(readResultsDirectory({ directory, recipe: tulu3 })).rejects.toThrow(/tasks\[0\]/);
    const error = await readResultsDirectory({ directory, recipe: tulu3, after: "ppo" }).catch(
      (caught: unknown) => caught,
    );
    expect(PosttrainError.hasCode(error, "export_unknown_stage")).toBe(true);
  });
});
