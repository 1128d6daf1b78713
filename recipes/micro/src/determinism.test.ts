import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "@posttrain/core";
import { applyVariant, type LoadedRecipe, type RunSummary, runRecipe } from "@posttrain/recipe";
import { describe, expect, it } from "vitest";
import { recipe } from "./recipe.js";

const packageDirectory = fileURLToPath(new URL("..", import.meta.url));

/** What must not change between two runs: per-step training numbers, models, eval numbers. */
async function fingerprintOf(params: { runDirectory: string; summary: RunSummary }) {
  const stages = [];
  for (const [index, stage] of params.summary.stages.entries()) {
    const stageDirectory = join(params.runDirectory, "stages", `${index + 1}-${stage.name}`);
    const steps = (await readFile(join(stageDirectory, "events.jsonl"), "utf8"))
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((event) => event["type"] === "step-end")
      .map((event) => [event["loss"], event["gradientNorm"]]);
    stages.push({
      name: stage.name,
      steps,
      model: sha256Hex(await readFile(join(stageDirectory, "model", "parameters.bin"))),
      evals: stage.evals,
    });
  }
  return stages;
}

// Same recipe + seed + machine ⇒ same numbers. The stages train with 2 intra-op threads; the
// embedding gradient once came from ORT's ScatterND(add), which raced on repeated token ids, so
// the SFT gradient norm differed from the first step and every later number with it.
describe("micro recipe determinism", () => {
  it("two runs of the smoke SFT and DPO stages give identical step metrics, models and eval numbers", {
    timeout: 300_000,
  }, async () => {
    const smoke = applyVariant({ recipe, variant: "smoke" });
    const stages = smoke.stages.filter((stage) => stage.name !== "rlvr");
    expect(stages.every((stage) => (stage.hyperparameters as { threads: number }).threads === 2)).toBe(true);
    // A package folder of links to the data and tokenizer, so the two-stage recipe locks there
    // rather than over the shipped smoke lock.
    const scratch = await mkdtemp(join(tmpdir(), "posttrain-micro-determinism-"));
    try {
      const folder = join(scratch, "package");
      await mkdir(folder);
      const data = stages[0]!.data.train[0]!;
      if (data.kind !== "local") throw new Error("the micro recipe reads local data");
      await symlink(resolve(packageDirectory, data.directory), join(folder, "datasets"));
      await symlink(join(packageDirectory, "tokenizer"), join(folder, "tokenizer"));
      // Every local dataset path of the recipe, pointed at the link.
      const relinked = JSON.parse(
        JSON.stringify({ ...smoke, stages, expected: [] }, (key, value) =>
          key === "directory" && value === data.directory ? "datasets" : value,
        ),
      ) as typeof smoke;
      const loaded: LoadedRecipe = {
        recipe: relinked,
        packageDirectory: folder,
        modulePath: fileURLToPath(new URL("./recipe.ts", import.meta.url)),
        packageName: "@posttrain-recipes/micro",
        packageVersion: "0.0.0",
        variant: "smoke",
      };
      const runs = join(scratch, "runs");
      const fingerprints = [];
      for (const runId of ["first", "second"]) {
        const summary = await runRecipe({
          loaded,
          runsDirectory: runs,
          runId,
          relock: true,
          probes: false,
          log: () => {},
          progressMode: "silent",
        });
        expect(summary.status).toBe("completed");
        fingerprints.push(await fingerprintOf({ runDirectory: summary.runDirectory, summary }));
      }
      const [first, second] = fingerprints;
      expect(first!.map((stage) => stage.steps.length)).toEqual([3, 2]);
      expect(second).toEqual(first);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
