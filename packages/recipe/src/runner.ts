/**
 * The runner: verifies the lock, then runs the stages in order in
 * `runs/<recipe>-<version>/<run-id>/`, each in its own folder with a RunContext, evaluates
 * each stage's output with the recipe's eval suite, checks the expected table and writes
 * `summary.json`, `report.html` and `report.md`.
 *
 * Every stage's fingerprint covers its hyperparameters, its locked data, the tokenizer and
 * chat template, the seed and the fingerprint of its input model (the previous stage's), so a
 * change upstream changes every stage after it. A finished stage whose recorded fingerprint
 * matches is skipped; `resume` continues the latest (or named) run, and an unfinished stage
 * continues from its last checkpoint (the trainers resume from `<stage>/checkpoints`).
 */

import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { cp, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import {
  createEventLog,
  createRunContext,
  fingerprint,
  PosttrainError,
  type ProgressParams,
  writeJsonAtomic,
} from "@posttrain/core";
import type { DatasetSpec } from "@posttrain/data";
import {
  createEmbeddedBackend,
  createEmbeddedToolBackend,
  type EvalResults,
  runEval,
  type TaskResult,
} from "@posttrain/evals";
import { type HubOverrides, snapshotRepo } from "@posttrain/hub";
import { runProbes } from "@posttrain/verifiers";
import { z } from "zod";
import { describeEnvironment } from "./environment.js";
import { RecipeError } from "./errors.js";
import type { LoadedRecipe } from "./load.js";
import { type RecipeLock, verifyLock } from "./lock.js";
import { describeProvenance } from "./provenance.js";
import { collectWarnings, writeReports } from "./report.js";
import { type Recipe, type Stage, withRootSeed } from "./schema.js";
import { writeStageModelFiles } from "./stage-card.js";
import type { StageRegistry } from "./stage-registry.js";
import { type StageModelSource, type StageRunner, stageRunnersOf } from "./stage-runners.js";
import type { EvalMetricSummary, RunSummary, StageSummary } from "./summary.js";
import { createTracker, type TrackedRun, trackedEventLog, trackingKey } from "./tracking.js";
import { judgeExpected } from "./verdict.js";

/** Evaluates one model folder on the recipe's tasks (injectable for tests). */
export type StageEvaluator = (params: {
  recipe: Recipe;
  modelDirectory: string;
  packageDirectory: string;
  outputDirectory: string;
  signal: AbortSignal;
}) => Promise<EvalResults>;

export interface RunRecipeParams {
  loaded: LoadedRecipe;
  /** Default: `./runs`. */
  runsDirectory?: string;
  /** Default: a new id (UTC time); with `resume`, the latest run. */
  runId?: string;
  resume?: boolean;
  relock?: boolean;
  signal?: AbortSignal;
  progressMode?: ProgressParams["mode"];
  /** The stages a recipe may name (default: `stageRegistry`); a test or a plugin adds its own. */
  stageRegistry?: StageRegistry;
  /** Replaces the runner of a stage type (tests of the runner itself). */
  stageRunners?: Partial<Record<string, StageRunner>>;
  evaluate?: StageEvaluator;
  hub?: HubOverrides;
  /** Run the verifier probe table for the report (default true). */
  probes?: boolean;
  /** Lines for the user (default: stderr). */
  log?: (message: string) => void;
  /**
   * One root seed for every seed of the recipe ({@link withRootSeed}); recorded in the run
   * folder (recipe.json), summary.json and the report. Default: the recipe's own seeds.
   */
  seed?: number;
  /** Run in exactly this folder (a multi-seed run's `seed-<N>/`) instead of `<runs>/<recipe>-<version>/<run-id>`. */
  runDirectory?: string;
  /** Every root seed of the multi-seed run this run is one of (recorded in the provenance). */
  seeds?: readonly number[];
}

/**
 * The bootstrap seed of every eval interval, as `posttrain eval`'s default: the item-level CI
 * of a model's answers is then the same number in the run report and in `posttrain eval`, and
 * does not move with the run's seed.
 */
export const evalBootstrapSeed = 0;

const tokenizerFiles = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.json",
  "merges.txt",
  "generation_config.json",
];

/** The embedded backend over the stage's model folder, one task at a time. */
export const embeddedEvaluator: StageEvaluator = async (params) => {
  const template = params.recipe.tokenizer.chatTemplate;
  const backend = await createEmbeddedBackend({
    modelDirectory: params.modelDirectory,
    ...(typeof template === "string" && template !== "tokenizer" ? { chatTemplate: template } : {}),
  });
  try {
    const tasks: TaskResult[] = [];
    let first: EvalResults | null = null;
    for (const task of params.recipe.evals.tasks) {
      const results = await runEval({
        task,
        backend,
        baseDirectory: params.packageDirectory,
        outputDirectory: join(params.outputDirectory, task.name),
        seed: evalBootstrapSeed,
        signal: params.signal,
        // Tasks that allow tools run a second, multi-turn pass on the same model (`<task>+tools`).
        toolBackend: () =>
          createEmbeddedToolBackend({
            modelDirectory: params.modelDirectory,
            ...(typeof template === "string" && template !== "tokenizer" ? { chatTemplate: template } : {}),
          }),
        ...(params.recipe.evals.limit === undefined ? {} : { limit: params.recipe.evals.limit }),
      });
      first ??= results;
      tasks.push(...results.tasks);
    }
    if (first === null)
      throw new RecipeError({ code: "stage_failed", message: "the eval suite has no tasks" });
    return { ...first, tasks };
  } finally {
    await backend.close?.();
  }
};

/** A new run id: the UTC time to the second (`20261206-184500Z`), so run folders sort by start. */
export function newRunId(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")
    .replace("T", "-");
}

/**
 * A run id as `--resume` takes it: one plain folder name (letters, digits, `.`, `_`, `-`), never
 * a path (`/`, `\\`) or `..`, so a run never lands outside its recipe's folder under `--runs`.
 */
export function assertRunId(runId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId) || runId.includes(".."))
    throw new RecipeError({
      code: "run_id_invalid",
      message: `run id ${JSON.stringify(runId)} is not a run folder name (letters, digits, '.', '_', '-'; no path separators or '..')`,
      details: { runId },
    });
}

/** The single runs (not multi-seed folders) in a recipe's folder, oldest first. */
export async function listRunIds(directory: string): Promise<string[]> {
  if (!existsSync(directory)) return [];
  return (await readdir(directory, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && !existsSync(join(directory, entry.name, "seeds.json")))
    .map((entry) => entry.name)
    .sort();
}

/**
 * The latest single run in a recipe's folder (multi-seed folders, which hold `seeds.json`, are
 * not single runs); with `seed`, the latest run of that root seed (`…-seed-<N>`).
 */
async function latestRunId(directory: string, seed?: number): Promise<string | null> {
  if (!existsSync(directory)) return null;
  const entries = (await readdir(directory, { withFileTypes: true })).filter(
    (entry) =>
      entry.isDirectory() &&
      !existsSync(join(directory, entry.name, "seeds.json")) &&
      (seed === undefined || entry.name.endsWith(`-seed-${seed}`)),
  );
  return (
    entries
      .map((entry) => entry.name)
      .sort()
      .at(-1) ?? null
  );
}

function summarizeEstimates(task: TaskResult): Record<string, EvalMetricSummary> {
  const metrics: Record<string, EvalMetricSummary> = {};
  for (const [name, estimate] of Object.entries(task.metrics)) {
    const interval =
      estimate.confidenceInterval !== undefined
        ? { lower: estimate.confidenceInterval.lower, upper: estimate.confidenceInterval.upper }
        : estimate.standardError === null
          ? null
          : {
              lower: estimate.value - 1.96 * estimate.standardError,
              upper: estimate.value + 1.96 * estimate.standardError,
            };
    metrics[name] = {
      value: estimate.value,
      standardError: estimate.standardError,
      confidenceInterval: interval,
      count: estimate.count,
    };
  }
  return metrics;
}

/**
 * SHA-256 over a model folder's files (name and bytes, sorted by name), tokenizer files,
 * generation_config.json and the README.md model card excluded.
 */
export async function modelHash(params: { directory: string }): Promise<string> {
  const hash = createHash("sha256");
  const files = (await readdir(params.directory, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && !tokenizerFiles.includes(entry.name) && entry.name !== "README.md")
    .map((entry) => entry.name)
    .sort();
  for (const file of files) {
    hash.update(`${file}\0`);
    for await (const chunk of createReadStream(join(params.directory, file))) hash.update(chunk as Buffer);
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** A stage's value of `metric` on `task` (`primary_score`: the task's primary metric); null when not evaluated. */
export function observedMetric(params: {
  recipe: Recipe;
  stage: StageSummary;
  task: string;
  metric: string;
}): number | null {
  const metric =
    params.metric === "primary_score"
      ? (params.recipe.evals.tasks.find((task) => task.name === params.task)?.primaryMetric ?? params.metric)
      : params.metric;
  return params.stage.evals[params.task]?.[metric]?.value ?? null;
}

interface StageRecord {
  fingerprint: string;
  status: "completed";
  wallSeconds: number;
  modelDirectory: string;
  trainingMetrics: Record<string, number | null>;
}

/** `evals/<stage>/eval-record.json`: the results of one model on one suite, reused on resume. */
interface EvalRecord {
  /** Over the recipe's eval suite and the model's SHA-256. */
  fingerprint: string;
  wallSeconds: number;
  results: EvalResults;
}

const evalRecordSchema = z.object({
  fingerprint: z.string(),
  wallSeconds: z.number(),
  results: z
    .object({ tasks: z.array(z.object({ task: z.object({ name: z.string() }).loose() }).loose()) })
    .loose(),
});

/** The recorded evals, or null when absent or unreadable (they are then run again). */
async function readEvalRecord(path: string): Promise<EvalRecord | null> {
  const value = await readJson<unknown>(path);
  const parsed = evalRecordSchema.safeParse(value);
  return parsed.success ? (value as EvalRecord) : null;
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return null;
  }
}

async function tokenizerDirectoryOf(params: {
  recipe: Recipe;
  lock: RecipeLock;
  packageDirectory: string;
  hub: HubOverrides | undefined;
}): Promise<string> {
  const source = params.lock.tokenizer.source;
  if (source.kind === "local") return resolve(params.packageDirectory, source.directory);
  const snapshot = await snapshotRepo({
    ...params.hub,
    repo: { type: "model", name: source.repo },
    revision: source.revision,
    include: params.lock.tokenizer.files.map((file) => file.path),
  });
  return snapshot.directory;
}

async function baseModelOf(params: {
  recipe: Recipe;
  lock: RecipeLock;
  hub: HubOverrides | undefined;
}): Promise<StageModelSource> {
  const { recipe, lock } = params;
  if (recipe.model.kind === "initialize") {
    return {
      kind: "initialize",
      config: recipe.model.config as Record<string, unknown>,
      seed: recipe.model.seed,
    };
  }
  if (lock.model.kind !== "hub")
    throw new RecipeError({ code: "recipe_lock_mismatch", message: "the lock's model is not a Hub model" });
  const snapshot = await snapshotRepo({
    ...params.hub,
    repo: { type: "model", name: lock.model.repo },
    revision: lock.model.revision,
  });
  return { kind: "directory", directory: snapshot.directory };
}

/** A stage's hyperparameters as MLflow params (dotted keys). */
function logStageParams(run: TrackedRun, stage: Stage): void {
  const visit = (prefix: string, value: unknown) => {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value))
        visit(prefix === "" ? key : `${prefix}.${key}`, inner);
    } else run.logParam({ key: trackingKey(prefix), value: JSON.stringify(value) });
  };
  visit("", stage.hyperparameters);
  run.setTag({ key: "posttrain.stageType", value: stage.type });
}

/** Runs (or resumes) a recipe; returns the summary (also written as summary.json). */
export async function runRecipe(params: RunRecipeParams): Promise<RunSummary> {
  const { loaded } = params;
  const { packageDirectory } = loaded;
  const recipe =
    params.seed === undefined ? loaded.recipe : withRootSeed({ recipe: loaded.recipe, seed: params.seed });
  const log = params.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const signal = params.signal ?? new AbortController().signal;
  const started = Date.now();
  const startedAt = new Date(started).toISOString();

  const { lock, written, notes } = await verifyLock({
    loaded,
    ...(params.relock === undefined ? {} : { relock: params.relock }),
    ...(params.hub === undefined ? {} : { hub: params.hub }),
  });
  if (written) log(`wrote the lock for ${recipe.name}`);
  for (const note of notes)
    log(
      `note: ${note.path} changed since the lock (${JSON.stringify(note.locked)} → ${JSON.stringify(note.current)})`,
    );

  const recipeDirectory = resolve(
    params.runsDirectory ?? "runs",
    `${recipe.name}-${recipe.version}${loaded.variant === null ? "" : `-${loaded.variant}`}`,
  );
  const seedSuffix = params.seed === undefined ? "" : `-seed-${params.seed}`;
  if (params.runId !== undefined) assertRunId(params.runId);
  if (params.runDirectory === undefined && params.resume === true && params.runId !== undefined) {
    if (!existsSync(join(recipeDirectory, params.runId, "recipe.json"))) {
      const existing = await listRunIds(recipeDirectory);
      throw new RecipeError({
        code: "run_not_found",
        message: `no run ${params.runId} to resume in ${recipeDirectory}; ${
          existing.length === 0
            ? "there are no runs of this recipe yet (run without --resume to start one)"
            : `existing runs: ${existing.slice(-10).join(", ")}${existing.length > 10 ? ` (and ${existing.length - 10} older)` : ""}`
        }`,
        details: { runId: params.runId, recipeDirectory, existing },
      });
    }
  }
  let latest: string | null = null;
  if (params.runDirectory === undefined && params.resume === true && params.runId === undefined) {
    latest = await latestRunId(recipeDirectory, params.seed);
    if (latest === null) log(`no earlier run of ${recipeDirectory} to resume: starting a new one`);
  }
  const runDirectory =
    params.runDirectory === undefined
      ? join(recipeDirectory, params.runId ?? latest ?? `${newRunId()}${seedSuffix}`)
      : resolve(params.runDirectory);
  const runId = basename(runDirectory);
  await mkdir(runDirectory, { recursive: true });
  const events = createEventLog({ path: join(runDirectory, "events.jsonl") });
  events.write({ type: "run-start", runId, resume: params.resume === true });
  log(`run directory: ${runDirectory}`);
  await writeJsonAtomic({ path: join(runDirectory, "recipe.json"), value: recipe });
  await writeJsonAtomic({ path: join(runDirectory, "recipe.lock.json"), value: lock });
  const environment = describeEnvironment();
  // journey-report: provenance (code, packages, runtime, command line, seeds) beside the machine.
  const provenance = describeProvenance({
    seed: recipe.seed,
    ...(params.seeds === undefined ? {} : { seeds: params.seeds }),
    recipePackage: { name: loaded.packageName, version: loaded.packageVersion ?? null },
  });
  await writeJsonAtomic({
    path: join(runDirectory, "environment.json"),
    value: { ...environment, provenance },
  });
  // journey-report: live tracking (MLflow file store in <run>/mlruns), one MLflow run per stage.
  const tracker = createTracker({ directory: join(runDirectory, "mlruns"), experimentName: recipe.name });
  // A resumed run continues its MLflow run (and each resumed stage its own, below).
  const trackedRun = tracker.startRun({ name: runId, continueExisting: params.resume === true });
  for (const [key, value] of Object.entries({
    recipe: `${recipe.name}@${recipe.version}${loaded.variant === null ? "" : ` (${loaded.variant})`}`,
    "posttrain.gitCommit": provenance.git?.commit ?? "none",
    "posttrain.gitDirty": String(provenance.git?.dirty ?? "unknown"),
    "posttrain.onnxruntimeNode": provenance.onnxruntimeNode ?? "unknown",
    "posttrain.node": provenance.node,
    "posttrain.cpu": environment.cpu,
    "posttrain.commandLine": provenance.commandLine.join(" "),
  }))
    trackedRun.setTag({ key, value });
  trackedRun.logParam({ key: "seed", value: String(recipe.seed) });

  const runners: Partial<Record<string, StageRunner>> = {
    ...stageRunnersOf(params.stageRegistry),
    ...params.stageRunners,
  };
  const evaluate = params.evaluate ?? embeddedEvaluator;
  const tokenizerDirectory = await tokenizerDirectoryOf({ recipe, lock, packageDirectory, hub: params.hub });
  let model = await baseModelOf({ recipe, lock, hub: params.hub });
  // The lock describes the recipe as written; a root seed changes the initial weights too.
  let inputFingerprint = fingerprint({
    model: lock.model,
    ...(params.seed === undefined ? {} : { rootSeed: params.seed }),
  });

  const stages: StageSummary[] = recipe.stages.map((stage) => ({
    name: stage.name,
    type: stage.type,
    status: "pending",
    fingerprint: "",
    wallSeconds: null,
    modelDirectory: null,
    modelSha256: null,
    trainingMetrics: {},
    evals: {},
    evalWallSeconds: null,
    comparison: null,
    error: null,
  }));
  let status: RunSummary["status"] = "completed";
  let failure: unknown = null;

  for (const [index, stage] of recipe.stages.entries()) {
    const summary = stages[index] as StageSummary;
    if (signal.aborted) {
      // Interrupted between stages (e.g. during the previous stage's evals): stop here.
      summary.status = "interrupted";
      status = "interrupted";
      events.write({ type: "stage-interrupted", stage: stage.name });
      break;
    }
    const stageDirectory = join(runDirectory, "stages", `${index + 1}-${stage.name}`);
    const lockedSpecs = (kind: "train" | "evaluation") =>
      stage.data[kind].map(
        (_, position) => lock.datasets[`${stage.name}.${kind}[${position}]`] as DatasetSpec,
      );
    const train = lockedSpecs("train");
    const evaluation = lockedSpecs("evaluation");
    const stageFingerprint = fingerprint({
      stage: {
        name: stage.name,
        type: stage.type,
        data: { ...stage.data, train: undefined, evaluation: undefined },
        hyperparameters: stage.hyperparameters,
      },
      train,
      evaluation,
      tokenizer: lock.tokenizer,
      seed: recipe.seed,
      input: inputFingerprint,
    });
    summary.fingerprint = stageFingerprint;
    const recordPath = join(stageDirectory, "stage.json");
    let stageRun: TrackedRun | null = null;
    const record = await readJson<StageRecord>(recordPath);
    try {
      if (record !== null && record.fingerprint === stageFingerprint && existsSync(record.modelDirectory)) {
        log(`stage ${stage.name}: finished earlier with the same fingerprint, skipped`);
        summary.status = "skipped";
        summary.wallSeconds = record.wallSeconds;
        summary.modelDirectory = record.modelDirectory;
        summary.trainingMetrics = record.trainingMetrics;
      } else {
        if (record !== null || (existsSync(stageDirectory) && params.resume !== true)) {
          log(`stage ${stage.name}: state from another configuration, starting it afresh`);
          await rm(stageDirectory, { recursive: true, force: true });
        }
        // The stage's kept state (checkpoints, events) is resumed: so is its MLflow run.
        const continuing = params.resume === true && existsSync(stageDirectory);
        await mkdir(stageDirectory, { recursive: true });
        await writeJsonAtomic({
          path: join(stageDirectory, "stage-config.json"),
          value: { stage, train, evaluation, input: model },
        });
        const untrackedContext = createRunContext({
          directory: stageDirectory,
          seed: recipe.seed,
          streamName: stage.name,
          signal,
          ...(params.progressMode === undefined ? {} : { progressMode: params.progressMode }),
        });
        // journey-report: the stage's events also stream to its MLflow run as they are written.
        stageRun = tracker.startRun({
          name: `${index + 1}-${stage.name}`,
          parentRunId: trackedRun.id,
          continueExisting: continuing,
        });
        logStageParams(stageRun, stage);
        const context = {
          ...untrackedContext,
          events: trackedEventLog({ events: untrackedContext.events, run: stageRun }),
        };
        log(`stage ${stage.name} (${stage.type}): running`);
        events.write({ type: "stage-start", stage: stage.name, fingerprint: stageFingerprint });
        const stageStart = performance.now();
        const runStage =
          runners[stage.type] ??
          (() => {
            throw new RecipeError({
              code: "stage_unavailable",
              message: `stage "${stage.name}" is of type ${stage.type}, which no registered stage implements (${Object.keys(runners).join(", ")})`,
              details: { stage: stage.name, type: stage.type },
            });
          });
        const result = await runStage({
          recipe,
          stage,
          train,
          evaluation,
          model,
          tokenizerDirectory,
          packageDirectory,
          context,
        });
        const wallSeconds = (performance.now() - stageStart) / 1000;
        summary.wallSeconds = wallSeconds;
        summary.trainingMetrics = result.metrics;
        if (result.status === "interrupted" || result.modelDirectory === null) {
          stageRun.end({ status: "interrupted" });
          summary.status = "interrupted";
          status = "interrupted";
          events.write({ type: "stage-interrupted", stage: stage.name });
          break;
        }
        for (const file of tokenizerFiles) {
          const source = join(tokenizerDirectory, file);
          if (existsSync(source)) await cp(source, join(result.modelDirectory, file));
        }
        summary.status = "completed";
        summary.modelDirectory = result.modelDirectory;
        await writeJsonAtomic({
          path: recordPath,
          value: {
            fingerprint: stageFingerprint,
            status: "completed",
            wallSeconds,
            modelDirectory: result.modelDirectory,
            trainingMetrics: result.metrics,
          } satisfies StageRecord,
        });
        events.write({ type: "stage-end", stage: stage.name, wallSeconds });
      }
      const modelDirectory = summary.modelDirectory as string;
      summary.modelSha256 = await modelHash({ directory: modelDirectory });
      if (stage.evaluate) {
        const evalDirectory = join(runDirectory, "evals", stage.name);
        const evalRecordPath = join(evalDirectory, "eval-record.json");
        const evalFingerprint = fingerprint({ evals: recipe.evals, model: summary.modelSha256 });
        const recorded = summary.status === "skipped" ? await readEvalRecord(evalRecordPath) : null;
        let results: EvalResults;
        if (recorded !== null && recorded.fingerprint === evalFingerprint) {
          // A finished stage's evals of the same model and suite: reuse, do not re-generate.
          log(`stage ${stage.name}: evals recorded earlier for this model, reused`);
          results = recorded.results;
          summary.evalWallSeconds = recorded.wallSeconds;
        } else {
          const evalStart = performance.now();
          log(`stage ${stage.name}: evaluating on ${recipe.evals.tasks.map((task) => task.name).join(", ")}`);
          results = await evaluate({
            recipe,
            modelDirectory,
            packageDirectory,
            outputDirectory: evalDirectory,
            signal,
          });
          summary.evalWallSeconds = (performance.now() - evalStart) / 1000;
          await writeJsonAtomic({ path: join(evalDirectory, "results.json"), value: results });
          await writeJsonAtomic({
            path: evalRecordPath,
            value: {
              fingerprint: evalFingerprint,
              wallSeconds: summary.evalWallSeconds,
              results,
            } satisfies EvalRecord,
          });
        }
        for (const task of results.tasks) summary.evals[task.task.name] = summarizeEstimates(task);
        if (recipe.expected.some((row) => row.after === stage.name)) {
          const verdict = judgeExpected({
            recipe,
            seeds: [recipe.seed],
            stages: [stage.name],
            observe: ({ task, metric }) => observedMetric({ recipe, stage: summary, task, metric }),
          });
          summary.comparison = { passed: verdict.rows.every((row) => row.passed), rows: verdict.rows };
        }
      }
      // journey-report: the stage's evals in the trackers (x = stage number) and its model card.
      for (const [task, metrics] of Object.entries(summary.evals))
        for (const [metric, estimate] of Object.entries(metrics)) {
          const key = `eval.${task}.${metric}`;
          trackedRun.logMetric({ key, value: estimate.value, step: index + 1 });
          stageRun?.logMetric({ key, value: estimate.value, step: index + 1 });
        }
      stageRun?.end({ status: "completed" });
      await writeStageModelFiles({
        directory: modelDirectory,
        recipe,
        variant: loaded.variant,
        packageName: loaded.packageName,
        stage,
        summary,
        lock,
        runId,
        provenance,
      });
      model = { kind: "directory", directory: modelDirectory };
      inputFingerprint = stageFingerprint;
    } catch (error) {
      if (signal.aborted) {
        // An interrupt that reached a stage's evals (or a trainer that throws on abort).
        summary.status = "interrupted";
        status = "interrupted";
        events.write({ type: "stage-interrupted", stage: stage.name });
        break;
      }
      summary.status = "failed";
      summary.error = PosttrainError.isInstance(error)
        ? { code: error.code, message: error.message }
        : { code: "unexpected", message: (error as Error)?.message ?? String(error) };
      status = "failed";
      failure = error;
      stageRun?.end({ status: "failed" });
      events.write({ type: "stage-failed", stage: stage.name, ...summary.error });
      break;
    }
  }

  let probes: RunSummary["probes"] = null;
  const verifierNames = Object.keys(lock.verifiers);
  if (verifierNames.length > 0 && status !== "interrupted" && params.probes !== false) {
    try {
      const report = await runProbes({ verifiers: verifierNames });
      probes = report.verifiers.map((entry) => ({
        verifier: entry.verifier,
        version: entry.version,
        passed: entry.passed,
        failed: entry.failed,
        failedProbes: entry.probes.filter((probe) => !probe.passed).map((probe) => probe.name),
      }));
    } catch (error) {
      log(`verifier probes failed: ${(error as Error).message}`);
    }
  }
  const warnings = await collectWarnings({ runDirectory, stages, recipe });

  const checked = stages.flatMap((stage) => stage.comparison?.rows ?? []);
  // Claims need every stage they name; on one seed they are reported, never failed.
  const claims = judgeExpected({
    recipe,
    rows: false,
    seeds: [recipe.seed],
    observe: ({ after, task, metric }) => {
      const stage = stages.find((candidate) => candidate.name === after);
      return stage === undefined ? null : observedMetric({ recipe, stage, task, metric });
    },
  }).claims.filter((claim) => claim.status !== "missing");
  const runSummary: RunSummary = {
    schemaVersion: 1,
    recipe: {
      name: recipe.name,
      version: recipe.version,
      variant: loaded.variant,
      packageName: loaded.packageName,
    },
    runId,
    runDirectory,
    seed: { root: recipe.seed, overridden: params.seed !== undefined },
    status,
    startedAt,
    finishedAt: new Date().toISOString(),
    wallSeconds: (Date.now() - started) / 1000,
    environment,
    provenance,
    lock,
    stages,
    probes,
    warnings,
    claims,
    expected:
      checked.length === 0
        ? null
        : {
            passed: checked.every((row) => row.passed),
            rows: checked.length,
            failed: checked.filter((row) => !row.passed).length,
          },
  };
  await writeJsonAtomic({ path: join(runDirectory, "summary.json"), value: runSummary });
  await writeReports({ summary: runSummary, recipe });
  trackedRun.end({ status });
  events.write({ type: "run-end", status });
  if (failure !== null) {
    if (PosttrainError.isInstance(failure)) throw failure;
    throw new RecipeError({
      code: "stage_failed",
      message: `run ${runId} failed in stage ${stages.find((stage) => stage.status === "failed")?.name}: ${(failure as Error).message}`,
      cause: failure,
      details: { runDirectory },
    });
  }
  return runSummary;
}
