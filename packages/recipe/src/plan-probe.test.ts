import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import type { LoadedRecipe } from "./load.js";
import { formatPlan, planRecipe, probeEstimateSeconds, type RecipeProbe } from "./plan.js";
import { type ProbeEvent, probeBlocker, probeRecipe, summarizeProbeEvents } from "./plan-probe.js";
import { defineRecipe, type RecipeInput } from "./schema.js";
import type { StageRunner, StageRunParams } from "./stage-runners.js";
import { fixtureRecipeInput, writeFixturePackage } from "./test/index.js";

const stepEnds = (elapsed: readonly number[]): ProbeEvent[] =>
  elapsed.map((value, index) => ({ type: "step-end", step: index + 1, elapsed: value }));

describe("summarizeProbeEvents", () => {
  it("takes the first step's end, the median later gap and the trainer's step count", () => {
    const probe = summarizeProbeEvents({
      name: "sft",
      type: "sft",
      events: [
        { type: "log", message: "sft: effective batch 8 (1 device × 8 × 1), 246 steps, reduction sum" },
        ...stepEnds([2.5, 2.7, 3.1, 3.3]),
      ],
    });
    expect(probe).toMatchObject({ firstStepSeconds: 2.5, totalSteps: 246, probedSteps: 4 });
    expect(probe?.secondsPerStep).toBeCloseTo(0.2, 9); // gaps 0.2, 0.4, 0.2
  });

  it("has no steady time from one step, and no step count when the trainer did not say", () => {
    expect(summarizeProbeEvents({ name: "sft", type: "sft", events: stepEnds([1]) })).toBeNull();
    expect(summarizeProbeEvents({ name: "x", type: "dpo", events: stepEnds([1, 2]) })?.totalSteps).toBeNull();
  });
});

describe("probeEstimateSeconds", () => {
  const probe = {
    name: "rlvr",
    type: "rlvr" as const,
    firstStepSeconds: 5,
    secondsPerStep: 2,
    totalSteps: 120,
    probedSteps: 3,
  };

  it("is start-up plus the remaining steps at the steady rate", () => {
    expect(probeEstimateSeconds({ probe, plannedSteps: 7 })).toBe(5 + 119 * 2);
  });

  it("uses the planned steps when the trainer gave no count, and has none without either", () => {
    expect(probeEstimateSeconds({ probe: { ...probe, totalSteps: null }, plannedSteps: 10 })).toBe(5 + 9 * 2);
    expect(probeEstimateSeconds({ probe: { ...probe, totalSteps: null }, plannedSteps: null })).toBeNull();
  });
});

describe("planRecipe with a probe", () => {
  const recipe = defineRecipe(fixtureRecipeInput() as unknown as RecipeInput);
  const lock = {
    datasets: { "sft.train[0]": { kind: "local", directory: "data", expect: { rows: 400, files: [] } } },
  } as never;
  const probe: RecipeProbe = {
    stages: [
      { name: "sft", type: "sft", firstStepSeconds: 3, secondsPerStep: 0.5, totalSteps: 40, probedSteps: 4 },
    ],
    notes: [],
  };

  it("times a probed stage from its probe, not from the MatMul assumption, and shows its steps", () => {
    const plan = planRecipe({ recipe, lock, probe, throughput: { matmulGflops: 10, efficiency: 0.5 } });
    expect(plan.stages[0]).toMatchObject({ timeFrom: "probe", steps: 40 });
    expect(plan.stages[0]?.estimatedSeconds).toBeCloseTo(3 + 39 * 0.5, 9);
    expect(plan.totalSeconds).toBeCloseTo(22.5, 9);
    const text = formatPlan(plan);
    expect(text).toContain("time (probe): the first steps of each stage run here just now (sft 4)");
    expect(text).not.toContain("time (matmul)");
  });

  it("earlier runs of the same variant still come first", () => {
    const plan = planRecipe({
      recipe,
      lock,
      probe,
      calibration: { flopsPerSecond: { sft: 1e12 }, runs: ["a"] },
    });
    expect(plan.stages[0]?.timeFrom).toBe("runs");
  });

  it("without a probe the steps come from rows and the effective batch", () => {
    // 400 rows × 1 epoch ÷ (8 per device × 2 accumulation steps)
    expect(planRecipe({ recipe, lock }).stages[0]?.steps).toBe(25);
  });
});

/** A stage runner that writes a step every call of the loop until it is asked to stop (at most 50). */
function fakeRunner(seen: StageRunParams[]): StageRunner {
  return async (params) => {
    seen.push(params);
    params.context.log(`${params.stage.name}: effective batch 8, 99 steps`);
    let step = 0;
    while (!params.context.signal.aborted && step < 50) {
      step += 1;
      params.context.events.write({ type: "step-end", step });
    }
    return {
      status: params.context.signal.aborted ? "interrupted" : "completed",
      modelDirectory: null,
      metrics: {},
    };
  };
}

function loadedFrom(recipeInput: Record<string, unknown>, packageDirectory = "/nonexistent"): LoadedRecipe {
  return {
    recipe: defineRecipe(recipeInput as unknown as RecipeInput),
    packageDirectory,
    modulePath: "/nonexistent/recipe.js",
    packageName: null,
    packageVersion: null,
    variant: null,
  };
}

describe("probeRecipe", () => {
  it("stops each stage after the probe's steps and reads the trainer's step count", async () => {
    const seen: StageRunParams[] = [];
    const probe = await probeRecipe({
      loaded: loadedFrom(fixtureRecipeInput()),
      lock: null,
      steps: 3,
      runners: { sft: fakeRunner(seen) },
    });
    expect(probe.notes).toEqual([]);
    expect(probe.stages).toEqual([expect.objectContaining({ name: "sft", probedSteps: 3, totalSteps: 99 })]);
    // It ran in a scratch folder that is gone now, from the recipe's freshly initialised model.
    expect(seen[0]?.model).toMatchObject({ kind: "initialize", seed: 3 });
    expect(existsSync(seen[0]?.context.directory as string)).toBe(false);
  });

  it("probes RLVR training on every completion, and DPO with its reference cache in the scratch folder", async () => {
    const input = fixtureRecipeInput();
    const base = (input["stages"] as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
    input["stages"] = [
      base,
      {
        ...base,
        name: "dpo",
        type: "dpo",
        data: {
          train: [{ kind: "local", directory: "data", config: "preference", split: "train" }],
          maxLength: 64,
        },
        hyperparameters: {
          ...Object.fromEntries(
            Object.entries(base["hyperparameters"] as object).filter(([key]) => key !== "reduction"),
          ),
          loss: { type: "dpo", beta: 0.1, labelSmoothing: 0, gammaBetaRatio: 0.3 },
          referenceCacheDirectory: null,
        },
      },
    ];
    const seen: StageRunParams[] = [];
    const runner = fakeRunner(seen);
    const loaded = loadedFrom(input);
    const probe = await probeRecipe({ loaded, lock: null, steps: 2, runners: { sft: runner, dpo: runner } });
    expect(probe.stages.map((stage) => stage.name)).toEqual(["sft", "dpo"]);
    const dpo = seen[1]?.stage;
    expect(dpo?.type === "dpo" && dpo.hyperparameters.referenceCacheDirectory).toMatch(
      /posttrain-plan-probe-/,
    );
  });

  it("says why it probes nothing for a Hub model, and leaves out a stage with Hub data", async () => {
    const hub = fixtureRecipeInput();
    hub["model"] = {
      kind: "hub",
      repo: "org/model",
      revision: "main",
      architecture: (fixtureRecipeInput()["model"] as { config: unknown }).config,
    };
    const loadedHub = loadedFrom(hub);
    const blocker = probeBlocker({ loaded: loadedHub });
    expect(blocker).toContain("Hub");
    expect(await probeRecipe({ loaded: loadedHub, lock: null })).toEqual({
      stages: [],
      notes: [`not probed: ${blocker}`],
    });

    const hubData = fixtureRecipeInput();
    const stage = (hubData["stages"] as Array<{ data: { train: unknown[] } }>)[0];
    if (stage !== undefined)
      stage.data.train = [{ kind: "hub", repo: "org/data", revision: "main", split: "train" }];
    const seen: StageRunParams[] = [];
    const probe = await probeRecipe({
      loaded: loadedFrom(hubData),
      lock: null,
      runners: { sft: fakeRunner(seen) },
    });
    expect(probe).toEqual({ stages: [], notes: ["sft not probed: its data comes from the Hub"] });
    expect(seen).toEqual([]);
  });

  it("runs the real SFT trainer's first steps and stops it there", async () => {
    const directory = await writeFixturePackage();
    try {
      const probe = await probeRecipe({
        loaded: loadedFrom(fixtureRecipeInput(), directory),
        lock: null,
        steps: 2,
      });
      expect(probe.notes).toEqual([]);
      const sft = probe.stages[0];
      expect(sft?.probedSteps).toBe(2);
      // The trainer counted every step of the full stage (far more than the two it ran).
      expect(sft?.totalSteps).toBeGreaterThan(10);
      expect(sft?.secondsPerStep).toBeGreaterThan(0);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }, 120_000);
});
