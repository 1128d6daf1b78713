/**
 * `posttrain plan`'s first-run time estimate: a short calibration of the recipe's real stages.
 * Each stage starts exactly as `posttrain run` starts it (same trainer, graphs, batch shapes,
 * data preparation and held-out checks) in a scratch folder, from the recipe's freshly
 * initialised model, and is stopped after a few optimizer steps. Its own events give the
 * start-up time (data preparation, graph compilation, reference scoring, the step-0 held-out
 * check: everything before the first step ends), the steady time per step (the median gap
 * between later steps) and the stage's step count (the trainer's own count, from its start
 * line); the estimate is start-up + (steps − 1) × time per step.
 *
 * What it cannot see, and how that is handled:
 * - RLVR rollouts of an untrained model run to `maxNewTokens`, while the SFT'd policy that
 *   really enters the stage stops after its answer. The probe records each steady step's
 *   generation and optimization seconds and mean completion length, and the plan rescales them
 *   to the expected completion length: the mean assistant tokens per conversation of the SFT
 *   stage before it ({@link expectedCompletionOf}; generation ∝ generated tokens, optimization ∝
 *   prompt + completion tokens, see `rolloutScale` in plan.ts). On recipes/micro that mean is
 *   24.6 tokens and the SFT'd policy's rollouts average 24.6 tokens.
 * - All the untrained model's rewards are equal, so zero-variance filtering would leave nothing
 *   to train: the probe trains on every completion (`filterZeroVarianceGroups: false`). How many
 *   groups the real policy's filter drops depends on how often it is right, which nothing before
 *   the run knows, so the optimization time stays an upper bound.
 * - Periodic checkpoints, evaluations and held-out checks after the probe's few steps are in
 *   the per-step time only as far as they fall inside the probe. To keep the probe to seconds,
 *   RLVR runs two steps and its step-0 held-out check reads 16 items.
 * - Only recipes that run offline are probed: an `initialize` model and local data and
 *   tokenizer (a Hub recipe falls back to earlier runs or the MatMul probe; nothing is
 *   downloaded), and models of at most {@link probeParameterLimit} parameters (a few steps of
 *   a bigger model on a CPU take minutes: those are FLOP-bound, where the MatMul probe holds).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRunContext, type EventLog } from "@posttrain/core";
import { type DatasetSpec, prepareDataset } from "@posttrain/data";
import { parseLlamaConfig } from "@posttrain/engine";
import { z } from "zod";
import { RecipeError } from "./errors.js";
import type { LoadedRecipe } from "./load.js";
import type { RecipeLock } from "./lock.js";
import {
  type ExpectedCompletion,
  parameterCount,
  type RecipeProbe,
  type RolloutProbe,
  type StageProbe,
} from "./plan.js";
import type { Stage } from "./schema.js";
import { defaultStageRunners, type StageRunner } from "./stage-runners.js";

/** Models above this many parameters are not probed (see the module comment). */
export const probeParameterLimit = 50_000_000;

/** An event as the probe reads it (a subset of what the trainers write). */
export interface ProbeEvent {
  type: string;
  elapsed?: number;
  step?: number;
  message?: string;
  [key: string]: unknown;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * One stage's probe from the events it wrote: the first `step-end`'s elapsed time, the median
 * gap between later ones, and the total step count from the trainer's start line (`…, N steps`).
 * Null when fewer than two steps ended (no steady time to measure).
 */
export function summarizeProbeEvents(params: {
  name: string;
  type: Stage["type"];
  events: readonly ProbeEvent[];
  /** RL stages: the rollouts' token limit; with it, the steady steps' rollout figures are read too. */
  maxNewTokens?: number;
}): StageProbe | null {
  const stepEnds = params.events.filter(
    (event) => event.type === "step-end" && typeof event.elapsed === "number",
  );
  const ends = stepEnds.map((event) => event.elapsed as number);
  if (ends.length < 2) return null;
  const gaps = ends.slice(1).map((end, index) => end - (ends[index] as number));
  let totalSteps: number | null = null;
  for (const event of params.events) {
    if (event.type !== "log" || typeof event.message !== "string") continue;
    const match = /(\d+) steps\b/.exec(event.message);
    if (match !== null) {
      totalSteps = Number(match[1]);
      break;
    }
  }
  const rollout =
    params.maxNewTokens === undefined ? undefined : rolloutOf(stepEnds.slice(1), params.maxNewTokens);
  return {
    name: params.name,
    type: params.type,
    firstStepSeconds: ends[0] as number,
    secondsPerStep: median(gaps),
    totalSteps,
    probedSteps: ends.length,
    ...(rollout === undefined ? {} : { rollout }),
  };
}

const rolloutStepSchema = z
  .object({
    responseLength: z.number().nonnegative(),
    seconds: z.object({ generate: z.number().nonnegative(), train: z.number().nonnegative() }).loose(),
  })
  .loose();

/**
 * The steady steps' rollout figures (RLVR's `step-end`: `seconds.generate`, `seconds.train`,
 * `responseLength`): median generation and optimization seconds, mean completion length. Undefined
 * when a step lacks them.
 */
function rolloutOf(steady: readonly ProbeEvent[], maxNewTokens: number): RolloutProbe | undefined {
  const steps = steady.map((event) => rolloutStepSchema.safeParse(event));
  if (steps.length === 0 || steps.some((step) => !step.success)) return undefined;
  const parsed = steps.map((step) => step.data as z.infer<typeof rolloutStepSchema>);
  return {
    generateSeconds: median(parsed.map((step) => step.seconds.generate)),
    optimizeSeconds: median(parsed.map((step) => step.seconds.train)),
    completionTokens: parsed.reduce((sum, step) => sum + step.responseLength, 0) / parsed.length,
    promptTokens: null,
    maxNewTokens,
  };
}

/** Why this recipe cannot be probed offline (null: it can). */
export function probeBlocker(params: { loaded: LoadedRecipe }): string | null {
  const { recipe } = params.loaded;
  if (recipe.model.kind !== "initialize") return "the model comes from the Hub (the probe downloads nothing)";
  if (recipe.tokenizer.source.kind !== "local") return "the tokenizer comes from the Hub";
  const parameters = parameterCount({ config: parseLlamaConfig(recipe.model.config) });
  if (parameters > probeParameterLimit)
    return `${parameters} parameters is over the probe's ${probeParameterLimit} (a few steps would take minutes)`;
  return null;
}

/** A stage's dataset specs as the run would use them (the lock's, where it has one). */
function lockedSpecs(params: {
  lock: RecipeLock | null;
  stage: Stage;
  kind: "train" | "evaluation";
}): DatasetSpec[] {
  return params.stage.data[params.kind].map(
    (spec, position) => params.lock?.datasets[`${params.stage.name}.${params.kind}[${position}]`] ?? spec,
  );
}

/** Prepares (or finds in the tokenized cache) a stage's training data exactly as its run does. */
async function preparedTotals(params: {
  loaded: LoadedRecipe;
  lock: RecipeLock | null;
  stage: Stage;
  format: "sft" | "rlvr";
}) {
  const { recipe } = params.loaded;
  if (recipe.tokenizer.source.kind !== "local") return null;
  const sources = lockedSpecs({ lock: params.lock, stage: params.stage, kind: "train" });
  if (sources.length === 0 || sources.some((spec) => spec.kind !== "local")) return null;
  const template = recipe.tokenizer.chatTemplate;
  const prepared = await prepareDataset({
    sources,
    format: params.format,
    tokenizer: {
      directory: resolve(params.loaded.packageDirectory, recipe.tokenizer.source.directory),
      ...(template === "tokenizer" ? {} : { chatTemplate: template }),
    },
    maxLength: params.stage.data.maxLength,
    ...(params.format === "sft" && params.stage.data.packing !== null
      ? { packing: params.stage.data.packing }
      : {}),
    seed: recipe.seed,
    baseDirectory: params.loaded.packageDirectory,
    progress: "silent",
  });
  return prepared.manifest.totals;
}

/**
 * The completion length the policy entering the RL stage at `stageIndex` is expected to write:
 * the mean trained (assistant) tokens per conversation of the nearest SFT stage before it, its
 * training data tokenized as its run tokenizes it (so the end-of-turn token counts, as it does
 * in a completion). Why the SFT answers: that policy was trained to write them; the RLVR rows'
 * ground truths are final answers (`42`) or constraint specs, not replies. Null when no SFT
 * stage comes before it or its data is not local.
 */
export async function expectedCompletionOf(params: {
  loaded: LoadedRecipe;
  lock: RecipeLock | null;
  stageIndex: number;
}): Promise<ExpectedCompletion | null> {
  const earlier = params.loaded.recipe.stages.slice(0, params.stageIndex);
  const sft = earlier.reverse().find((stage) => stage.type === "sft");
  if (sft === undefined) return null;
  const totals = await preparedTotals({
    loaded: params.loaded,
    lock: params.lock,
    stage: sft,
    format: "sft",
  });
  if (totals === null || totals.documents === 0) return null;
  return {
    tokens: totals.trainedTokens / totals.documents,
    stage: sft.name,
    conversations: totals.documents,
  };
}

/** The mean prompt tokens of an RLVR stage's training rows (null: not local). */
export async function promptTokensOf(params: {
  loaded: LoadedRecipe;
  lock: RecipeLock | null;
  stage: Stage;
}): Promise<number | null> {
  const totals = await preparedTotals({ ...params, format: "rlvr" });
  return totals === null || totals.rows === 0 ? null : totals.tokens / totals.rows;
}

/** The stage as the probe runs it: RLVR trains on every completion (see the module comment). */
function probedStage(stage: Stage, scratch: string): Stage {
  if (stage.type === "rlvr")
    return { ...stage, hyperparameters: { ...stage.hyperparameters, filterZeroVarianceGroups: false } };
  if (stage.type === "dpo")
    return {
      ...stage,
      // The probe's reference scores are of an untrained model: keep them out of the user's cache.
      hyperparameters: {
        ...stage.hyperparameters,
        referenceCacheDirectory: join(scratch, "reference-cache"),
      },
    };
  return stage;
}

/**
 * Runs the first `steps` steps (at least 2) of each stage of `loaded`'s recipe in a scratch
 * folder (removed afterwards) and summarises them. A stage whose data is not local, or that
 * fails or stops before two steps, is left out with a note. Nothing is downloaded or written
 * outside the scratch folder.
 */
export async function probeRecipe(params: {
  loaded: LoadedRecipe;
  lock: RecipeLock | null;
  steps?: number;
  runners?: Partial<Record<Stage["type"], StageRunner>>;
}): Promise<RecipeProbe> {
  const { loaded } = params;
  const { recipe } = loaded;
  const blocker = probeBlocker({ loaded });
  if (blocker !== null) return { stages: [], notes: [`not probed: ${blocker}`] };
  if (recipe.model.kind !== "initialize" || recipe.tokenizer.source.kind !== "local")
    return { stages: [], notes: [] }; // narrowed above
  const steps = Math.max(2, params.steps ?? 3);
  const runners = { ...defaultStageRunners, ...params.runners };
  const tokenizerDirectory = resolve(loaded.packageDirectory, recipe.tokenizer.source.directory);
  const model = {
    kind: "initialize" as const,
    config: recipe.model.config as Record<string, unknown>,
    seed: recipe.model.seed,
  };
  const scratch = await mkdtemp(join(tmpdir(), "posttrain-plan-probe-"));
  const stages: StageProbe[] = [];
  const notes: string[] = [];
  try {
    for (const [index, stage] of recipe.stages.entries()) {
      const train = lockedSpecs({ lock: params.lock, stage, kind: "train" });
      const evaluation = lockedSpecs({ lock: params.lock, stage, kind: "evaluation" });
      if ([...train, ...evaluation].some((spec) => spec.kind !== "local")) {
        notes.push(`${stage.name} not probed: its data comes from the Hub`);
        continue;
      }
      // RLVR's steps are the costly ones (rollouts of an untrained model run to maxNewTokens):
      // two steps (the first, then one steady one) and a 16-item step-0 held-out check.
      const stageSteps = stage.type === "rlvr" ? 2 : steps;
      const probedEvaluation =
        stage.type === "rlvr" ? evaluation.map((spec) => ({ ...spec, amount: { rows: 16 } })) : evaluation;
      const controller = new AbortController();
      const directory = join(scratch, `${index + 1}-${stage.name}`);
      const context = createRunContext({
        directory,
        seed: recipe.seed,
        streamName: stage.name,
        signal: controller.signal,
        progressMode: "silent",
      });
      const seen: ProbeEvent[] = [];
      const events: EventLog = {
        path: context.events.path,
        write(event) {
          const line = context.events.write(event);
          seen.push(line as ProbeEvent);
          if (
            line.type === "step-end" &&
            seen.filter((entry) => entry.type === "step-end").length >= stageSteps
          )
            controller.abort();
          return line;
        },
      };
      const runner = runners[stage.type];
      if (runner === undefined)
        throw new RecipeError({
          code: "stage_unavailable",
          message: `stage ${stage.name}: no trainer for stage type "${stage.type}"`,
        });
      try {
        await runner({
          recipe,
          stage: probedStage(stage, scratch),
          train,
          evaluation: probedEvaluation,
          model,
          tokenizerDirectory,
          packageDirectory: loaded.packageDirectory,
          // `log` writes through the wrapper too: the trainer's start line carries its step count.
          context: { ...context, events, log: (message) => void events.write({ type: "log", message }) },
        });
      } catch (error) {
        notes.push(
          `${stage.name} not probed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
        );
        continue;
      }
      const probe = summarizeProbeEvents({
        name: stage.name,
        type: stage.type,
        events: seen,
        ...(stage.type === "rlvr" ? { maxNewTokens: stage.hyperparameters.rollouts.maxNewTokens } : {}),
      });
      if (probe === null) {
        notes.push(`${stage.name} not probed: it ran fewer than two steps`);
        continue;
      }
      if (probe.rollout !== undefined) {
        // Both are usually cache hits: the probe's own runs just prepared this data.
        try {
          probe.rollout.promptTokens = await promptTokensOf({ loaded, lock: params.lock, stage });
          probe.expectedCompletion = await expectedCompletionOf({
            loaded,
            lock: params.lock,
            stageIndex: index,
          });
        } catch (error) {
          notes.push(
            `${stage.name}: completion length not measured (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); timed at the probed length`,
          );
        }
      }
      stages.push(probe);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { stages, notes };
}
