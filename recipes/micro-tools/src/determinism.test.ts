import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "@posttrain/core";
import { applyVariant, type LoadedRecipe, type RunSummary, runRecipe } from "@posttrain/recipe";
import { describe, expect, it } from "vitest";
import { recipe } from "./recipe.js";

const packageDirectory = fileURLToPath(new URL("..", import.meta.url));

/** What must not change between two runs: per-step training numbers, models, eval numbers. */
async function fingerprintOf(summary: RunSummary) {
  const stages = [];
  for (const [index, stage] of summary.stages.entries()) {
    const stageDirectory = join(summary.runDirectory, "stages", `${index + 1}-${stage.name}`);
    const steps = (await readFile(join(stageDirectory, "events.jsonl"), "utf8"))
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((event) => event["type"] === "step-end")
      .map((event) => [event["loss"], event["gradientNorm"], event["rewardMean"], event["kl"]]);
    stages.push({
      name: stage.name,
      steps,
      model: sha256Hex(await readFile(join(stageDirectory, "model", "parameters.bin"))),
      evals: stage.evals,
    });
  }
  return stages;
}

/**
 * Runs the smoke variant as run `runId` in a scratch package folder of links to the data and
 * tokenizer (so it locks there, not over the shipped smoke lock).
 */
async function runSmoke(params: { scratch: string; runId: string }) {
  const folder = join(params.scratch, "package");
  await mkdir(folder, { recursive: true });
  for (const name of ["datasets", "tokenizer"])
    await symlink(join(packageDirectory, name), join(folder, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  const smoke = applyVariant({ recipe, variant: "smoke" });
  const loaded: LoadedRecipe = {
    recipe: smoke,
    packageDirectory: folder,
    modulePath: fileURLToPath(new URL("./recipe.ts", import.meta.url)),
    packageName: "@posttrain-recipes/micro-tools",
    packageVersion: smoke.version,
    variant: "smoke",
  };
  const summary = await runRecipe({
    loaded,
    runsDirectory: join(params.scratch, "runs"),
    runId: params.runId,
    relock: true,
    probes: false,
    log: () => {},
    progressMode: "silent",
  });
  expect(summary.status).toBe("completed");
  return fingerprintOf(summary);
}

// Same recipe + seed + machine ⇒ same numbers, tool use included: the tool-output masks of
// SFT, RLVR's multi-turn rollouts with the calculator, and the multi-turn eval must not add
// any nondeterminism.
describe("micro-tools recipe determinism (smoke variant)", () => {
  it("two runs give identical step metrics, models and eval numbers with and without the calculator", {
    timeout: 600_000,
  }, async () => {
    const scratch = await mkdtemp(join(tmpdir(), "posttrain-micro-tools-determinism-"));
    try {
      const first = await runSmoke({ scratch, runId: "first" });
      const second = await runSmoke({ scratch, runId: "second" });
      expect(first.map((stage) => stage.name)).toEqual(["sft", "rlvr"]);
      expect(first[0]!.steps.length).toBeGreaterThan(0);
      for (const stage of first)
        expect(Object.keys(stage.evals).sort()).toEqual([
          "micro_tools_arithmetic",
          "micro_tools_arithmetic+tools",
        ]);
      expect(second).toEqual(first);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
