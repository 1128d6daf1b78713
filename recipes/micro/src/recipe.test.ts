import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { applyVariant, type LoadedRecipe, planRecipe, type RunSummary, runRecipe } from "@posttrain/recipe";
import { describe, expect, it } from "vitest";
import { recipe } from "./recipe.js";

const packageDirectory = fileURLToPath(new URL("..", import.meta.url));

describe("micro recipe", () => {
  it("is a valid recipe over the shipped data, with a 512-token model matching the tokenizer", () => {
    expect(recipe.stages.map((stage) => stage.type)).toEqual(["sft", "dpo", "rlvr"]);
    expect(recipe.model.kind === "initialize" && recipe.model.config.vocab_size).toBe(512);
    const plan = planRecipe({ recipe });
    expect(plan.parameters).toBeLessThan(2_000_000);
    // The expected table: every held-out task (and the preference margin) after every stage,
    // from measured seeds.
    const tasks = ["micro_gsm/accuracy", "micro_gsm_sampled/accuracy", "micro_ifeval/accuracy"];
    const preference = ["micro_preference/accuracy", "micro_preference/margin"];
    expect(recipe.expected.map((row) => `${row.after}/${row.task}/${row.metric}`)).toEqual(
      ["sft", "dpo", "rlvr"].flatMap((stage) => [...tasks, ...preference].map((task) => `${stage}/${task}`)),
    );
  });

  it("smoke variant: a few steps of each stage on a few rows, a few eval items", () => {
    const smoke = applyVariant({ recipe, variant: "smoke" });
    expect(smoke.stages[0]?.hyperparameters).toMatchObject({ duration: { steps: 3 } });
    expect(smoke.stages[0]?.data.train[0]?.amount).toEqual({ rows: 128 });
    expect(smoke.evals.limit).toBe(4);
    expect(smoke.expected).toEqual([]);
  });

  // The CI smoke run: the real SFT, DPO and RLVR trainers and real embedded evals, a few
  // steps each on a few rows.
  it("smoke run: SFT, DPO and RLVR train, each is evaluated, summary and reports are written", {
    timeout: 300_000,
  }, async () => {
    const runs = await mkdtemp(join(tmpdir(), "posttrain-micro-smoke-"));
    try {
      const loaded: LoadedRecipe = {
        recipe: applyVariant({ recipe, variant: "smoke" }),
        packageDirectory,
        modulePath: fileURLToPath(new URL("./recipe.ts", import.meta.url)),
        packageName: "@posttrain-recipes/micro",
        packageVersion: "0.0.0",
        variant: "smoke",
      };
      const returned = await runRecipe({
        loaded,
        runsDirectory: runs,
        runId: "smoke",
        log: () => {},
        progressMode: "silent",
      });
      expect(returned.status).toBe("completed");
      const summary = JSON.parse(
        await readFile(join(runs, `micro-${recipe.version}-smoke`, "smoke", "summary.json"), "utf8"),
      ) as RunSummary;
      expect(summary.stages.map((stage) => stage.status)).toEqual(["completed", "completed", "completed"]);
      expect(summary.stages[2]?.trainingMetrics["reward.gsm8k"]).toBeGreaterThanOrEqual(0);
      expect(summary.stages[2]?.evals["micro_gsm"]?.["accuracy"]?.count).toBe(4);
      expect(summary.stages[2]?.evals["micro_ifeval"]?.["accuracy"]?.count).toBe(4);
      expect(summary.stages[0]?.trainingMetrics["tokenLoss"]).toBeGreaterThan(0);
      expect(summary.stages[1]?.trainingMetrics["evaluation.pairs"]).toBe(16);
      expect(summary.stages[0]?.evals["micro_gsm"]?.["accuracy"]?.count).toBe(4);
      expect(summary.expected).toBeNull();
      const report = await readFile(
        join(runs, `micro-${recipe.version}-smoke`, "smoke", "report.md"),
        "utf8",
      );
      expect(report).toContain("| rlvr | micro_gsm | accuracy |");
      expect(report).toContain("| rlvr | micro_ifeval | accuracy |");
    } finally {
      await rm(runs, { recursive: true, force: true });
    }
  });
});
