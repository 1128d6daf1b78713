import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type ChatMessage, loadTokenizer, readTableBatches, rowsFromTable } from "@posttrain/data";
import { describe, expect, it } from "vitest";
import type { LoadedRecipe } from "./load.js";
import {
  alignColumns,
  formatPlan,
  planRecipe,
  probeEstimateSeconds,
  type RecipeProbe,
  type RolloutProbe,
  rolloutScale,
  type StageProbe,
  steadyStepSeconds,
} from "./plan.js";
import {
  expectedCompletionOf,
  type ProbeEvent,
  probeBlocker,
  probeRecipe,
  promptTokensOf,
  summarizeProbeEvents,
} from "./plan-probe.js";
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

describe("the RL probe's completion length", () => {
  const rollout: RolloutProbe = {
    generateSeconds: 1.2,
    optimizeSeconds: 2,
    completionTokens: 60,
    promptTokens: 30,
    maxNewTokens: 64,
  };
  const probe: StageProbe = {
    name: "rlvr",
    type: "rlvr",
    firstStepSeconds: 6,
    secondsPerStep: 3.4, // 1.2 generating + 2 optimizing + 0.2 of other work
    totalSteps: 240,
    probedSteps: 2,
    rollout,
    expectedCompletion: { tokens: 24, stage: "sft", conversations: 4000 },
  };

  it("reads the steady steps' generation and optimization seconds and completion length", () => {
    const rolloutEnd = (elapsed: number, generate: number, train: number, responseLength: number) => ({
      type: "step-end",
      elapsed,
      responseLength,
      seconds: { generate, verify: 0.01, train },
    });
    const summary = summarizeProbeEvents({
      name: "rlvr",
      type: "rlvr",
      maxNewTokens: 64,
      events: [
        {
          type: "log",
          message: "rlvr: 16 prompts × 8 samples per step, effective batch 32 completions, 240 steps",
        },
        rolloutEnd(5, 4, 3, 64), // the first step (graph compilation) is not a steady one
        rolloutEnd(8, 1, 2, 60),
        rolloutEnd(11.5, 1.4, 2.1, 62),
        rolloutEnd(14.5, 1.2, 1.7, 58),
      ],
    });
    expect(summary?.rollout).toEqual({
      generateSeconds: 1.2,
      optimizeSeconds: 2,
      completionTokens: 60,
      promptTokens: null,
      maxNewTokens: 64,
    });
    // Without the token limit (or without the figures) there is no rollout part.
    expect(summarizeProbeEvents({ name: "rlvr", type: "rlvr", events: stepEnds([1, 2, 3]) })?.rollout).toBe(
      undefined,
    );
    expect(
      summarizeProbeEvents({ name: "rlvr", type: "rlvr", maxNewTokens: 64, events: stepEnds([1, 2, 3]) })
        ?.rollout,
    ).toBe(undefined);
  });

  it("scales generation by generated tokens and optimization by prompt + completion tokens", () => {
    const scale = rolloutScale({ rollout, expectedCompletionTokens: 24 });
    expect(scale.generate).toBeCloseTo(24 / 60, 12);
    expect(scale.optimize).toBeCloseTo((30 + 24) / (30 + 60), 12);
    // An expectation past the token limit is capped there; an unknown prompt leaves optimization as probed.
    expect(rolloutScale({ rollout, expectedCompletionTokens: 500 }).generate).toBeCloseTo(64 / 60, 12);
    expect(
      rolloutScale({ rollout: { ...rollout, promptTokens: null }, expectedCompletionTokens: 24 }),
    ).toEqual({
      generate: 0.4,
      optimize: 1,
    });
  });

  it("rescales only the length-dependent parts of the steady step, and keeps start-up and the first step", () => {
    const steady = 0.2 + 1.2 * (24 / 60) + 2 * (54 / 90);
    expect(steadyStepSeconds({ probe })).toBeCloseTo(steady, 12);
    expect(probeEstimateSeconds({ probe, plannedSteps: null })).toBeCloseTo(6 + 239 * steady, 9);
    // No SFT stage before it (or no rollout figures): the probed step as it ran.
    expect(steadyStepSeconds({ probe: { ...probe, expectedCompletion: null } })).toBe(3.4);
    const { rollout: _, ...withoutRollout } = probe;
    expect(steadyStepSeconds({ probe: withoutRollout })).toBe(3.4);
  });

  it("puts the assumed completion length in the plan's table and notes, columns aligned", () => {
    const input = fixtureRecipeInput();
    input["stages"] = [...(input["stages"] as unknown[]), rlvrStageInput()];
    const recipe = defineRecipe(input as unknown as RecipeInput);
    const plan = planRecipe({ recipe, probe: { stages: [probe], notes: [] } });
    const rlvr = plan.stages.find((stage) => stage.name === "rlvr");
    expect(rlvr).toMatchObject({
      timeFrom: "probe",
      completion: { maxNewTokens: 64, expectedTokens: 24, expectedFrom: "sft", probedTokens: 60 },
    });
    expect(plan.stages[0]?.completion).toBeNull();
    const text = formatPlan(plan);
    expect(text).toContain(
      "completion (rlvr): 24.0 tokens, the mean assistant answer of stage sft's training data",
    );
    expect(text).toContain("generation × 0.40, optimization × 0.60");
    const table = text.split("\n").filter((line) => /^(stage|sft|rlvr)\s/.test(line));
    expect(table).toHaveLength(3);
    const header = table[0] as string;
    expect(table[2]?.indexOf("24.0/64 (sft)")).toBe(header.indexOf("completion"));
    expect(table[2]?.indexOf("(probe)")).toBeGreaterThan(header.indexOf("time"));
    expect(table[1]?.slice(header.indexOf("completion")).startsWith("- ")).toBe(true);
    // Without a probe an RL stage's cell says the limit it assumes.
    expect(formatPlan(planRecipe({ recipe }))).toMatch(/rlvr\s.*≤64/);
    expect(alignColumns([["a", "b"]])).toEqual(["a  b"]);
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

/** An RLVR stage over the fixture package's RLVR data (64-token rollouts). */
function rlvrStageInput(): Record<string, unknown> {
  return {
    name: "rlvr",
    type: "rlvr",
    data: { train: [{ kind: "local", directory: "data", config: "rlvr", split: "train" }], maxLength: 96 },
    hyperparameters: {
      seed: 1,
      batch: { devices: 1, perDeviceBatchSize: 32, gradientAccumulationSteps: 1 },
      steps: 240,
      rollouts: { promptsPerStep: 16, samplesPerPrompt: 8, temperature: 0.7, maxNewTokens: 64 },
      rewards: { verificationReward: 10, format: null, nonStopPenalty: null },
      advantages: "standard",
      filterZeroVarianceGroups: true,
      maskTruncatedCompletions: false,
      kl: { beta: 0.01, estimator: "k3" },
      clip: { low: 0.2, high: 0.2 },
      epochs: 2,
      learningRate: { peak: 5e-5, schedule: "constant", warmup: { steps: 3 } },
      adamW: { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0 },
      maxGradientNorm: 1,
      checkpointEverySteps: 20,
      monitor: null,
      verifierWorkers: 0,
      verifierTimeoutMilliseconds: 2000,
      lossChunks: 1,
      threads: 1,
    },
  };
}

describe("expectedCompletionOf", () => {
  it("is the mean assistant reply of the SFT stage before the RL stage, tokenized as its run does", async () => {
    const input = fixtureRecipeInput();
    input["stages"] = [...(input["stages"] as unknown[]), rlvrStageInput()];
    const directory = await writeFixturePackage({ recipe: input });
    try {
      const loaded = loadedFrom(input, directory);
      const expected = await expectedCompletionOf({ loaded, lock: null, stageIndex: 1 });
      // Independently: each conversation's tokens after its prompt (reply + end of turn).
      const tokenizer = await loadTokenizer({
        directory: join(directory, "tokenizer"),
        chatTemplate: "tulu",
      });
      let replies = 0;
      let conversations = 0;
      for await (const table of readTableBatches({
        path: join(directory, "data/sft/train-00000-of-00001.parquet"),
      }))
        for (const row of rowsFromTable(table)) {
          const messages = row["messages"] as ChatMessage[];
          const full = tokenizer.encode(
            tokenizer.applyChatTemplate({ messages, addGenerationPrompt: false }),
            {
              addSpecialTokens: false,
            },
          );
          const prompt = tokenizer.encode(
            tokenizer.applyChatTemplate({ messages: messages.slice(0, -1), addGenerationPrompt: true }),
            { addSpecialTokens: false },
          );
          replies += full.length - prompt.length;
          conversations += 1;
        }
      expect(expected?.stage).toBe("sft");
      expect(expected?.conversations).toBe(conversations);
      expect(expected?.tokens).toBeCloseTo(replies / conversations, 9);
      // The first stage has no SFT stage before it.
      expect(await expectedCompletionOf({ loaded, lock: null, stageIndex: 0 })).toBeNull();
      const prompts = await promptTokensOf({ loaded, lock: null, stage: loaded.recipe.stages[1]! });
      expect(prompts).toBeGreaterThan(5);
      expect(prompts).toBeLessThanOrEqual(96);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }, 120_000);
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
