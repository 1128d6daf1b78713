import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type EvalResults, taskHash } from "@posttrain/evals";
import { afterEach, describe, expect, it } from "vitest";
import { loadRecipe } from "./load.js";
import { runRecipe, type StageEvaluator } from "./runner.js";
import { parseSeedList, runSeeds, type SeedsSummary } from "./seeds.js";
import type { StageRunner } from "./stage-runners.js";
import { fixtureRecipeInput, writeFixturePackage } from "./test/index.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

/** Held-out accuracy after each stage for each root seed (polish beats sft on every seed). */
const accuracyOf = (stage: string, seed: number) => (stage === "sft" ? 0.5 : 0.6) + 0.01 * seed;

/**
 * A stand-in trainer whose model bytes depend on the stage's seeded stream (so seeds give
 * different models and a seed gives the same model twice); it can stop at one stage of one seed.
 */
function seededRunner(calls: string[], interrupt?: { seed: number; stage: string }): StageRunner {
  return async ({ stage, context, recipe }) => {
    calls.push(`${recipe.seed}:${stage.name}`);
    if (interrupt?.seed === recipe.seed && interrupt.stage === stage.name)
      return { status: "interrupted", modelDirectory: null, metrics: {} };
    const modelDirectory = join(context.directory, "model");
    await mkdir(modelDirectory, { recursive: true });
    await writeFile(join(modelDirectory, "weights.bin"), String(context.random.nextUint32()));
    return { status: "completed", modelDirectory, metrics: {} };
  };
}

const seededEvaluator: StageEvaluator = async ({ recipe, modelDirectory }) => {
  const task = recipe.evals.tasks[0]!;
  const stage = modelDirectory.includes("polish") ? "polish" : "sft";
  const accuracy = accuracyOf(stage, recipe.seed);
  return {
    schemaVersion: 1,
    model: { kind: "fake", model: "fake" },
    suite: null,
    seed: 0,
    tasks: [
      {
        task: {
          name: task.name,
          version: task.version,
          olmes: task.olmes,
          hash: taskHash({ spec: task }),
          primaryMetric: "accuracy",
        },
        dataset: {} as never,
        generation: task.generation,
        count: 100,
        limit: null,
        metrics: {
          accuracy: {
            value: accuracy,
            standardError: 0.05,
            count: 100,
            confidenceInterval: {
              lower: accuracy - 0.1,
              upper: accuracy + 0.1,
              confidence: 0.95,
              resamples: 1000,
              seed: 0,
            },
          },
        },
        primaryScore: accuracy,
        truncatedResponses: 0,
      },
    ],
  } satisfies EvalResults;
};

async function fixture() {
  const input = fixtureRecipeInput();
  const [sft] = input["stages"] as Array<Record<string, unknown>>;
  input["stages"] = [sft, { ...structuredClone(sft), name: "polish" }];
  const machines = [{ cpu: "test", instructionSets: ["avx2"], threads: 2 }];
  const row = (after: string) => ({
    after,
    task: "fixture_gsm",
    metric: "accuracy",
    perSeed: Object.fromEntries([1, 2, 3, 4, 5].map((seed) => [String(seed), accuracyOf(after, seed)])),
    machines,
    codeVersion: "1.2.3",
    source: "synthetic",
  });
  input["expected"] = [row("sft"), row("polish")];
  input["claims"] = [
    {
      statement: "polish beats sft",
      task: "fixture_gsm",
      metric: "accuracy",
      better: "polish",
      worse: "sft",
    },
  ];
  const directory = await writeFixturePackage({ recipe: input });
  folders.push(directory);
  return { directory, loaded: await loadRecipe({ reference: directory }) };
}

describe("parseSeedList", () => {
  it("reads a count or a list, and refuses anything else", () => {
    expect(parseSeedList("5")).toEqual([1, 2, 3, 4, 5]);
    expect(parseSeedList("7, 3,11")).toEqual([7, 3, 11]);
    for (const bad of ["0", "1,1", "1,-2", "a", "1.5", ""])
      expect(() => parseSeedList(bad), bad).toThrow(/--seeds/);
  });
});

describe("runSeeds", () => {
  it("runs each seed in its folder, resumes a stopped multi-seed run where it stopped, and aggregates", async () => {
    const { directory, loaded } = await fixture();
    const runsDirectory = join(directory, "runs");
    const calls: string[] = [];
    const common = { loaded, runsDirectory, evaluate: seededEvaluator, log: () => {}, probes: false };
    const stopped = await runSeeds({
      ...common,
      seeds: [1, 2, 3],
      stageRunners: { sft: seededRunner(calls, { seed: 2, stage: "polish" }) },
    });
    expect(stopped.status).toBe("interrupted");
    expect(stopped.runs.map((run) => run.status)).toEqual(["completed", "interrupted", "pending"]);
    expect(stopped.expected).toBeNull();
    expect(stopped.recordedRows).toBeNull();
    expect(calls).toEqual(["1:sft", "1:polish", "2:sft", "2:polish"]);

    // Another seed list for the same run is refused; no list resumes the latest multi-seed run.
    await expect(
      runSeeds({ ...common, seeds: [1, 2], resume: true, stageRunners: { sft: seededRunner([]) } }),
    ).rejects.toMatchObject({ code: "run_state_mismatch" });
    const resumed = await runSeeds({ ...common, resume: true, stageRunners: { sft: seededRunner(calls) } });
    expect(resumed.runDirectory).toBe(stopped.runDirectory);
    // Seed 1 is read back, seed 2 continues after its finished sft stage, seed 3 runs.
    expect(calls.slice(4)).toEqual(["2:polish", "3:sft", "3:polish"]);
    expect(resumed.status).toBe("completed");

    const written = JSON.parse(
      await readFile(join(resumed.runDirectory, "summary.json"), "utf8"),
    ) as SeedsSummary;
    expect(written.kind).toBe("seeds");
    const sftRow = written.rows.find((row) => row.after === "sft")!;
    expect(sftRow.perSeed).toEqual({ "1": 0.51, "2": 0.52, "3": 0.53 });
    expect(sftRow.mean).toBeCloseTo(0.52, 10);
    expect(sftRow.standardDeviation).toBeCloseTo(0.01, 10);
    expect(sftRow.seedInterval?.lower).toBeLessThan(0.52);
    expect(sftRow.itemIntervals["2"]).toMatchObject({ lower: expect.closeTo(0.42, 10) });
    expect(sftRow.verdict).toMatchObject({ kind: "seeds", passed: true, observed: [0.51, 0.52, 0.53] });
    expect(written.claims[0]).toMatchObject({ status: "supported", seeds: [1, 2, 3] });
    expect(written.expected).toEqual({ passed: true, rows: 3, failed: 0 });
    // Every seed's models are recorded and differ between seeds.
    const hashes = written.runs.map((run) => run.modelSha256["sft"]);
    expect(new Set(hashes).size).toBe(3);
    expect(written.runs[1]?.modelSha256["polish"]).toMatch(/^[0-9a-f]{64}$/);
    // The rows these seeds record can be pasted into the recipe.
    expect(written.recordedRows?.[0]).toMatchObject({
      after: "sft",
      perSeed: { "1": 0.51, "2": 0.52, "3": 0.53 },
      codeVersion: "1.2.3",
    });
    expect(await readFile(join(resumed.runDirectory, "report.md"), "utf8")).toContain(
      "expected table: PASS (3/3 over 3 seeds)",
    );
    expect(existsSync(join(resumed.runDirectory, "seed-3", "report.md"))).toBe(true);
    const seedRecipe = JSON.parse(
      await readFile(join(resumed.runDirectory, "seed-3", "recipe.json"), "utf8"),
    );
    expect(seedRecipe.seed).toBe(3);
    expect(seedRecipe.model.seed).toBe(3);
    expect(
      seedRecipe.stages.map((stage: { hyperparameters: { seed: number } }) => stage.hyperparameters.seed),
    ).toEqual([3, 3]);

    // A damaged seeds.json is refused, naming the field.
    const damaged = join(runsDirectory, "fixture-1.2.3", "damaged-seeds");
    await mkdir(damaged, { recursive: true });
    await writeFile(join(damaged, "seeds.json"), JSON.stringify({ seeds: ["one"] }));
    await expect(
      runSeeds({ ...common, runId: "damaged-seeds", resume: true, stageRunners: { sft: seededRunner([]) } }),
    ).rejects.toThrow(/seeds\[0\]/);

    // `run --resume` (one seed) never mistakes the multi-seed folder for a single run.
    const single = await runRecipe({
      ...common,
      resume: true,
      seed: 2,
      stageRunners: { sft: seededRunner([]) },
    });
    expect(single.runDirectory).not.toBe(resumed.runDirectory);
    expect(single.runId).toMatch(/-seed-2$/);
  });
});
