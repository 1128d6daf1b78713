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
 * - time: FLOPs / (measured MatMul GFLOP/s × efficiency), efficiency being the share of the
 *   MatMul peak a whole training step reaches (an assumption, 0.5 by default).
 */
import type { DatasetSpec } from "@posttrain/data";
import type { LlamaConfig } from "@posttrain/engine";
import { parseLlamaConfig } from "@posttrain/engine";
import type { RecipeLock } from "./lock.js";
import { datasetPlaces } from "./lock.js";
import type { Recipe, Stage } from "./schema.js";

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
}): RecipePlan {
  const { recipe } = params;
  const config = parseLlamaConfig(
    recipe.model.kind === "hub" ? recipe.model.architecture : recipe.model.config,
  );
  const n = parameterCount({ config });
  const places = new Map(datasetPlaces(recipe).map((place) => [place.key, place]));
  const seconds = (flops: number | null) =>
    flops === null || params.throughput === undefined
      ? null
      : flops / (params.throughput.matmulGflops * 1e9 * params.throughput.efficiency);

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
    return {
      name: stage.name,
      type: stage.type,
      rows: trainingRows,
      rowsFrom,
      trainingTokens,
      generatedTokens,
      tokensPerRowFrom: measured === undefined ? "max_length" : "measured",
      flops,
      memoryBytes,
      estimatedSeconds: seconds(flops),
    };
  });
  const totalFlops = stages.some((stage) => stage.flops === null)
    ? null
    : stages.reduce((sum, stage) => sum + (stage.flops ?? 0), 0);
  return {
    recipe: recipe.name,
    version: recipe.version,
    parameters: n,
    stages,
    totalFlops,
    totalSeconds: seconds(totalFlops),
    throughput: params.throughput ?? null,
  };
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

/** The plan as the table `posttrain plan` prints. */
export function formatPlan(plan: RecipePlan): string {
  const lines = [
    `recipe ${plan.recipe}@${plan.version}: ${formatCount(plan.parameters)} parameters`,
    plan.throughput === null
      ? "time: no throughput measured"
      : `time assumes ${plan.throughput.matmulGflops.toFixed(1)} GFLOP/s MatMul on this machine × ${plan.throughput.efficiency} efficiency`,
    "",
    "stage      type  rows          tokens        FLOPs        memory      time",
  ];
  for (const stage of plan.stages) {
    lines.push(
      [
        stage.name.padEnd(10),
        stage.type.padEnd(5),
        `${formatCount(stage.rows)} (${stage.rowsFrom})`.padEnd(13),
        `${formatCount(stage.trainingTokens)}${stage.tokensPerRowFrom === "max_length" ? " ≤" : ""}`.padEnd(
          13,
        ),
        formatCount(stage.flops).padEnd(12),
        formatBytes(stage.memoryBytes.total).padEnd(11),
        formatSeconds(stage.estimatedSeconds),
      ].join(" "),
    );
  }
  lines.push("", `total: ${formatCount(plan.totalFlops)} FLOPs, ${formatSeconds(plan.totalSeconds)}`);
  lines.push(
    "(≤: tokens per row taken as maxLength, an upper bound; memory: fp32 weights + gradients + AdamW + reference + one micro-batch of activations)",
  );
  return lines.join("\n");
}
