import { existsSync } from "node:fs";
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
      .map((event) => [
        event["loss"],
        event["gradientNorm"],
        // RLVR: the rollouts' rewards, KL and sampled-token entropy (undefined for SFT/DPO).
        event["rewardMean"],
        event["kl"],
        event["entropy"],
      ]);
    stages.push({
      name: stage.name,
      steps,
      model: sha256Hex(await readFile(join(stageDirectory, "model", "parameters.bin"))),
      evals: stage.evals,
    });
  }
  return stages;
}

type Smoke = ReturnType<typeof applyVariant>;

/**
 * Runs `recipe` (a smoke variant, maybe with fewer stages) as run `runId` in a scratch package
 * folder of links to the data and tokenizer (so the recipe locks there rather than over the
 * shipped smoke lock); returns each stage's fingerprint.
 */
async function runInScratch(params: { scratch: string; recipe: Smoke; runId: string }) {
  const folder = join(params.scratch, "package");
  const data = params.recipe.stages[0]!.data.train[0]!;
  if (data.kind !== "local") throw new Error("the micro recipe reads local data");
  if (!existsSync(folder)) {
    await mkdir(folder);
    await symlink(resolve(packageDirectory, data.directory), join(folder, "datasets"));
    await symlink(join(packageDirectory, "tokenizer"), join(folder, "tokenizer"));
  }
  // Every local dataset path of the recipe, pointed at the link.
  const relinked = JSON.parse(
    JSON.stringify({ ...params.recipe, expected: [] }, (key, value) =>
      key === "directory" && value === data.directory ? "datasets" : value,
    ),
  ) as Smoke;
  const loaded: LoadedRecipe = {
    recipe: relinked,
    packageDirectory: folder,
    modulePath: fileURLToPath(new URL("./recipe.ts", import.meta.url)),
    packageName: "@posttrain-recipes/micro",
    packageVersion: params.recipe.version,
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
  return fingerprintOf({ runDirectory: summary.runDirectory, summary });
}

/**
 * The smoke recipe with an RLVR stage that trains on every step: a 3-step SFT model rarely
 * answers correctly, so every rollout group would have zero reward variance and be filtered
 * out; a format reward for short responses gives the groups variance (and gradients).
 */
function smokeWithTrainingRlvr(params: { rlvrThreads: number }): Smoke {
  const smoke = applyVariant({ recipe, variant: "smoke" });
  return {
    ...smoke,
    stages: smoke.stages.map((stage) =>
      stage.name !== "rlvr"
        ? stage
        : {
            ...stage,
            hyperparameters: {
              ...stage.hyperparameters,
              threads: params.rlvrThreads,
              rollouts: { ...(stage.hyperparameters as { rollouts: object }).rollouts, samplesPerPrompt: 4 },
              rewards: {
                ...(stage.hyperparameters as { rewards: object }).rewards,
                format: { pattern: "[\\s\\S]{0,60}", reward: 1 },
              },
            },
          },
    ),
  } as Smoke;
}

// Same recipe + seed + machine ⇒ same numbers. The stages train with 2 intra-op threads; the
// embedding gradient once came from ORT's ScatterND(add), which raced on repeated token ids, so
// the SFT gradient norm differed from the first step and every later number with it.
describe("micro recipe determinism", () => {
  it("two runs of the smoke SFT and DPO stages give identical step metrics, models and eval numbers", {
    timeout: 900_000,
  }, async () => {
    const smoke = applyVariant({ recipe, variant: "smoke" });
    const stages = smoke.stages.filter((stage) => stage.name !== "rlvr");
    expect(stages.every((stage) => (stage.hyperparameters as { threads: number }).threads === 2)).toBe(true);
    const scratch = await mkdtemp(join(tmpdir(), "posttrain-micro-determinism-"));
    try {
      const fingerprints = [];
      for (const runId of ["first", "second"])
        fingerprints.push(await runInScratch({ scratch, recipe: { ...smoke, stages }, runId }));
      const [first, second] = fingerprints;
      expect(first!.map((stage) => stage.steps.length)).toEqual([3, 2]);
      expect(second).toEqual(first);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  // RLVR samples, scores and trains with short inputs (one completion, one decode step), where
  // onnxruntime's SGEMM once summed in a thread-dependent order: the RLVR numbers differed by
  // ~1e-6 from step 1 across thread counts. The engine's decoder now splits every Gemm's input
  // into blocks of ≤ 128 features (engine/src/model/decoder.ts), so they must not.
  it("RLVR: the same seed gives identical rollouts, step metrics, model and evals, with 2 threads twice and with 1 and 4", {
    timeout: 900_000,
  }, async () => {
    const scratch = await mkdtemp(join(tmpdir(), "posttrain-micro-determinism-rlvr-"));
    try {
      const runs: Record<string, Awaited<ReturnType<typeof runInScratch>>> = {};
      for (const [runId, rlvrThreads] of [
        ["first", 2],
        ["second", 2],
        ["one-thread", 1],
        ["four-threads", 4],
      ] as const)
        runs[runId] = await runInScratch({ scratch, recipe: smokeWithTrainingRlvr({ rlvrThreads }), runId });
      const rlvr = (runId: string) => runs[runId]!.find((stage) => stage.name === "rlvr")!;
      // The RLVR stage trained: both steps kept rollouts with non-zero advantages.
      expect(rlvr("first").steps).toHaveLength(2);
      for (const step of rlvr("first").steps) expect(step[1]).toBeGreaterThan(0);
      expect(runs["second"]).toEqual(runs["first"]);
      for (const runId of ["one-thread", "four-threads"]) {
        expect(rlvr(runId).steps).toEqual(rlvr("first").steps);
        expect(rlvr(runId).model).toBe(rlvr("first").model);
        expect(rlvr(runId).evals).toEqual(rlvr("first").evals);
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
