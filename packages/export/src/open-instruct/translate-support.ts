/**
 * Shared pieces of the stage translators: the types of an export, the argument writer that
 * asks a commit's flag table for names, and the checks common to every script.
 */
import type { Recipe, ReferenceStage, Stage } from "@posttrain/recipe";

/** A recipe field open-instruct (at the chosen commit) cannot express. */
export interface ExportIssue {
  /** The recipe path, e.g. `stages[0].hyperparameters.reduction`. */
  field: string;
  message: string;
}

/**
 * A model the stage starts from: a Hub repo (with its revision) or what an earlier stage of the
 * bundle writes: `directory` itself, or (`runNamePrefix`) the one run folder
 * `<directory>/<prefix><unix time>` the launch script finds before training ({@link inputModelVariable}).
 */
export type ModelSource =
  | { kind: "hub"; repo: string; revision: string }
  | { kind: "path"; path: string; directory: string; runNamePrefix: string | null };

/** The shell variable a chained stage's argv uses for a model inside a run-name folder. */
export const inputModelVariable = "$INPUT_MODEL";

/** Where each mixture source's files are in the bundle (relative paths), by lock key `<stage>.train[i]`. */
export type DatasetPaths = Record<string, readonly string[]>;

/**
 * The cluster shape of an RL stage (open-instruct places learners and vLLM engines with Ray).
 * GRPO stages take their learners and per-device batch from the recipe's `batch`; PPO stages
 * (whose recipe pins no batch) from here.
 */
export interface ReinforcementLayout {
  /** vLLM engines (one GPU each at tensor parallel 1); default the recipe reference's, else 8 (GRPO) / 1. */
  vllmEngines?: number;
  vllmTensorParallelSize?: number;
  /** PPO: learner GPUs on each node (`--actor_num_gpus_per_node`); default [7]. */
  learnersPerNode?: number[];
  /** PPO: rows per learner micro-batch (`--per_device_train_batch_size`); default 2. */
  perDeviceTrainBatchSize?: number;
  /** PPO: the reward model path (it also initialises the value model; its multiplier is 0: verifiable rewards only). */
  rewardModel?: string;
}

/** Options of one export. */
export interface StageCommandOptions {
  /** GPUs per node for SFT/DPO (default 8). */
  gpusPerNode?: number;
  /** DeepSpeed ZeRO stage per stage name (default 3). */
  deepspeedStages?: Record<string, 2 | 3>;
  /**
   * `previous` (default): each stage starts from the previous stage's output; `published`: from
   * the previous stage's published checkpoint where it has one (else its output).
   */
  startFrom?: "previous" | "published";
  /** RL layouts by stage name; defaults: PPO 7 learners + 1 vLLM engine (per-device 2), GRPO 8 vLLM engines. */
  reinforcementLayouts?: Record<string, ReinforcementLayout>;
  /** The base model's pinned revision (from the lock); default the recipe's. */
  modelRevision?: string;
  /** The tokenizer's pinned revision (from the lock); default the recipe's. */
  tokenizerRevision?: string;
  /** Per stage: the reference's tokenizer and reward-model revisions as pinned by the lock. */
  referenceRevisions?: Record<string, { tokenizer?: string; rewardModel?: string }>;
  /** Tool servers by our tool name (`python`: open-instruct's code-execution server URL) for tool-use RLVR stages. */
  toolEndpoints?: Record<string, string>;
}

/** The effective-batch arithmetic of a stage, as checked. */
export interface BatchArithmetic {
  nodes: number;
  gpusPerNode: number;
  /** Data-parallel processes (SFT/DPO) or learner GPUs (RLVR). */
  processes: number;
  perDeviceTrainBatchSize: number;
  gradientAccumulationSteps: number;
  /** processes × per-device batch × accumulation (SFT/DPO), or prompts × samples per step (RLVR). */
  effectiveBatchSize: number;
  /** The product written out, e.g. `64 GPUs × 1 × 2 = 128`. */
  formula: string;
}

/** One stage's open-instruct invocation. */
export interface StageCommand {
  stage: string;
  type: Stage["type"];
  /** The script inside the open-instruct checkout. */
  script: string;
  /** `accelerate` (accelerate launch + DeepSpeed) or `ray` (the script places itself on a Ray cluster). */
  launcher: "accelerate" | "ray";
  deepspeedStage: 2 | 3;
  /** The script's arguments, flag then value(s), every one explicit. */
  arguments: string[];
  batch: BatchArithmetic;
  /** Where the stage writes its model, relative to the bundle. */
  outputDirectory: string;
  /** The run folder the script creates inside `outputDirectory` (`<exp_name>__<seed>__`), or null. */
  outputRunNamePrefix: string | null;
  /** A chained input inside an earlier stage's run folder (resolved into `$INPUT_MODEL`), or null. */
  inputModel: { directory: string; runNamePrefix: string } | null;
  /** Recipe settings with no open-instruct counterpart that do not change the trained model. */
  omitted: Array<{ field: string; reason: string }>;
}

export const fraction = (value: number) => (Number.isInteger(value) ? value.toFixed(1) : String(value));
export const number = (value: number) => String(value);

export class ArgumentWriter<Flag extends string> {
  readonly arguments: string[] = [];
  constructor(
    private readonly table: Record<Flag, string | null>,
    private readonly issues: ExportIssue[],
    private readonly commit: string,
    private readonly script: string,
  ) {}

  /**
   * Writes `flag value…` (`true`: the bare flag, `false`: `flag False`). When the commit has
   * no such flag: with `field`, an issue naming it; without, the argument only pinned a
   * behaviour the commit no longer makes configurable and is left out.
   */
  write(flag: Flag, value: string | readonly string[] | boolean, field?: string): void {
    const name = this.table[flag];
    if (name === null || name === undefined) {
      if (field !== undefined)
        this.issues.push({
          field,
          message: `${this.script} at open-instruct ${this.commit} has no flag for ${flag}`,
        });
      return;
    }
    if (value === true) this.arguments.push(name);
    else if (value === false) this.arguments.push(name, "False");
    else if (typeof value === "string") this.arguments.push(name, value);
    else this.arguments.push(name, ...value);
  }

  has(flag: Flag): boolean {
    return this.table[flag] !== null;
  }
}

export const defaultAdamW = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
/** torch.optim.AdamW's default weight_decay. */
export const torchAdamWWeightDecay = 0.01;

/** The common inputs of every stage translator. */
export interface StageTranslationParams<Type extends Stage["type"]> {
  recipe: Recipe;
  stage: Extract<Stage, { type: Type }>;
  index: number;
  commit: import("./commits.js").OpenInstructCommit;
  model: ModelSource | null;
  options: StageCommandOptions;
  datasetPaths: DatasetPaths;
  outputDirectory: string;
  /** The recipe's reference for this stage, if it has one. */
  reference: ReferenceStage | undefined;
  issues: ExportIssue[];
}

/** The model argument of a stage: a Hub repo, a directory, or `$INPUT_MODEL` for a run folder. */
export function modelArgument(model: ModelSource | null): string {
  if (model === null) return "";
  if (model.kind === "hub") return model.repo;
  return model.runNamePrefix === null ? model.path : inputModelVariable;
}

/** The chained input of a stage command (see {@link StageCommand.inputModel}). */
export function chainedInput(model: ModelSource | null): StageCommand["inputModel"] {
  return model?.kind === "path" && model.runNamePrefix !== null
    ? { directory: model.directory, runNamePrefix: model.runNamePrefix }
    : null;
}

/** The run name prefix a script creates (`<exp_name>__<seed>__`) under its saving convention, or null. */
export function runNamePrefix(params: {
  commit: import("./commits.js").OpenInstructCommit;
  script: string;
  experimentName: string;
  seed: number;
}): string | null {
  const convention = params.commit.saving[params.script] ?? "output-directory";
  return convention === "run-name-subfolder" ? `${params.experimentName}__${params.seed}__` : null;
}

export function checkAdamW(params: {
  adamW: { beta1: number; beta2: number; epsilon: number; weightDecay: number };
  path: string;
  issues: ExportIssue[];
  weightDecayFlag: boolean;
}): void {
  for (const key of ["beta1", "beta2", "epsilon"] as const) {
    if (params.adamW[key] !== defaultAdamW[key])
      params.issues.push({
        field: `${params.path}.adamW.${key}`,
        message: `open-instruct uses torch AdamW's ${key} = ${defaultAdamW[key]} and has no flag for it (recipe: ${params.adamW[key]})`,
      });
  }
  // ppo_vllm_thread_ray_gtrl.py:608 (e363290) and grpo_vllm_thread_ray_gtrl.py:682 (89b4f62)
  // build torch.optim.AdamW(params, lr=...) whose weight_decay defaults to 0.01.
  if (!params.weightDecayFlag && params.adamW.weightDecay !== torchAdamWWeightDecay)
    params.issues.push({
      field: `${params.path}.adamW.weightDecay`,
      message: `open-instruct's Ray RL scripts have no weight-decay flag and train with torch AdamW's default ${torchAdamWWeightDecay} (recipe: ${params.adamW.weightDecay})`,
    });
}

export function schedulerType(params: {
  learningRate: { schedule: string; warmup: { ratio: number } | { steps: number } };
  path: string;
  issues: ExportIssue[];
  allowRatio: boolean;
}): { type: string; ratio: number } {
  const { learningRate } = params;
  let ratio = 0;
  if ("ratio" in learningRate.warmup) {
    ratio = learningRate.warmup.ratio;
    if (!params.allowRatio && ratio !== 0)
      params.issues.push({
        field: `${params.path}.learningRate.warmup`,
        message: "open-instruct's RL scripts take no warmup",
      });
  } else if (learningRate.warmup.steps !== 0) {
    params.issues.push({
      field: `${params.path}.learningRate.warmup.steps`,
      message: "open-instruct takes warmup as a ratio (--warmup_ratio), not steps",
    });
  }
  const type =
    learningRate.schedule === "constant"
      ? ratio > 0
        ? "constant_with_warmup"
        : "constant"
      : learningRate.schedule;
  return { type, ratio };
}

export function mixerEntries(params: {
  key: string;
  paths: DatasetPaths;
  amount: { rows: number } | { fraction: number } | undefined;
  field: string;
  issues: ExportIssue[];
}): string[] {
  const files = params.paths[params.key];
  if (files === undefined || files.length === 0) {
    params.issues.push({ field: params.field, message: `no materialised files for ${params.key}` });
    return [];
  }
  const amount = params.amount ?? { fraction: 1 };
  if ("rows" in amount && files.length > 1) {
    params.issues.push({
      field: `${params.field}.amount`,
      message: `a row count over ${files.length} files: open-instruct's mixer takes an amount per file; use a fraction`,
    });
    return [];
  }
  const value = "rows" in amount ? String(amount.rows) : fraction(amount.fraction);
  return files.flatMap((file) => [file, value]);
}

export function chatTemplateName(params: { recipe: Recipe; issues: ExportIssue[] }): string {
  const template = params.recipe.tokenizer.chatTemplate;
  if (template === "tulu" || template === "zephyr") return template;
  params.issues.push({
    field: "tokenizer.chatTemplate",
    message: `open-instruct's --chat_template_name cannot express ${JSON.stringify(template)} (supported: tulu, zephyr)`,
  });
  return "tulu";
}

export function layoutOf(params: {
  gpusPerNode: number;
  devices: number;
  path: string;
  issues: ExportIssue[];
}): { nodes: number; perNode: number } {
  const { devices, gpusPerNode } = params;
  if (devices <= gpusPerNode) return { nodes: 1, perNode: devices };
  if (devices % gpusPerNode !== 0) {
    params.issues.push({
      field: `${params.path}.batch.devices`,
      message: `${devices} devices do not fill whole ${gpusPerNode}-GPU nodes`,
    });
  }
  return { nodes: Math.ceil(devices / gpusPerNode), perNode: gpusPerNode };
}
