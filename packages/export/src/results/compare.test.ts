import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError } from "@posttrain/core";
import { recipe as tulu3 } from "@posttrain-recipes/tulu3-8b";
import { describe, expect, it } from "vitest";
import { resultsFile } from "../test/results-file.js";
import {
  compareResultsWithRecipe,
  formatResultsComparison,
  readResultsDirectory,
  readSeedResultsDirectories,
} from "./compare.js";

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
    expect(text).toContain("tolerance override: no seed data");
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

describe("comparing a multi-seed results folder with seed rows", () => {
  const machines = [{ cpu: "test CPU", instructionSets: ["avx2" as const], threads: 2 }];
  const seedRow = (after: string, values: number[]) => ({
    after,
    task: "gsm8k",
    metric: "exact_match",
    perSeed: Object.fromEntries(values.map((value, index) => [String(index + 1), value])),
    machines,
    codeVersion: "0.1.0",
    source: "synthetic seeds",
  });
  // tulu3's table with two seed rows and a claim in place of the published tolerance rows.
  const recipe = {
    ...tulu3,
    expected: [seedRow("dpo", [0.8, 0.82, 0.79, 0.81, 0.8]), seedRow("rlvr", [0.86, 0.88, 0.85, 0.87, 0.86])],
    claims: [
      {
        statement: "RLVR beats DPO on gsm8k",
        task: "gsm8k",
        metric: "exact_match",
        better: "rlvr",
        worse: "dpo",
      },
    ],
  };

  async function seedFolder(values: Record<string, number[]>): Promise<string> {
    const directory = await mkdtemp(join(tmpdir(), "posttrain-results-seeds-"));
    for (const [index] of (values["dpo"] ?? []).entries())
      for (const [stage, perSeed] of Object.entries(values)) {
        // The layout `posttrain run --seeds` writes: seed-<N>/evals/<stage>/results.json.
        await mkdir(join(directory, `seed-${index + 1}`, "evals", stage), { recursive: true });
        await writeFile(
          join(directory, `seed-${index + 1}`, "evals", stage, "results.json"),
          JSON.stringify(resultsFile({ gsm8k: { metric: "exact_match", value: perSeed[index] ?? 0 } })),
        );
      }
    return directory;
  }

  it("judges the mean of the seeds against the band for that many runs, and the claim by a paired test", async () => {
    const directory = await seedFolder({ dpo: [0.81, 0.8, 0.8], rlvr: [0.87, 0.86, 0.87] });
    const results = await readSeedResultsDirectories({ directory, recipe });
    expect([...(results?.keys() ?? [])]).toEqual([1, 2, 3]);
    const comparison = compareResultsWithRecipe({ recipe, results: results! });
    expect(comparison.seeds).toEqual([1, 2, 3]);
    expect(comparison.rows.map((row) => [row.after, row.kind, row.reason])).toEqual([
      ["dpo", "seeds", "inside_band"],
      ["rlvr", "seeds", "inside_band"],
    ]);
    expect(comparison.rows[1]).toMatchObject({ perSeed: { "1": 0.87, "2": 0.86, "3": 0.87 } });
    expect(comparison.rows[1]?.actual).toBeCloseTo(0.8667, 4);
    expect(comparison.claims[0]).toMatchObject({ status: "supported", passed: true });
    expect(comparison.passed).toBe(true);
    expect(formatResultsComparison(comparison)).toContain("mean of 3 seeds");
  });

  it("fails a mean below the band, and a claim reversed across the seeds", async () => {
    const directory = await seedFolder({ dpo: [0.81, 0.8, 0.82], rlvr: [0.78, 0.77, 0.79] });
    const comparison = compareResultsWithRecipe({
      recipe,
      results: (await readSeedResultsDirectories({ directory, recipe }))!,
    });
    expect(comparison.rows.find((row) => row.after === "rlvr")).toMatchObject({
      passed: false,
      reason: "below_band",
    });
    expect(comparison.claims[0]).toMatchObject({ status: "reversed", passed: false });
    expect(comparison.passed).toBe(false);
    expect(
      await readSeedResultsDirectories({ directory: await mkdtemp(join(tmpdir(), "x-")), recipe }),
    ).toBeNull();
  });
});
