import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { type EvalResults, taskHash } from "@posttrain/evals";
import { afterEach, describe, expect, it } from "vitest";
import { loadRecipe } from "./load.js";
import { runRecipe, type StageEvaluator } from "./runner.js";
import type { StageRunner } from "./stage-runners.js";
import type { RunSummary } from "./summary.js";
import { fixtureRecipeInput, writeFixturePackage } from "./test/index.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

/**
 * A stand-in trainer: logs step-end events like the real ones and writes a model folder; the
 * runner's ordering, fingerprints, skipping and summary are what is under test here (the real
 * trainers run in the micro recipe's smoke test).
 */
function recordingRunner(calls: string[], options: { interruptAt?: string } = {}): StageRunner {
  return async ({ stage, context, model }) => {
    calls.push(
      `${stage.name}<-${model.kind === "directory" ? model.directory.split("/").slice(-3).join("/") : "init"}`,
    );
    for (let step = 1; step <= 3; step += 1) {
      context.events.write({ type: "step-end", step, loss: 4 / step, learningRate: 0.001 * step });
    }
    context.events.write({ type: "evaluation", step: 3, loss: 1.5 });
    if (options.interruptAt === stage.name)
      return { status: "interrupted", modelDirectory: null, metrics: {} };
    const modelDirectory = join(context.directory, "model");
    const { mkdir, writeFile } = await import("node:fs/promises");
    await mkdir(modelDirectory, { recursive: true });
    await writeFile(join(modelDirectory, "config.json"), "{}");
    return { status: "completed", modelDirectory, metrics: { loss: 4 / 3 } };
  };
}

const fakeEvaluator =
  (accuracy: number): StageEvaluator =>
  async ({ recipe }) => {
    const task = recipe.evals.tasks[0];
    if (task === undefined) throw new Error("no task");
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
          metrics: { accuracy: { value: accuracy, standardError: 0.01, count: 100 } },
          primaryScore: accuracy,
          truncatedResponses: 0,
        },
      ],
    } satisfies EvalResults;
  };

async function fixture() {
  const input = fixtureRecipeInput() as { stages: Array<Record<string, unknown>> };
  const first = input.stages[0] as Record<string, unknown>;
  input.stages.push({ ...structuredClone(first), name: "sft-two" });
  const directory = await writeFixturePackage({ recipe: input });
  folders.push(directory);
  return { directory, loaded: await loadRecipe({ reference: directory }) };
}

describe("runRecipe", () => {
  it("runs stages in order, chains models, evaluates, checks the expected table and writes summary + reports", async () => {
    const { directory, loaded } = await fixture();
    const calls: string[] = [];
    const summary = await runRecipe({
      loaded,
      runsDirectory: join(directory, "runs"),
      runId: "first",
      stageRunners: { sft: recordingRunner(calls) },
      evaluate: fakeEvaluator(0.15),
      log: () => {},
    });
    expect(calls).toEqual(["sft<-init", "sft-two<-stages/1-sft/model"]);
    expect(summary.status).toBe("completed");
    expect(summary.runDirectory).toBe(join(directory, "runs", "fixture-1.2.3", "first"));
    expect(summary.stages.map((stage) => stage.status)).toEqual(["completed", "completed"]);
    expect(summary.stages[0]?.evals["fixture_gsm"]?.["accuracy"]?.confidenceInterval?.lower).toBeCloseTo(
      0.15 - 0.0196,
      6,
    );
    expect(summary.expected).toEqual({ passed: true, rows: 1, failed: 0 });
    expect(summary.stages[0]?.fingerprint).not.toBe(summary.stages[1]?.fingerprint);
    const written = JSON.parse(
      await readFile(join(summary.runDirectory, "summary.json"), "utf8"),
    ) as RunSummary;
    expect(written.stages[1]?.name).toBe("sft-two");
    for (const file of ["recipe.json", "recipe.lock.json", "environment.json", "report.html", "report.md"])
      expect(existsSync(join(summary.runDirectory, file))).toBe(true);
    const markdown = await readFile(join(summary.runDirectory, "report.md"), "utf8");
    expect(markdown).toContain("| sft | fixture_gsm | accuracy | 0.150 |");
    expect(markdown).toContain(
      "- loss: 4.000 (mean of the first 10%) → 1.333 (mean of the last 10%), too few points; 3 points, steps 1–3",
    );
    // journey-report: every stage model folder has a model card and a generation_config.json,
    // and the run streamed its stages into an MLflow file store.
    for (const stage of summary.stages) {
      const model = stage.modelDirectory as string;
      expect(await readFile(join(model, "README.md"), "utf8")).toContain(
        `stage ${stage.name} (${stage.type})`,
      );
      expect(existsSync(join(model, "generation_config.json"))).toBe(true);
    }
    expect(existsSync(join(summary.runDirectory, "mlruns"))).toBe(true);
    expect(summary.provenance?.seeds.root).toBe(summary.seed.root);
    const html = await readFile(join(summary.runDirectory, "report.html"), "utf8");
    expect(html).toContain("uPlot");
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(summary.probes?.find((probe) => probe.verifier === "gsm8k")?.passed).toBeGreaterThan(0);
  });

  it("fails the expected table outside the tolerance", async () => {
    const { directory, loaded } = await fixture();
    const summary = await runRecipe({
      loaded,
      runsDirectory: join(directory, "runs"),
      stageRunners: { sft: recordingRunner([]) },
      evaluate: fakeEvaluator(0.5),
      log: () => {},
      probes: false,
    });
    expect(summary.expected).toEqual({ passed: false, rows: 1, failed: 1 });
    expect(summary.stages[0]?.comparison?.rows[0]).toMatchObject({
      reason: "above_band",
      observed: [0.5],
    });
  });

  it("resumes an interrupted run: finished stages with matching fingerprints are skipped", async () => {
    const { directory, loaded } = await fixture();
    const runsDirectory = join(directory, "runs");
    const calls: string[] = [];
    const interrupted = await runRecipe({
      loaded,
      runsDirectory,
      runId: "a",
      stageRunners: { sft: recordingRunner(calls, { interruptAt: "sft-two" }) },
      evaluate: fakeEvaluator(0.15),
      log: () => {},
      probes: false,
    });
    expect(interrupted.status).toBe("interrupted");
    expect(interrupted.stages.map((stage) => stage.status)).toEqual(["completed", "interrupted"]);
    const evaluated: string[] = [];
    const countingEvaluator: StageEvaluator = async (evaluation) => {
      evaluated.push(evaluation.modelDirectory.split("/").slice(-3).join("/"));
      return fakeEvaluator(0.15)(evaluation);
    };
    const lines: string[] = [];
    const resumed = await runRecipe({
      loaded,
      runsDirectory,
      resume: true,
      stageRunners: { sft: recordingRunner(calls) },
      evaluate: countingEvaluator,
      log: (line) => lines.push(line),
      probes: false,
    });
    expect(resumed.runId).toBe("a");
    expect(resumed.stages.map((stage) => stage.status)).toEqual(["skipped", "completed"]);
    expect(calls).toEqual(["sft<-init", "sft-two<-stages/1-sft/model", "sft-two<-stages/1-sft/model"]);
    // The finished stage's evals are reused from its record, not generated again.
    expect(evaluated).toEqual(["stages/2-sft-two/model"]);
    expect(lines).toContain("stage sft: evals recorded earlier for this model, reused");
    expect(resumed.stages[0]?.evals).toEqual(interrupted.stages[0]?.evals);
    expect(resumed.expected).toEqual({ passed: true, rows: 1, failed: 0 });

    // MLflow: the resumed stage and the resumed run continue their runs (one of each name, the
    // stage's loss curve holding the points of both attempts, status back to FINISHED).
    const store = join(resumed.runDirectory, "mlruns");
    const experiment = readdirSync(store).find((entry) => entry !== "0") as string;
    const runs = readdirSync(join(store, experiment)).filter((entry) => entry !== "meta.yaml");
    const metas = runs.map((id) => ({
      id,
      meta: readFileSync(join(store, experiment, id, "meta.yaml"), "utf8"),
    }));
    const named = (name: string) => metas.filter(({ meta }) => meta.includes(`run_name: '${name}'`));
    expect(named("a")).toHaveLength(1);
    expect(named("1-sft")).toHaveLength(1);
    expect(named("2-sft-two")).toHaveLength(1);
    const second = named("2-sft-two")[0] as { id: string; meta: string };
    expect(second.meta).toMatch(/^status: 3$/m);
    const loss = readFileSync(join(store, experiment, second.id, "metrics", "loss"), "utf8")
      .trim()
      .split("\n");
    expect(loss.map((line) => line.split(" ")[2])).toEqual(["1", "2", "3", "1", "2", "3"]);
  });

  it("an interrupt between stages stops the run as interrupted, not failed", async () => {
    const { directory, loaded } = await fixture();
    const controller = new AbortController();
    const summary = await runRecipe({
      loaded,
      runsDirectory: join(directory, "runs"),
      runId: "stopped",
      signal: controller.signal,
      stageRunners: { sft: recordingRunner([]) },
      evaluate: async () => {
        controller.abort();
        throw new Error("aborted while generating");
      },
      log: () => {},
      probes: false,
    });
    expect(summary.status).toBe("interrupted");
    expect(summary.stages.map((stage) => stage.status)).toEqual(["interrupted", "pending"]);
  });

  it("--resume of a run that does not exist is run_not_found listing the runs; a path-like id is refused", async () => {
    const { directory, loaded } = await fixture();
    const runsDirectory = join(directory, "runs");
    const common = {
      loaded,
      runsDirectory,
      stageRunners: { sft: recordingRunner([]) },
      evaluate: fakeEvaluator(0.15),
      log: () => {},
      probes: false,
    };
    await runRecipe({ ...common, runId: "20260101-000000Z" });
    const missing = await runRecipe({ ...common, resume: true, runId: "20990101-000000Z" }).catch(
      (error: unknown) => error,
    );
    expect(missing).toMatchObject({ code: "run_not_found", details: { existing: ["20260101-000000Z"] } });
    expect((missing as Error).message).toContain("existing runs: 20260101-000000Z");
    expect(existsSync(join(runsDirectory, "fixture-1.2.3", "20990101-000000Z"))).toBe(false);
    for (const runId of ["../../escaped", "a/b", "..", "a\\b"])
      await expect(runRecipe({ ...common, resume: true, runId })).rejects.toMatchObject({
        code: "run_id_invalid",
      });
    expect(existsSync(join(directory, "escaped"))).toBe(false);
  });

  it("fails clearly with stage_unavailable for a stage type without a trainer, and still writes the summary", async () => {
    const { directory, loaded } = await fixture();
    const failing: StageRunner = async () => {
      const { RecipeError } = await import("./errors.js");
      throw new RecipeError({ code: "stage_unavailable", message: "no trainer" });
    };
    const error = await runRecipe({
      loaded,
      runsDirectory: join(directory, "runs"),
      runId: "x",
      stageRunners: { sft: failing },
      evaluate: fakeEvaluator(0.15),
      log: () => {},
      probes: false,
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "stage_unavailable" });
    const summary = JSON.parse(
      await readFile(join(directory, "runs", "fixture-1.2.3", "x", "summary.json"), "utf8"),
    ) as RunSummary;
    expect(summary.status).toBe("failed");
    expect(summary.stages[0]?.error?.code).toBe("stage_unavailable");
  });
});
