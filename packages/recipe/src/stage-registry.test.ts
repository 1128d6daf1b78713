import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseWithSchema, readEvents } from "@posttrain/core";
import { type CacheManifest, int32Row, readTokenizedShards } from "@posttrain/data";
import { type EvalResults, taskHash } from "@posttrain/evals";
import {
  GraphTrainer,
  loadTrainingModel,
  openRunCheckpoints,
  parseModelSource,
  recordResolvedConfig,
  runTrainingLoop,
  type StageDefinition,
} from "@posttrain/training";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadRecipe } from "./load.js";
import { runRecipe, type StageEvaluator } from "./runner.js";
import type { Stage } from "./schema.js";
import { getStage, stageRegistry } from "./stage-registry.js";
import { fixtureRecipeInput, writeFixturePackage } from "./test/index.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

/** The toy stage's trainer: the model's weights, stepped by the stage itself (no graph). */
class ScalingTrainer extends GraphTrainer {
  constructor(params: { parameterSpecs: GraphTrainer["layout"]["entries"]; parameters: Float32Array }) {
    super({
      parameterSpecs: params.parameterSpecs.map((entry) => ({
        name: entry.name,
        shape: entry.shape,
        init: "normal",
      })),
      parameters: params.parameters,
      adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    });
  }
}

const toyConfig = z.strictObject({ steps: z.number().int().positive(), scale: z.number().positive() });

/**
 * A stage that exists only in this test, written against the public seam alone: it reads SFT
 * rows from the prepared dataset, multiplies every weight by `scale` once per step through the
 * shared training loop, and reports the mean input length of the rows it visited.
 */
const scalingStage: StageDefinition<Int32Array, { lastStep: { step: number; meanLength: number } | null }> = {
  name: "scale",
  version: "1",
  description: "multiplies every weight by a constant per step (a test stage)",
  configSchema: toyConfig,
  rows: {
    format: "sft",
    tokenizedColumn: "input_ids",
    tokenizedSchema: z
      .object({ input_ids: z.array(z.number().int()) })
      .transform((row) => Int32Array.from(row.input_ids)),
    readPrepared: async (prepared: { directory: string; manifest: CacheManifest }) => {
      const rows: Int32Array[] = [];
      for await (const table of readTokenizedShards(prepared))
        for (let row = 0; row < table.numRows; row += 1) rows.push(int32Row(table, "input_ids", row));
      return rows;
    },
    fromTokenized: (record: { inputIds: Int32Array }) => record.inputIds,
  },
  needsTokenizer: false,
  generation: false,
  stepMetricNames: ["meanLength"],
  train: async (params) => {
    const config = parseWithSchema({ schema: toyConfig, value: params.config, label: "scale config" });
    const model = await loadTrainingModel({ source: parseModelSource(params.model) });
    const trainer = new ScalingTrainer({
      parameterSpecs: model.layout.entries,
      parameters: model.parameters,
    });
    const configKey = await recordResolvedConfig({
      context: params.context,
      resolved: { stage: "scale", config },
    });
    const checkpoints = await openRunCheckpoints({
      context: params.context,
      stage: "scale",
      trainer: trainer.asCheckpointTarget(),
      configKey,
    });
    return runTrainingLoop({
      context: params.context,
      label: "scale",
      trainer,
      model,
      totalSteps: config.steps,
      checkpoints,
      checkpointEverySteps: 1,
      runStep: async ({ step }) => {
        for (let index = 0; index < trainer.parameters.length; index += 1)
          trainer.parameters[index]! *= config.scale;
        const row = params.data.train[step % params.data.train.length]!;
        return { metrics: { step: step + 1, meanLength: row.length }, progress: {} };
      },
      metrics: (lastStep) => ({ lastStep }),
    });
  },
  summaryMetrics: (metrics) => ({ meanLength: metrics.lastStep?.meanLength ?? null }),
};

const fakeEvaluator: StageEvaluator = async ({ recipe }) => {
  const task = recipe.evals.tasks[0];
  if (task === undefined || typeof task === "string") throw new Error("the fixture has one full task");
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
        count: 10,
        limit: null,
        metrics: { accuracy: { value: 0.2, standardError: 0.1, count: 10 } },
        primaryScore: 0.2,
        truncatedResponses: 0,
      },
    ],
  } satisfies EvalResults;
};

describe("stageRegistry", () => {
  it("holds sft, dpo and rlvr, each with the schema the recipe validates it by", () => {
    expect([...stageRegistry.keys()]).toEqual(["sft", "dpo", "rlvr"]);
    for (const definition of stageRegistry.values()) {
      expect(definition.stepMetricNames.length).toBeGreaterThan(0);
      expect(typeof definition.rows.readPrepared).toBe("function");
    }
    expect(getStage({ name: "rlvr" }).needsTokenizer).toBe(true);
    expect(() => getStage({ name: "ppo" })).toThrow(/no stage "ppo": the stages are sft, dpo, rlvr/);
  });

  it("runs a stage registered through StageDefinition inside a recipe, with no change to the runner", async () => {
    const input = fixtureRecipeInput() as { stages: Array<Record<string, unknown>> };
    const directory = await writeFixturePackage({ recipe: input });
    folders.push(directory);
    const loaded = await loadRecipe({ reference: directory });
    // The shipped recipe schema knows the shipped stages; a stage from elsewhere is validated
    // by its own configSchema when it trains.
    const sft = loaded.recipe.stages[0]!;
    const scaled = {
      ...sft,
      name: "scaled",
      type: "scale",
      data: { ...sft.data, train: sft.data.train.map((spec) => ({ ...spec, split: "test" })) },
      hyperparameters: { steps: 3, scale: 0.5 },
    } as unknown as Stage;
    const summary = await runRecipe({
      loaded: { ...loaded, recipe: { ...loaded.recipe, stages: [scaled], expected: [] } },
      runsDirectory: join(directory, "runs"),
      runId: "scaled",
      relock: true,
      probes: false,
      log: () => {},
      progressMode: "silent",
      stageRegistry: new Map([...stageRegistry, [scalingStage.name, scalingStage]]),
      evaluate: fakeEvaluator,
    });
    expect(summary.status).toBe("completed");
    const stage = summary.stages[0]!;
    expect(stage).toMatchObject({ name: "scaled", type: "scale", status: "completed" });
    // The stage read the prepared SFT test split through its own row reader.
    expect(stage.trainingMetrics["meanLength"]).toBeGreaterThan(10);
    const initial = await loadTrainingModel({ source: parseModelSource(loaded.recipe.model) });
    const trained = await loadTrainingModel({
      source: { kind: "directory", directory: stage.modelDirectory! },
    });
    expect(trained.parameters[0]).toBe(Math.fround(initial.parameters[0]! * 0.125));
    const { events } = readEvents({ path: join(summary.runDirectory, "stages", "1-scaled", "events.jsonl") });
    expect(events.filter((event) => event.type === "step-end")).toHaveLength(3);
    const resolved = JSON.parse(
      await readFile(join(summary.runDirectory, "stages", "1-scaled", "config.json"), "utf8"),
    );
    expect(resolved).toEqual({ stage: "scale", config: { steps: 3, scale: 0.5 } });
    // Without the stage in the registry the same recipe fails by name.
    await expect(
      runRecipe({
        loaded: { ...loaded, recipe: { ...loaded.recipe, stages: [scaled], expected: [] } },
        runsDirectory: join(directory, "runs"),
        runId: "unregistered",
        relock: true,
        probes: false,
        log: () => {},
        progressMode: "silent",
        evaluate: fakeEvaluator,
      }),
    ).rejects.toMatchObject({ code: "stage_unavailable", message: expect.stringMatching(/type scale/) });
  }, 120_000);
});
