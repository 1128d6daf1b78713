/**
 * `posttrain plan`: what a run of a recipe needs, from the recipe (and its lock, when there is
 * one) alone — nothing is downloaded. See docs/recipe-format.md for the formulas:
 *
 * - parameters N: from the Llama config (embeddings, attention with GQA, SwiGLU MLP, norms,
 *   untied LM head);
 * - tokens per stage: rows × epochs × tokens per row, where rows come from the lock's row
 *   counts (or the dataset's `amount`) and tokens per row is the measured mean when supplied,
 *   else `maxLength` (an upper bound). A `{ steps }` duration gives steps × effective batch rows;
 * - FLOPs: training 6·N per token; forward-only 2·N per token (DPO reference, RLVR
 *   reference/old-policy scoring); generation 2·N per generated token; PPO adds a value model
 *   of the policy's size (trained: 6·N per token);
 * - memory (fp32, as the embedded engine trains): weights 4 B, gradients 4 B, AdamW moments
 *   8 B per parameter, a frozen reference 4 B per parameter, activations ≈ 34·h bytes per token
 *   per layer in fp16 (Korthikanti et al. 2022) ×2 for fp32 over one micro-batch, plus the
 *   logits of one loss chunk;
 * - time, per stage from the best evidence at hand: earlier runs of the same variant on this
 *   machine (`runs`: each stage type's effective FLOP/s, this plan's FLOPs for the run's own
 *   recipe.json ÷ the stage's recorded wall time, summed over runs); else the first steps of
 *   the stage run here just now (`probe`, see plan-probe.ts: start-up + steps × the median step
 *   time, an RL step's generation and optimization rescaled from the untrained probe's
 *   completion length to the SFT'd policy's expected one, {@link rolloutScale}); else FLOPs /
 *   (measured MatMul GFLOP/s × efficiency, `matmul`), efficiency being the share of the MatMul
 *   peak a whole training step reaches (an assumption, 0.5 by default).
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DatasetSpec } from "@posttrain/data";
import type { LlamaConfig } from "@posttrain/engine";
import { parseLlamaConfig } from "@posttrain/engine";
import { z } from "zod";
import type { RecipeLock } from "./lock.js";
import { datasetPlaces } from "./lock.js";
import { parseRecipe, type Recipe, type Stage } from "./schema.js";

/** The parameter count of a Llama-style decoder. */
export function parameterCount(params: { config: LlamaConfig }): number {
  const c = params.config;
  const headDimension = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const keyValueHeads = c.num_key_value_heads ?? c.num_attention_heads;
  const attention =
    c.hidden_size * c.num_attention_heads * headDimension * 2 +
    c.hidden_size * keyValueHeads * headDimension * 2;
  const mlp = 3 * c.hidden_size * c.intermediate_size;
  const perLayer = attention + mlp + 2 * c.hidden_size;
  const embeddings = c.vocab_size * c.hidden_size * (c.tie_word_embeddings ? 1 : 2);
  return embeddings + c.num_hidden_layers * perLayer + c.hidden_size;
}

export interface StagePlan {
  name: string;
  type: Stage["type"];
  /** Training rows (SFT conversations, DPO pairs, RLVR episodes) over the whole stage. */
  rows: number | null;
  /** Where the row count comes from. */
  rowsFrom: "lock" | "amount" | "published" | "duration" | "unknown";
  /** Tokens the optimizer sees (DPO: chosen + rejected; RLVR: prompt + response). */
  trainingTokens: number | null;
  /** Tokens generated (RLVR rollouts). */
  generatedTokens: number;
  /** `measured` mean length or the `maxLength` upper bound. */
  tokensPerRowFrom: "measured" | "max_length";
  flops: number | null;
  memoryBytes: {
    weights: number;
    gradients: number;
    optimizer: number;
    reference: number;
    activations: number;
    total: number;
  };
  estimatedSeconds: number | null;
  /**
   * Where the time comes from: earlier runs' measured rate for this stage type (`runs`), the
   * first steps of this stage run here (`probe`, see plan-probe.ts), or FLOPs over the MatMul
   * throughput (`matmul`).
   */
  timeFrom: "runs" | "probe" | "matmul" | null;
  /** Optimizer steps the stage runs (the trainer's count when probed, else from rows and batch). */
  steps: number | null;
  /** RL stages: the completion length the time assumes (null for SFT and DPO). */
  completion: StageCompletion | null;
}

/** The completion length an RL stage's time assumes, and how the probe's step was rescaled to it. */
export interface StageCompletion {
  maxNewTokens: number;
  /** The expected mean completion length (null: none measured; the time assumes the probed length). */
  expectedTokens: number | null;
  /** The SFT stage whose data gave `expectedTokens`. */
  expectedFrom: string | null;
  /** The probed (untrained) policy's mean completion length (null: not probed). */
  probedTokens: number | null;
  /** The factors applied to the probed step's generation and optimization seconds. */
  scale: { generate: number; optimize: number } | null;
}

/** Effective FLOP/s per stage type, measured from earlier runs (see {@link calibrateFromRuns}). */
export interface RunCalibration {
  flopsPerSecond: Partial<Record<Stage["type"], number>>;
  /** The runs it came from (run folder names), for the plan's note. */
  runs: string[];
}

/** One earlier run, as its folder records it: the recipe it ran and each stage's wall time. */
export interface RecordedRun {
  runId: string;
  recipe: Recipe;
  /** The run's copy of the lock (row counts), null when absent. */
  lock: RecipeLock | null;
  /** The variant it ran (from its folder name, `<name>-<version>-<variant>`), null for the base recipe. */
  variant?: string | null;
  stages: Array<{ name: string; type: Stage["type"]; status: string; wallSeconds: number | null }>;
}

/**
 * What the probe saw of an RL stage's steady steps: the two parts of a step whose cost grows
 * with the completions' length, and the lengths it ran at.
 */
export interface RolloutProbe {
  /** Median seconds per steady step spent generating the rollouts. */
  generateSeconds: number;
  /** Median seconds per steady step spent optimizing on them (scoring + updates). */
  optimizeSeconds: number;
  /** Mean completion length (tokens) the probed, untrained policy wrote (≈ maxNewTokens). */
  completionTokens: number;
  /** Mean prompt length (tokens) of the stage's training rows (null: not measured). */
  promptTokens: number | null;
  maxNewTokens: number;
}

/**
 * The completion length the stage's real policy is expected to write: the mean assistant tokens
 * per conversation of the training data of the SFT stage before it (what that policy was trained
 * to answer; the RLVR rows' ground truths are final answers, not replies).
 */
export interface ExpectedCompletion {
  tokens: number;
  /** The SFT stage whose training data it was measured on. */
  stage: string;
  /** Conversations it was measured on. */
  conversations: number;
}

/** What the probe saw of one stage's first steps. */
export interface StageProbe {
  name: string;
  type: Stage["type"];
  /** Seconds from the stage's start to the end of its first step. */
  firstStepSeconds: number;
  /** Median seconds between consecutive later steps. */
  secondsPerStep: number;
  /** Steps the stage will run in full, as its trainer counted them (null when it did not say). */
  totalSteps: number | null;
  /** Steps the probe ran. */
  probedSteps: number;
  /** RL stages: the length-dependent parts of a steady step. */
  rollout?: RolloutProbe;
  /** RL stages: the trained policy's expected completion length (null: no SFT stage before it). */
  expectedCompletion?: ExpectedCompletion | null;
}

/** The probe of every stage it could run, or why it ran none. */
export interface RecipeProbe {
  stages: StageProbe[];
  /** Why no stage (or not every stage) was probed; empty when all were. */
  notes: string[];
}

/**
 * How much a steady RL step's length-dependent parts shrink (or grow) from the probed completion
 * length to the expected one (capped at maxNewTokens): generation by the ratio of generated
 * tokens, optimization by the ratio of the sequences it scores and trains (prompt + completion;
 * with the prompt length unknown, optimization is left as probed).
 */
export function rolloutScale(params: { rollout: RolloutProbe; expectedCompletionTokens: number }): {
  generate: number;
  optimize: number;
} {
  const { rollout } = params;
  const expected = Math.min(Math.max(0, params.expectedCompletionTokens), rollout.maxNewTokens);
  const probed = rollout.completionTokens > 0 ? rollout.completionTokens : rollout.maxNewTokens;
  return {
    generate: expected / probed,
    optimize:
      rollout.promptTokens === null ? 1 : (rollout.promptTokens + expected) / (rollout.promptTokens + probed),
  };
}

/**
 * A stage's steady seconds per step: the probe's median, with an RL stage's generation and
 * optimization parts rescaled to the expected completion length ({@link rolloutScale}).
 */
export function steadyStepSeconds(params: { probe: StageProbe }): number {
  const { probe } = params;
  if (
    probe.rollout === undefined ||
    probe.expectedCompletion === undefined ||
    probe.expectedCompletion === null
  )
    return probe.secondsPerStep;
  const scale = rolloutScale({
    rollout: probe.rollout,
    expectedCompletionTokens: probe.expectedCompletion.tokens,
  });
  const { generateSeconds, optimizeSeconds } = probe.rollout;
  // The step's other work (verification, bookkeeping) does not depend on the completion length.
  const other = Math.max(0, probe.secondsPerStep - generateSeconds - optimizeSeconds);
  return other + generateSeconds * scale.generate + optimizeSeconds * scale.optimize;
}

/**
 * A stage's estimated seconds from its probe and its step count (the trainer's, else
 * `plannedSteps`): start-up and the first step as probed, then the remaining steps at the steady
 * rate ({@link steadyStepSeconds}).
 */
export function probeEstimateSeconds(params: {
  probe: StageProbe;
  plannedSteps: number | null;
}): number | null {
  const steps = params.probe.totalSteps ?? params.plannedSteps;
  if (steps === null || !(steps >= 1)) return null;
  return params.probe.firstStepSeconds + (steps - 1) * steadyStepSeconds({ probe: params.probe });
}

export interface RecipePlan {
  recipe: string;
  version: string;
  parameters: number;
  stages: StagePlan[];
  totalFlops: number | null;
  totalSeconds: number | null;
  /** The throughput the times assume. */
  throughput: { matmulGflops: number; efficiency: number } | null;
  /** The earlier runs the times are calibrated from (null: none). */
  calibration: RunCalibration | null;
  /** The stages' first steps run on this machine (null: not probed). */
  probe: RecipeProbe | null;
}

const bytesPerFloat = 4;

function sourceRows(
  spec: DatasetSpec,
  locked: DatasetSpec | undefined,
): { rows: number | null; from: StagePlan["rowsFrom"] } {
  const available = locked?.expect?.rows ?? spec.expect?.rows;
  const amount = spec.amount;
  if (amount !== undefined && "rows" in amount) return { rows: amount.rows, from: "amount" };
  if (available === undefined) return { rows: null, from: "unknown" };
  const fraction = amount === undefined ? 1 : amount.fraction;
  return { rows: Math.round(available * fraction), from: locked?.expect !== undefined ? "lock" : "amount" };
}

function effectiveBatch(stage: Stage): number {
  if (stage.type === "ppo")
    return stage.hyperparameters.promptsPerStep * stage.hyperparameters.samplesPerPrompt;
  const batch = stage.hyperparameters.batch;
  return batch.devices * batch.perDeviceBatchSize * batch.gradientAccumulationSteps;
}

function microBatch(stage: Stage): number {
  if (stage.type === "ppo") return 1;
  return stage.hyperparameters.batch.perDeviceBatchSize;
}

/** RL stages: episodes (prompt + completion pairs), prompt and response lengths, update passes. */
function reinforcementShape(stage: Stage): {
  episodes: number;
  prompt: number;
  response: number;
  updateEpochs: number;
  klBeta: number;
  valueModel: boolean;
} | null {
  if (stage.type === "rlvr") {
    const h = stage.hyperparameters;
    return {
      episodes: h.steps * h.rollouts.promptsPerStep * h.rollouts.samplesPerPrompt,
      prompt: stage.data.maxLength,
      response: h.rollouts.maxNewTokens,
      updateEpochs: h.epochs,
      klBeta: h.kl.beta,
      valueModel: false,
    };
  }
  if (stage.type === "ppo") {
    const h = stage.hyperparameters;
    return {
      episodes: h.totalEpisodes,
      prompt: h.sampling.maxPromptTokens,
      response: h.sampling.maxResponseTokens,
      updateEpochs: h.updateEpochs,
      klBeta: h.kl.beta,
      valueModel: true,
    };
  }
  return null;
}

/**
 * Plans every stage. `meanTokensPerRow` (by stage name) replaces the `maxLength` upper bound
 * when the caller measured it; `throughput` turns FLOPs into seconds.
 */
export function planRecipe(params: {
  recipe: Recipe;
  lock?: RecipeLock | null;
  meanTokensPerRow?: Record<string, number>;
  throughput?: { matmulGflops: number; efficiency: number };
  /** Measured rates from earlier runs; a stage type it covers is timed from it. */
  calibration?: RunCalibration | null;
  /** The stages' first steps run here; a stage it covers (and no earlier run does) is timed from it. */
  probe?: RecipeProbe | null;
}): RecipePlan {
  const { recipe } = params;
  const config = parseLlamaConfig(
    recipe.model.kind === "hub" ? recipe.model.architecture : recipe.model.config,
  );
  const n = parameterCount({ config });
  const places = new Map(datasetPlaces(recipe).map((place) => [place.key, place]));
  const calibration =
    params.calibration === undefined || params.calibration === null || params.calibration.runs.length === 0
      ? null
      : params.calibration;
  const matmulSeconds = (flops: number | null) =>
    flops === null || params.throughput === undefined
      ? null
      : flops / (params.throughput.matmulGflops * 1e9 * params.throughput.efficiency);
  const timing = (
    stage: Stage,
    flops: number | null,
    steps: number | null,
  ): Pick<StagePlan, "estimatedSeconds" | "timeFrom"> => {
    const rate = calibration?.flopsPerSecond[stage.type];
    if (flops !== null && rate !== undefined && rate > 0)
      return { estimatedSeconds: flops / rate, timeFrom: "runs" };
    const probed = params.probe?.stages.find(
      (candidate) => candidate.name === stage.name && candidate.type === stage.type,
    );
    const fromProbe =
      probed === undefined ? null : probeEstimateSeconds({ probe: probed, plannedSteps: steps });
    if (fromProbe !== null) return { estimatedSeconds: fromProbe, timeFrom: "probe" };
    const seconds = matmulSeconds(flops);
    return { estimatedSeconds: seconds, timeFrom: seconds === null ? null : "matmul" };
  };

  const stages = recipe.stages.map((stage): StagePlan => {
    const measured = params.meanTokensPerRow?.[stage.name];
    const tokensPerRow = measured ?? stage.data.maxLength;
    let rows: number | null = 0;
    let rowsFrom: StagePlan["rowsFrom"] = "lock";
    for (const [index, spec] of stage.data.train.entries()) {
      const key = `${stage.name}.train[${index}]`;
      const counted = sourceRows(places.get(key)?.spec ?? spec, params.lock?.datasets[key]);
      rows = rows === null || counted.rows === null ? null : rows + counted.rows;
      if (counted.from !== "lock") rowsFrom = counted.from;
    }
    if (rows === null && stage.data.publishedRows !== undefined) {
      rows = stage.data.publishedRows.rows;
      rowsFrom = "published";
    }
    const hyper = stage.hyperparameters;
    let trainingRows: number | null;
    const rl = reinforcementShape(stage);
    if (rl !== null) {
      trainingRows = rl.episodes;
      rowsFrom = "duration";
    } else if (stage.type === "sft" || stage.type === "dpo") {
      if ("steps" in stage.hyperparameters.duration) {
        trainingRows = stage.hyperparameters.duration.steps * effectiveBatch(stage);
        rowsFrom = "duration";
      } else {
        trainingRows = rows === null ? null : rows * stage.hyperparameters.duration.epochs;
      }
    } else {
      trainingRows = null;
    }
    let trainingTokens: number | null = null;
    let generatedTokens = 0;
    let flops: number | null = null;
    let reference = 0;
    if (trainingRows !== null) {
      if (stage.type === "sft") {
        trainingTokens = trainingRows * tokensPerRow;
        flops = 6 * n * trainingTokens;
      } else if (stage.type === "dpo") {
        trainingTokens = trainingRows * 2 * tokensPerRow;
        const referenceFlops = stage.hyperparameters.loss.type === "simpo" ? 0 : 2 * n * trainingTokens;
        flops = 6 * n * trainingTokens + referenceFlops;
      } else if (rl !== null) {
        trainingTokens = trainingRows * (rl.prompt + rl.response);
        generatedTokens = trainingRows * rl.response;
        const generation = 2 * n * trainingTokens; // prefill + decode ≈ 2·N per token
        const scoring = 2 * n * trainingTokens * (rl.klBeta > 0 ? 2 : 1); // old policy (+ reference)
        const updates = 6 * n * trainingTokens * rl.updateEpochs;
        const value = rl.valueModel ? 6 * n * trainingTokens * rl.updateEpochs : 0;
        flops = generation + scoring + updates + value;
      }
    }
    if (stage.type === "dpo" && stage.hyperparameters.loss.type !== "simpo") reference = n * bytesPerFloat;
    if (rl !== null && rl.klBeta > 0) reference = n * bytesPerFloat;
    const sequence =
      rl !== null ? rl.prompt + rl.response : (stage.data.packing?.sequenceLength ?? stage.data.maxLength);
    const sequencesPerMicroBatch = microBatch(stage) * (stage.type === "dpo" ? 2 : 1);
    const lossChunks = "lossChunks" in hyper ? hyper.lossChunks : 1;
    const activations =
      sequencesPerMicroBatch * sequence * config.num_hidden_layers * config.hidden_size * 34 * 2 +
      (sequencesPerMicroBatch * sequence * config.vocab_size * bytesPerFloat) / lossChunks;
    const weights = n * bytesPerFloat;
    const memoryBytes = {
      weights,
      gradients: weights,
      optimizer: 2 * weights,
      reference,
      activations,
      total: 4 * weights + reference + activations,
    };
    const plannedSteps =
      rl !== null
        ? stage.type === "rlvr"
          ? stage.hyperparameters.steps
          : Math.ceil(rl.episodes / effectiveBatch(stage))
        : trainingRows === null
          ? null
          : Math.ceil(trainingRows / effectiveBatch(stage));
    const probed = params.probe?.stages.find(
      (candidate) => candidate.name === stage.name && candidate.type === stage.type,
    );
    const probedSteps = probed?.totalSteps;
    const expected = probed?.expectedCompletion ?? null;
    const completion: StageCompletion | null =
      rl === null
        ? null
        : {
            maxNewTokens: rl.response,
            expectedTokens: probed?.rollout === undefined || expected === null ? null : expected.tokens,
            expectedFrom: probed?.rollout === undefined || expected === null ? null : expected.stage,
            probedTokens: probed?.rollout?.completionTokens ?? null,
            scale:
              probed?.rollout === undefined || expected === null
                ? null
                : rolloutScale({ rollout: probed.rollout, expectedCompletionTokens: expected.tokens }),
          };
    return {
      name: stage.name,
      type: stage.type,
      steps: probedSteps ?? plannedSteps,
      rows: trainingRows,
      rowsFrom,
      trainingTokens,
      generatedTokens,
      tokensPerRowFrom: measured === undefined ? "max_length" : "measured",
      flops,
      memoryBytes,
      completion,
      ...timing(stage, flops, plannedSteps),
    };
  });
  const totalFlops = stages.some((stage) => stage.flops === null)
    ? null
    : stages.reduce((sum, stage) => sum + (stage.flops ?? 0), 0);
  const totalSeconds = stages.some((stage) => stage.estimatedSeconds === null)
    ? null
    : stages.reduce((sum, stage) => sum + (stage.estimatedSeconds ?? 0), 0);
  return {
    recipe: recipe.name,
    version: recipe.version,
    parameters: n,
    stages,
    totalFlops,
    totalSeconds,
    throughput: params.throughput ?? null,
    calibration,
    probe: params.probe ?? null,
  };
}

/**
 * Each stage type's effective FLOP/s over earlier runs: this module's FLOP count for the
 * recipe each run actually ran, divided by the wall time it recorded, summed over every stage
 * that trained in that run (skipped or failed stages carry no fresh time). Null when no run
 * has a usable stage.
 */
export function calibrateFromRuns(params: { runs: readonly RecordedRun[] }): RunCalibration | null {
  const flops: Partial<Record<Stage["type"], number>> = {};
  const seconds: Partial<Record<Stage["type"], number>> = {};
  const used = new Set<string>();
  for (const run of params.runs) {
    let plan: RecipePlan;
    try {
      plan = planRecipe({ recipe: run.recipe, lock: run.lock });
    } catch {
      continue; // a recipe this planner cannot read (an older schema): not evidence
    }
    for (const stage of run.stages) {
      if (stage.status !== "completed" || stage.wallSeconds === null || !(stage.wallSeconds > 0)) continue;
      const planned = plan.stages.find(
        (candidate) => candidate.name === stage.name && candidate.type === stage.type,
      );
      if (planned?.flops === null || planned?.flops === undefined || planned.flops <= 0) continue;
      flops[stage.type] = (flops[stage.type] ?? 0) + planned.flops;
      seconds[stage.type] = (seconds[stage.type] ?? 0) + stage.wallSeconds;
      used.add(run.runId);
    }
  }
  if (used.size === 0) return null;
  const flopsPerSecond: RunCalibration["flopsPerSecond"] = {};
  for (const type of Object.keys(flops) as Array<Stage["type"]>)
    flopsPerSecond[type] = (flops[type] as number) / (seconds[type] as number);
  return { flopsPerSecond, runs: [...used].sort() };
}

function formatCount(value: number | null): string {
  if (value === null) return "unknown";
  if (Math.abs(value) >= 1e18) return value.toExponential(2);
  const units: Array<[number, string]> = [
    [1e15, "P"],
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [size, unit] of units)
    if (Math.abs(value) >= size) return `${(value / size).toPrecision(3)}${unit}`;
  return String(Math.round(value));
}

function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A duration as `3 d 4 h`, `5 h 12 min`, `4 min 10 s` or `12 s`. */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return "unknown";
  if (seconds >= 365 * 86400) return `${(seconds / (365 * 86400)).toPrecision(3)} years`;
  if (seconds >= 86400) return `${Math.floor(seconds / 86400)} d ${Math.round((seconds % 86400) / 3600)} h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${seconds.toFixed(1)} s`;
}

/** Rows of cells as lines, each column as wide as its widest cell (the last one unpadded). */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, [...cell].length);
    });
  return rows.map((row) =>
    row
      .map((cell, column) =>
        column === row.length - 1 ? cell : cell + " ".repeat((widths[column] ?? 0) - [...cell].length),
      )
      .join("  ")
      .trimEnd(),
  );
}

/** How the plan's times were made, one line per source it used (and the probe's notes). */
function timeNotes(plan: RecipePlan): string[] {
  const used = new Set(plan.stages.map((stage) => stage.timeFrom));
  const notes: string[] = [];
  if (plan.calibration !== null && used.has("runs")) {
    const runs = plan.calibration.runs;
    notes.push(
      `time (runs): ${runs.length} earlier run${runs.length === 1 ? "" : "s"} of this variant on this machine (${runs.slice(-3).join(", ")}${runs.length > 3 ? ", …" : ""}), each stage type's measured FLOP/s`,
    );
  }
  if (plan.probe !== null && used.has("probe")) {
    const probed = plan.probe.stages;
    notes.push(
      `time (probe): the first steps of each stage run here just now (${probed
        .map((stage) => `${stage.name} ${stage.probedSteps}`)
        .join(", ")}): start-up + steps × the median time per step${
        probed.some((stage) => stage.rollout !== undefined)
          ? "; RL steps are timed on an untrained model, whose rollouts run to maxNewTokens and all of whose completions are trained"
          : ""
      }`,
    );
    for (const stage of plan.stages) {
      if (stage.timeFrom !== "probe" || stage.completion === null || stage.completion.probedTokens === null)
        continue;
      const { completion } = stage;
      const probedLength = completion.probedTokens ?? completion.maxNewTokens;
      notes.push(
        completion.scale === null || completion.expectedTokens === null
          ? `completion (${stage.name}): no SFT stage before it to measure answers on: taken at the probed ${probedLength.toFixed(1)} tokens of maxNewTokens ${completion.maxNewTokens}, an upper bound`
          : `completion (${stage.name}): ${completion.expectedTokens.toFixed(1)} tokens, the mean assistant answer of stage ${completion.expectedFrom}'s training data (what the policy learned to write; the untrained probe wrote ${probedLength.toFixed(1)} of maxNewTokens ${completion.maxNewTokens}): generation × ${completion.scale.generate.toFixed(2)}, optimization × ${completion.scale.optimize.toFixed(2)}; every completion is still trained (zero-variance groups are not filtered), so the optimization time stays an upper bound`,
      );
    }
  }
  if (plan.probe !== null) for (const note of plan.probe.notes) notes.push(`probe: ${note}`);
  if (used.has("matmul") && plan.throughput !== null)
    notes.push(
      `time (matmul): FLOPs ÷ (${plan.throughput.matmulGflops.toFixed(1)} GFLOP/s MatMul on this machine × ${plan.throughput.efficiency} efficiency), an assumption that holds for large, FLOP-bound models`,
    );
  if (plan.stages.some((stage) => stage.timeFrom === null))
    notes.push("time: no throughput measured for some stages");
  return notes;
}

/** An RL stage's completion length as a table cell: `24.6/64 (sft)` expected, `≤64` assumed, `-` for others. */
function formatCompletion(completion: StageCompletion | null): string {
  if (completion === null) return "-";
  if (completion.expectedTokens === null) return `≤${completion.maxNewTokens}`;
  return `${completion.expectedTokens.toFixed(1)}/${completion.maxNewTokens} (${completion.expectedFrom})`;
}

/** The plan as the table `posttrain plan` prints. */
export function formatPlan(plan: RecipePlan): string {
  const rows: string[][] = [
    ["stage", "type", "rows", "steps", "tokens", "FLOPs", "memory", "completion", "time"],
  ];
  for (const stage of plan.stages)
    rows.push([
      stage.name,
      stage.type,
      `${formatCount(stage.rows)} (${stage.rowsFrom})`,
      formatCount(stage.steps),
      `${formatCount(stage.trainingTokens)}${stage.tokensPerRowFrom === "max_length" ? " ≤" : ""}`,
      formatCount(stage.flops),
      formatBytes(stage.memoryBytes.total),
      formatCompletion(stage.completion),
      `${formatSeconds(stage.estimatedSeconds)}${stage.timeFrom === null ? "" : ` (${stage.timeFrom})`}`,
    ]);
  const lines = [
    `recipe ${plan.recipe}@${plan.version}: ${formatCount(plan.parameters)} parameters`,
    ...timeNotes(plan),
    "",
    ...alignColumns(rows),
    "",
    `total: ${formatCount(plan.totalFlops)} FLOPs, ${formatSeconds(plan.totalSeconds)} of training (the evals after each stage come on top)`,
    "(≤: tokens per row taken as maxLength, an upper bound; completion: expected/maximum tokens per RL completion, from the named SFT stage's answers; memory: fp32 weights + gradients + AdamW + reference + one micro-batch of activations)",
  ];
  return lines.join("\n");
}

const recordedSummarySchema = z
  .object({
    runId: z.string(),
    status: z.string(),
    stages: z.array(
      z
        .object({
          name: z.string(),
          type: z.string(),
          status: z.string(),
          wallSeconds: z.number().nullable(),
        })
        .loose(),
    ),
  })
  .loose();

async function readRecordedRun(directory: string, folderName: string): Promise<RecordedRun | null> {
  try {
    const summary = recordedSummarySchema.safeParse(
      JSON.parse(await readFile(join(directory, "summary.json"), "utf8")),
    );
    if (!summary.success) return null;
    const recipe = parseRecipe({ value: JSON.parse(await readFile(join(directory, "recipe.json"), "utf8")) });
    // Only the row counts are read from the run's lock copy (planRecipe's `datasets[key].expect.rows`).
    const lockPath = join(directory, "recipe.lock.json");
    const lock = existsSync(lockPath) ? (JSON.parse(await readFile(lockPath, "utf8")) as RecipeLock) : null;
    const base = `${recipe.name}-${recipe.version}`;
    return {
      runId: summary.data.runId,
      recipe,
      lock,
      variant: folderName.startsWith(`${base}-`) ? folderName.slice(base.length + 1) : null,
      stages: summary.data.stages.map((stage) => ({
        name: stage.name,
        type: stage.type as Stage["type"],
        status: stage.status,
        wallSeconds: stage.wallSeconds,
      })),
    };
  } catch {
    return null; // unreadable or from an older schema: not evidence
  }
}

/**
 * The earlier runs of a recipe (any version or variant) under a runs folder, as
 * `posttrain run` writes them: `<runs>/<name>-<version>[-<variant>]/<run-id>/` and the
 * `seed-<N>/` folders of multi-seed runs. Unreadable folders are skipped.
 */
export async function readRecordedRuns(params: {
  runsDirectory: string;
  recipeName: string;
}): Promise<RecordedRun[]> {
  if (!existsSync(params.runsDirectory)) return [];
  const runs: RecordedRun[] = [];
  const prefix = `${params.recipeName}-`;
  for (const recipeFolder of await readdir(params.runsDirectory, { withFileTypes: true })) {
    if (!recipeFolder.isDirectory() || !recipeFolder.name.startsWith(prefix)) continue;
    const recipeDirectory = join(params.runsDirectory, recipeFolder.name);
    for (const runFolder of await readdir(recipeDirectory, { withFileTypes: true })) {
      if (!runFolder.isDirectory()) continue;
      const runDirectory = join(recipeDirectory, runFolder.name);
      const candidates = existsSync(join(runDirectory, "seeds.json"))
        ? (await readdir(runDirectory, { withFileTypes: true }))
            .filter((entry) => entry.isDirectory() && entry.name.startsWith("seed-"))
            .map((entry) => join(runDirectory, entry.name))
        : [runDirectory];
      for (const candidate of candidates) {
        const run = await readRecordedRun(candidate, recipeFolder.name);
        if (run !== null && run.recipe.name === params.recipeName) runs.push(run);
      }
    }
  }
  return runs;
}
