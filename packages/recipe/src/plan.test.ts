import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseLlamaConfig } from "@posttrain/engine";
import { describe, expect, it } from "vitest";
import {
  alignColumns,
  calibrateFromRuns,
  formatPlan,
  formatSeconds,
  parameterCount,
  planRecipe,
  type RecordedRun,
  readRecordedRuns,
} from "./plan.js";
import { defineRecipe, type RecipeInput } from "./schema.js";
import { fixtureRecipeInput } from "./test/index.js";

describe("parameterCount", () => {
  it("matches Llama-3.1-8B's published 8,030,261,248 parameters", () => {
    const config = parseLlamaConfig({
      vocab_size: 128256,
      hidden_size: 4096,
      intermediate_size: 14336,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      tie_word_embeddings: false,
    });
    expect(parameterCount({ config })).toBe(8_030_261_248);
  });

  it("counts tied embeddings once", () => {
    const config = parseLlamaConfig({
      vocab_size: 10,
      hidden_size: 4,
      intermediate_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      tie_word_embeddings: true,
    });
    // 40 embeddings + (4·4·4 attention + 3·4·8 MLP + 2·4 norms) + 4 final norm
    expect(parameterCount({ config })).toBe(40 + 64 + 96 + 8 + 4);
  });
});

describe("planRecipe", () => {
  const recipe = defineRecipe(fixtureRecipeInput() as unknown as RecipeInput);
  const n = parameterCount({
    config: parseLlamaConfig((fixtureRecipeInput()["model"] as { config: unknown }).config),
  });

  it("uses 6·N·tokens with rows from the lock × epochs × maxLength (upper bound)", () => {
    const lock = {
      datasets: { "sft.train[0]": { kind: "local", directory: "data", expect: { rows: 4000, files: [] } } },
    };
    const plan = planRecipe({
      recipe,
      lock: lock as never,
      throughput: { matmulGflops: 10, efficiency: 0.5 },
    });
    const stage = plan.stages[0];
    expect(stage).toMatchObject({
      rows: 4000,
      rowsFrom: "lock",
      trainingTokens: 4000 * 256,
      tokensPerRowFrom: "max_length",
    });
    expect(stage?.flops).toBe(6 * n * 4000 * 256);
    expect(stage?.estimatedSeconds).toBeCloseTo((6 * n * 4000 * 256) / 5e9, 6);
    expect(stage?.memoryBytes.optimizer).toBe(8 * n);
    expect(formatPlan(plan)).toContain("sft");
  });

  it("uses measured lengths when given, and unknown rows without a lock", () => {
    const measured = planRecipe({ recipe, meanTokensPerRow: { sft: 100 } });
    expect(measured.stages[0]).toMatchObject({ rows: null, trainingTokens: null, flops: null });
    expect(measured.totalSeconds).toBeNull();
  });
});

describe("plan calibrated from earlier runs", () => {
  const recipe = defineRecipe(fixtureRecipeInput() as unknown as RecipeInput);
  const lock = {
    datasets: { "sft.train[0]": { kind: "local", directory: "data", expect: { rows: 400, files: [] } } },
  } as never;
  const stageFlops = planRecipe({ recipe, lock }).stages[0]?.flops as number;
  const run = (runId: string, wallSeconds: number | null, status = "completed"): RecordedRun => ({
    runId,
    recipe,
    lock,
    stages: [{ name: "sft", type: "sft", status, wallSeconds }],
  });

  it("a run of the same recipe calibrates its stage type: the plan estimates the recorded wall time", () => {
    const calibration = calibrateFromRuns({ runs: [run("a", 30)] });
    expect(calibration).toEqual({ flopsPerSecond: { sft: stageFlops / 30 }, runs: ["a"] });
    const plan = planRecipe({ recipe, lock, calibration, throughput: { matmulGflops: 1, efficiency: 0.5 } });
    expect(plan.stages[0]?.estimatedSeconds).toBeCloseTo(30, 9);
    expect(plan.stages[0]?.timeFrom).toBe("runs");
    expect(plan.totalSeconds).toBeCloseTo(30, 9);
    expect(formatPlan(plan)).toContain("time (runs): 1 earlier run of this variant on this machine (a)");
  });

  it("sums FLOPs and seconds over runs, ignores skipped, failed and untimed stages; none usable is null", () => {
    const calibration = calibrateFromRuns({
      runs: [run("a", 30), run("b", 50), run("c", 5, "skipped"), run("d", null), run("e", 9, "failed")],
    });
    expect(calibration?.flopsPerSecond.sft).toBeCloseTo((2 * stageFlops) / 80, 6);
    expect(calibration?.runs).toEqual(["a", "b"]);
    expect(calibrateFromRuns({ runs: [run("c", 5, "skipped")] })).toBeNull();
  });

  it("a stage type no run measured falls back to the MatMul probe, and says so", () => {
    const plan = planRecipe({
      recipe,
      lock,
      calibration: { flopsPerSecond: { dpo: 1e9 }, runs: ["x"] },
      throughput: { matmulGflops: 10, efficiency: 0.5 },
    });
    expect(plan.stages[0]?.timeFrom).toBe("matmul");
    expect(plan.stages[0]?.estimatedSeconds).toBeCloseTo(stageFlops / 5e9, 9);
  });

  it("reads runs (single and multi-seed folders) from a runs folder", async () => {
    const runs = await mkdtemp(join(tmpdir(), "plan-runs-"));
    try {
      const write = async (folder: string, wallSeconds: number) => {
        await mkdir(folder, { recursive: true });
        await writeFile(join(folder, "recipe.json"), JSON.stringify(recipe));
        await writeFile(join(folder, "recipe.lock.json"), JSON.stringify(lock));
        await writeFile(
          join(folder, "summary.json"),
          JSON.stringify({
            runId: folder.split("/").at(-1),
            status: "completed",
            stages: [{ name: "sft", type: "sft", status: "completed", wallSeconds }],
          }),
        );
      };
      await write(join(runs, "fixture-1.2.3", "one"), 10);
      await mkdir(join(runs, "fixture-1.2.3-smoke", "many"), { recursive: true });
      await writeFile(join(runs, "fixture-1.2.3-smoke", "many", "seeds.json"), "{}");
      await write(join(runs, "fixture-1.2.3-smoke", "many", "seed-1"), 20);
      await mkdir(join(runs, "fixture-1.2.3", "broken"));
      await write(join(runs, "other-1.0.0", "x"), 99);
      const recorded = await readRecordedRuns({ runsDirectory: runs, recipeName: "fixture" });
      expect(recorded.map((entry) => [entry.runId, entry.variant]).sort()).toEqual([
        ["one", null],
        ["seed-1", "smoke"],
      ]);
    } finally {
      await rm(runs, { recursive: true, force: true });
    }
  });

  it("aligns the table's columns whatever the cell widths", () => {
    const lines = alignColumns([
      ["stage", "rows", "time"],
      ["sft", "1.92M (published)", "3 min"],
    ]);
    expect(lines).toEqual(["stage  rows               time", "sft    1.92M (published)  3 min"]);
    const plan = formatPlan(planRecipe({ recipe, lock, throughput: { matmulGflops: 10, efficiency: 0.5 } }));
    const table = plan.split("\n").filter((line) => /^(stage|sft)\s/.test(line));
    expect(table[0]?.indexOf("time")).toBe(table[1]?.indexOf(formatSeconds(stageFlops / 5e9)));
  });
});
