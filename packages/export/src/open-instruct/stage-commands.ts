/**
 * Translating a recipe's stages into open-instruct invocations for one commit's flag table.
 *
 * Every argument is written out (none left to open-instruct's defaults, which moved between
 * versions). Anything the commit cannot express is collected as an issue naming the recipe
 * field (`stages[1].hyperparameters.loss.type`) and the whole export fails with all of them.
 * Embedded-engine settings with no effect on the result (`lossChunks`, `threads`,
 * `referenceCacheDirectory`) have no open-instruct counterpart and are not exported.
 */
import type { Recipe, Stage } from "@posttrain/recipe";
import { ExportError } from "../errors.js";
import type { DpoFlag, GrpoFlag, OpenInstructCommit, PpoFlag, TrainingFlag } from "./commits.js";

/** A recipe field open-instruct (at the chosen commit) cannot express. */
export interface ExportIssue {
  /** The recipe path, e.g. `stages[0].hyperparameters.reduction`. */
  field: string;
  message: string;
}

/** A model the stage starts from: a Hub repo (with its revision) or a path the bundle produces. */
export type ModelSource = { kind: "hub"; repo: string; revision: string } | { kind: "path"; path: string };

/** Where each mixture source's files are in the bundle (relative paths), by lock key `<stage>.train[i]`. */
export type DatasetPaths = Record<string, readonly string[]>;

/** The cluster shape of an RLVR stage (open-instruct places learners and vLLM engines with Ray). */
export interface ReinforcementLayout {
  /** Learner GPUs on each node (`--num_learners_per_node` / PPO `--actor_num_gpus_per_node`). */
  learnersPerNode: number[];
  /** vLLM engines (one GPU each at tensor parallel 1). */
  vllmEngines: number;
  vllmTensorParallelSize: number;
  perDeviceTrainBatchSize: number;
  /** PPO only: the reward model path (it also initialises the value model); its multiplier is 0 (verifiable rewards only). */
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
  /** RLVR layouts by stage name; defaults: PPO 7 learners + 1 vLLM (per-device 2), GRPO 8 learners + 8 vLLM (per-device 1). */
  reinforcementLayouts?: Record<string, ReinforcementLayout>;
  /** The base model's pinned revision (from the lock); default the recipe's. */
  modelRevision?: string;
  /** The tokenizer's pinned revision (from the lock); default the recipe's. */
  tokenizerRevision?: string;
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
}

const fraction = (value: number) => (Number.isInteger(value) ? value.toFixed(1) : String(value));
const number = (value: number) => String(value);

class ArgumentWriter<Flag extends string> {
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
    if (name === null) {
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

const defaultAdamW = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

function checkAdamW(params: {
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
  if (!params.weightDecayFlag && params.adamW.weightDecay !== 0)
    params.issues.push({
      field: `${params.path}.adamW.weightDecay`,
      message: "open-instruct's RL scripts have no weight-decay flag (they train with 0)",
    });
}

function schedulerType(params: {
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

function mixerEntries(params: {
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

function inputModel(params: {
  recipe: Recipe;
  index: number;
  options: StageCommandOptions;
  outputs: string[];
  issues: ExportIssue[];
}): ModelSource | null {
  const { recipe, index } = params;
  if (index === 0) {
    if (recipe.model.kind !== "hub") {
      params.issues.push({
        field: "model.kind",
        message: "open-instruct starts from a Hub checkpoint, not a fresh initialisation",
      });
      return null;
    }
    return {
      kind: "hub",
      repo: recipe.model.repo,
      revision: params.options.modelRevision ?? recipe.model.revision,
    };
  }
  if ((params.options.startFrom ?? "previous") === "previous") {
    return { kind: "path", path: params.outputs[index - 1] ?? "" };
  }
  const published = recipe.stages[index - 1]?.publishedCheckpoint;
  // A stage whose predecessor has no published checkpoint (OLMo 2's second GRPO stage) chains.
  if (published === undefined) return { kind: "path", path: params.outputs[index - 1] ?? "" };
  return { kind: "hub", repo: published.repo, revision: published.revision };
}

function chatTemplateName(params: { recipe: Recipe; issues: ExportIssue[] }): string {
  const template = params.recipe.tokenizer.chatTemplate;
  if (template === "tulu" || template === "zephyr") return template;
  params.issues.push({
    field: "tokenizer.chatTemplate",
    message: `open-instruct's --chat_template_name cannot express ${JSON.stringify(template)} (supported: tulu, zephyr)`,
  });
  return "tulu";
}

function layoutOf(params: {
  nodes: number;
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

function trainingStage(params: {
  recipe: Recipe;
  stage: Extract<Stage, { type: "sft" | "dpo" }>;
  index: number;
  commit: OpenInstructCommit;
  model: ModelSource | null;
  options: StageCommandOptions;
  datasetPaths: DatasetPaths;
  outputDirectory: string;
  issues: ExportIssue[];
}): StageCommand {
  const { recipe, stage, index, commit, issues } = params;
  const path = `stages[${index}].hyperparameters`;
  const hyper = stage.hyperparameters;
  const script = stage.type === "sft" ? commit.scripts.sft : commit.scripts.dpo;
  const table = (stage.type === "sft" ? commit.sft : commit.dpo) as Record<
    TrainingFlag | DpoFlag,
    string | null
  >;
  const writer = new ArgumentWriter<TrainingFlag | DpoFlag>(table, issues, commit.commit, script);
  const model = params.model;
  if (model !== null) {
    writer.write("modelNameOrPath", model.kind === "hub" ? model.repo : model.path);
    if (model.kind === "hub") writer.write("modelRevision", model.revision);
  }
  const tokenizer = recipe.tokenizer.source;
  if (tokenizer.kind === "hub") {
    writer.write("tokenizerName", tokenizer.repo);
    writer.write("tokenizerRevision", params.options.tokenizerRevision ?? tokenizer.revision);
  } else {
    issues.push({
      field: "tokenizer.source",
      message: "open-instruct loads the tokenizer from the Hub; a local tokenizer folder cannot be exported",
    });
  }
  writer.write("useSlowTokenizer", true);
  writer.write("useFlashAttention", true);
  writer.write("chatTemplateName", chatTemplateName({ recipe, issues }), "tokenizer.chatTemplate");
  writer.write("addBos", recipe.tokenizer.addBos, "tokenizer.addBos");
  writer.write("maxSequenceLength", number(stage.data.maxLength), `stages[${index}].data.maxLength`);
  if (stage.data.packing !== null)
    issues.push({
      field: `stages[${index}].data.packing`,
      message: `${script} has no packing matching the embedded engine's`,
    });
  const batch = hyper.batch;
  writer.write(
    "perDeviceTrainBatchSize",
    number(batch.perDeviceBatchSize),
    `${path}.batch.perDeviceBatchSize`,
  );
  writer.write(
    "gradientAccumulationSteps",
    number(batch.gradientAccumulationSteps),
    `${path}.batch.gradientAccumulationSteps`,
  );
  writer.write("learningRate", number(hyper.learningRate.peak), `${path}.learningRate.peak`);
  const scheduler = schedulerType({ learningRate: hyper.learningRate, path, issues, allowRatio: true });
  writer.write("learningRateSchedulerType", scheduler.type, `${path}.learningRate.schedule`);
  writer.write("warmupRatio", number(scheduler.ratio), `${path}.learningRate.warmup`);
  writer.write("weightDecay", number(hyper.adamW.weightDecay), `${path}.adamW.weightDecay`);
  checkAdamW({ adamW: hyper.adamW, path, issues, weightDecayFlag: true });
  if ("epochs" in hyper.duration)
    writer.write("epochs", number(hyper.duration.epochs), `${path}.duration.epochs`);
  else writer.write("maxTrainSteps", number(hyper.duration.steps), `${path}.duration.steps`);
  writer.write(
    "clipGradientNorm",
    hyper.maxGradientNorm === null ? "-1" : number(hyper.maxGradientNorm),
    `${path}.maxGradientNorm`,
  );
  writer.write("seed", number(hyper.seed), `${path}.seed`);
  writer.write("checkpointingSteps", number(hyper.checkpointEverySteps), `${path}.checkpointEverySteps`);
  if (hyper.evaluation !== null)
    issues.push({
      field: `${path}.evaluation`,
      message: `${script} has no held-out evaluation during training`,
    });
  const mixer = stage.data.train.flatMap((spec, sourceIndex) =>
    mixerEntries({
      key: `${stage.name}.train[${sourceIndex}]`,
      paths: params.datasetPaths,
      amount: spec.amount,
      field: `stages[${index}].data.train[${sourceIndex}]`,
      issues,
    }),
  );
  writer.write("datasetMixerList", mixer, `stages[${index}].data.train`);
  writer.write(
    "datasetTransformFunctions",
    stage.type === "sft"
      ? ["sft_tulu_tokenize_and_truncate_v1", "sft_tulu_filter_v1"]
      : ["preference_tulu_tokenize_and_truncate_v1", "preference_tulu_filter_v1"],
  );
  if (stage.type === "sft") {
    const reduction = stage.hyperparameters.reduction;
    if (writer.has("reduceLoss")) writer.write("reduceLoss", reduction);
    else if (commit.removedBehaviour.sftReduction !== reduction)
      issues.push({
        field: `${path}.reduction`,
        message: `open-instruct ${commit.commit} removed --reduce_loss (#1024): its loss is always ${commit.removedBehaviour.sftReduction}, the recipe asks for ${reduction}`,
      });
  } else {
    const loss = stage.hyperparameters.loss;
    writer.write("lossType", loss.type, `${path}.loss.type`);
    writer.write("beta", number(loss.beta), `${path}.loss.beta`);
    writer.write("labelSmoothing", number(loss.labelSmoothing), `${path}.loss.labelSmoothing`);
    writer.write("gammaBetaRatio", number(loss.gammaBetaRatio), `${path}.loss.gammaBetaRatio`);
    writer.write("gradientCheckpointing", true);
    writer.write("useLora", false);
  }
  writer.write("loggingSteps", "1");
  writer.write("outputDirectory", params.outputDirectory);
  const gpusPerNode = params.options.gpusPerNode ?? 8;
  const layout = layoutOf({ nodes: 0, gpusPerNode, devices: batch.devices, path, issues });
  const product = batch.devices * batch.perDeviceBatchSize * batch.gradientAccumulationSteps;
  if (batch.effectiveBatchSize !== undefined && batch.effectiveBatchSize !== product) {
    throw new ExportError({
      code: "export_batch_mismatch",
      message: `${path}.batch: ${batch.devices} GPUs × ${batch.perDeviceBatchSize} × ${batch.gradientAccumulationSteps} = ${product}, but effectiveBatchSize is ${batch.effectiveBatchSize}`,
      details: {
        field: `${path}.batch.effectiveBatchSize`,
        product,
        effectiveBatchSize: batch.effectiveBatchSize,
      },
    });
  }
  return {
    stage: stage.name,
    type: stage.type,
    script,
    launcher: "accelerate",
    deepspeedStage: params.options.deepspeedStages?.[stage.name] ?? 3,
    arguments: writer.arguments,
    batch: {
      nodes: layout.nodes,
      gpusPerNode: layout.perNode,
      processes: batch.devices,
      perDeviceTrainBatchSize: batch.perDeviceBatchSize,
      gradientAccumulationSteps: batch.gradientAccumulationSteps,
      effectiveBatchSize: product,
      formula: `${batch.devices} GPUs × ${batch.perDeviceBatchSize} per device × ${batch.gradientAccumulationSteps} accumulation = ${product}`,
    },
    outputDirectory: params.outputDirectory,
  };
}

const defaultLayouts: Record<"ppo" | "grpo", ReinforcementLayout> = {
  ppo: { learnersPerNode: [7], vllmEngines: 1, vllmTensorParallelSize: 1, perDeviceTrainBatchSize: 2 },
  grpo: { learnersPerNode: [8], vllmEngines: 8, vllmTensorParallelSize: 1, perDeviceTrainBatchSize: 1 },
};

function reinforcementStage(params: {
  recipe: Recipe;
  stage: Extract<Stage, { type: "rlvr" }>;
  index: number;
  commit: OpenInstructCommit;
  model: ModelSource | null;
  options: StageCommandOptions;
  datasetPaths: DatasetPaths;
  outputDirectory: string;
  issues: ExportIssue[];
}): StageCommand {
  const { recipe, stage, index, commit, issues } = params;
  const path = `stages[${index}].hyperparameters`;
  const hyper = stage.hyperparameters;
  const algorithm = hyper.algorithm;
  const layout = params.options.reinforcementLayouts?.[stage.name] ?? defaultLayouts[algorithm];
  const learners = layout.learnersPerNode.reduce((sum, count) => sum + count, 0);
  const script = algorithm === "ppo" ? commit.scripts.ppo : commit.scripts.grpo;
  const table = algorithm === "ppo" ? commit.ppo : commit.grpo;
  const deepspeedStage = params.options.deepspeedStages?.[stage.name] ?? (algorithm === "grpo" ? 2 : 3);
  const episodesPerStep = hyper.promptsPerStep * hyper.samplesPerPrompt;
  const batch: BatchArithmetic = {
    nodes: layout.learnersPerNode.length,
    gpusPerNode: Math.max(...layout.learnersPerNode),
    processes: learners,
    perDeviceTrainBatchSize: layout.perDeviceTrainBatchSize,
    gradientAccumulationSteps: 1,
    effectiveBatchSize: episodesPerStep,
    formula: `${hyper.promptsPerStep} prompts × ${hyper.samplesPerPrompt} samples = ${episodesPerStep} episodes per step on ${learners} learner GPUs`,
  };
  if (script === null || table === null) {
    issues.push({
      field: `${path}.algorithm`,
      message: `open-instruct ${commit.commit} has no ${algorithm.toUpperCase()} script${algorithm === "ppo" ? " (the PPO Ray script was deleted in #1132)" : ""}`,
    });
    return {
      stage: stage.name,
      type: "rlvr",
      script: "",
      launcher: "ray",
      deepspeedStage,
      arguments: [],
      batch,
      outputDirectory: params.outputDirectory,
    };
  }
  checkAdamW({ adamW: hyper.adamW, path, issues, weightDecayFlag: false });
  if (hyper.maxGradientNorm !== 1)
    issues.push({
      field: `${path}.maxGradientNorm`,
      message: "open-instruct's RL scripts clip gradients at 1.0 (DeepSpeed gradient_clipping) with no flag",
    });
  if (hyper.rewards.verification !== 10 && algorithm === "ppo")
    issues.push({
      field: `${path}.rewards.verification`,
      message: `${script} gives a fixed verification reward of 10`,
    });
  const scheduler = schedulerType({ learningRate: hyper.learningRate, path, issues, allowRatio: false });
  const model = params.model;
  const modelName = model === null ? "" : model.kind === "hub" ? model.repo : model.path;
  const mixerFiles = stage.data.train.map((spec, sourceIndex) => ({
    files: params.datasetPaths[`${stage.name}.train[${sourceIndex}]`] ?? [],
    spec,
    field: `stages[${index}].data.train[${sourceIndex}]`,
  }));
  const evaluationFiles =
    stage.data.evaluation.length > 0
      ? (params.datasetPaths[`${stage.name}.evaluation[0]`] ?? [])
      : (mixerFiles[0]?.files ?? []);
  if (algorithm === "ppo") {
    const writer = new ArgumentWriter<PpoFlag>(
      table as Record<PpoFlag, string | null>,
      issues,
      commit.commit,
      script,
    );
    if (hyper.samplesPerPrompt !== 1)
      issues.push({
        field: `${path}.samplesPerPrompt`,
        message: `${script} samples one completion per prompt`,
      });
    if (hyper.promptsPerStep % learners !== 0)
      throw new ExportError({
        code: "export_batch_mismatch",
        message: `${path}.promptsPerStep ${hyper.promptsPerStep} is not a multiple of ${learners} learner GPUs`,
        details: { field: `${path}.promptsPerStep`, learners },
      });
    const localRollout = hyper.promptsPerStep / learners;
    if (localRollout % hyper.miniBatches !== 0)
      throw new ExportError({
        code: "export_batch_mismatch",
        message: `${path}.miniBatches ${hyper.miniBatches} does not divide the local rollout batch ${localRollout}`,
        details: { field: `${path}.miniBatches`, localRollout },
      });
    const localMini = localRollout / hyper.miniBatches;
    if (localMini % layout.perDeviceTrainBatchSize !== 0)
      throw new ExportError({
        code: "export_batch_mismatch",
        message: `per-device batch ${layout.perDeviceTrainBatchSize} does not divide the local mini-batch ${localMini}`,
        details: { field: `${path}.miniBatches`, localMini },
      });
    batch.gradientAccumulationSteps = localMini / layout.perDeviceTrainBatchSize;
    batch.formula = `${learners} learner GPUs × ${localRollout} local rollout = ${hyper.promptsPerStep} prompts per step; mini-batch ${localMini} = ${layout.perDeviceTrainBatchSize} per device × ${batch.gradientAccumulationSteps} accumulation`;
    if (layout.rewardModel === undefined)
      issues.push({
        field: `${path}.algorithm`,
        message:
          "PPO needs a reward model to initialise the value model: give the stage's layout a rewardModel",
      });
    writer.write("modelNameOrPath", modelName);
    writer.write("rewardModelPath", layout.rewardModel ?? "");
    writer.write("rewardModelMultiplier", "0.0");
    for (const entry of mixerFiles) {
      const amount = entry.spec.amount ?? { fraction: 1 };
      if ("rows" in amount)
        issues.push({ field: `${entry.field}.amount`, message: `${script}'s mixer takes fractions` });
    }
    const mixer = Object.fromEntries(
      mixerFiles.flatMap((entry) => {
        const amount = entry.spec.amount ?? { fraction: 1 };
        return entry.files.map((file) => [file, "fraction" in amount ? amount.fraction : 1]);
      }),
    );
    const mixerJson = `{${Object.entries(mixer)
      .map(([file, value]) => `${JSON.stringify(file)}: ${fraction(value)}`)
      .join(", ")}}`;
    writer.write("datasetMixer", mixerJson, `stages[${index}].data.train`);
    writer.write("datasetTrainSplits", "train");
    if (hyper.evaluation !== null) {
      writer.write(
        "datasetEvalMixer",
        `{${JSON.stringify(evaluationFiles[0] ?? "")}: ${hyper.evaluation.prompts}}`,
        `${path}.evaluation`,
      );
      writer.write("datasetEvalSplits", "train");
      if (hyper.evaluation.everySteps !== hyper.checkpointEverySteps)
        issues.push({
          field: `${path}.evaluation.everySteps`,
          message: `${script} evaluates at each save (--save_freq): everySteps must equal checkpointEverySteps`,
        });
    }
    writer.write(
      "maxTokenLength",
      number(hyper.sampling.maxPromptTokens),
      `${path}.sampling.maxPromptTokens`,
    );
    writer.write(
      "maxPromptTokenLength",
      number(hyper.sampling.maxPromptTokens),
      `${path}.sampling.maxPromptTokens`,
    );
    writer.write(
      "responseLength",
      number(hyper.sampling.maxResponseTokens),
      `${path}.sampling.maxResponseTokens`,
    );
    if (hyper.rewards.nonStopPenalty === null) writer.write("nonStopPenalty", false);
    else {
      writer.write("nonStopPenalty", true);
      writer.write(
        "penaltyRewardValue",
        number(hyper.rewards.nonStopPenalty),
        `${path}.rewards.nonStopPenalty`,
      );
    }
    writer.write("stopToken", "eos");
    writer.write("temperature", number(hyper.sampling.temperature), `${path}.sampling.temperature`);
    writer.write("chatTemplate", chatTemplateName({ recipe, issues }), "tokenizer.chatTemplate");
    writer.write("learningRate", number(hyper.learningRate.peak), `${path}.learningRate.peak`);
    writer.write("learningRateSchedulerType", scheduler.type, `${path}.learningRate.schedule`);
    writer.write("totalEpisodes", number(hyper.totalEpisodes), `${path}.totalEpisodes`);
    writer.write("beta", number(hyper.kl.beta), `${path}.kl.beta`);
    writer.write("klEstimator", commit.klEstimators[hyper.kl.estimator], `${path}.kl.estimator`);
    writer.write("perDeviceTrainBatchSize", number(layout.perDeviceTrainBatchSize));
    writer.write("localMiniBatchSize", number(localMini), `${path}.miniBatches`);
    writer.write("localRolloutBatchSize", number(localRollout), `${path}.promptsPerStep`);
    writer.write("epochs", number(hyper.updateEpochs), `${path}.updateEpochs`);
    writer.write("clipRange", number(hyper.clipRange), `${path}.clipRange`);
    writer.write("valueFunctionCoefficient", "0.1");
    writer.write("gamma", "1.0");
    writer.write("lambda", "0.95");
    writer.write("actorGpusPerNode", layout.learnersPerNode.map(number));
    writer.write("vllmTensorParallelSize", number(layout.vllmTensorParallelSize));
    writer.write("deepspeedStage", number(deepspeedStage));
    writer.write("applyVerifiableReward", "true");
    writer.write("seed", number(hyper.seed), `${path}.seed`);
    writer.write("saveFrequency", number(hyper.checkpointEverySteps), `${path}.checkpointEverySteps`);
    writer.write("gradientCheckpointing", true);
    writer.write("outputDirectory", params.outputDirectory);
    return {
      stage: stage.name,
      type: "rlvr",
      script,
      launcher: "ray",
      deepspeedStage,
      arguments: writer.arguments,
      batch,
      outputDirectory: params.outputDirectory,
    };
  }
  const writer = new ArgumentWriter<GrpoFlag>(
    table as Record<GrpoFlag, string | null>,
    issues,
    commit.commit,
    script,
  );
  if (hyper.samplesPerPrompt < 2)
    issues.push({ field: `${path}.samplesPerPrompt`, message: "GRPO needs at least 2 samples per prompt" });
  if (episodesPerStep % hyper.miniBatches !== 0)
    throw new ExportError({
      code: "export_batch_mismatch",
      message: `${path}.miniBatches ${hyper.miniBatches} does not divide ${episodesPerStep} episodes per step`,
      details: { field: `${path}.miniBatches`, episodesPerStep },
    });
  writer.write("modelNameOrPath", modelName);
  if (model?.kind === "hub") writer.write("modelRevision", model.revision);
  const mixer = stage.data.train.flatMap((spec, sourceIndex) =>
    mixerEntries({
      key: `${stage.name}.train[${sourceIndex}]`,
      paths: params.datasetPaths,
      amount: spec.amount,
      field: `stages[${index}].data.train[${sourceIndex}]`,
      issues,
    }),
  );
  writer.write("datasetMixerList", mixer, `stages[${index}].data.train`);
  writer.write("datasetMixerListSplits", "train");
  if (hyper.evaluation !== null) {
    writer.write(
      "datasetMixerEvalList",
      [evaluationFiles[0] ?? "", String(hyper.evaluation.prompts)],
      `${path}.evaluation`,
    );
    writer.write("datasetMixerEvalListSplits", "train");
    writer.write("localEvalEvery", number(hyper.evaluation.everySteps), `${path}.evaluation.everySteps`);
  }
  writer.write("maxTokenLength", number(hyper.sampling.maxPromptTokens));
  writer.write(
    "maxPromptTokenLength",
    number(hyper.sampling.maxPromptTokens),
    `${path}.sampling.maxPromptTokens`,
  );
  writer.write(
    "responseLength",
    number(hyper.sampling.maxResponseTokens),
    `${path}.sampling.maxResponseTokens`,
  );
  writer.write("packLength", number(stage.data.maxLength), `stages[${index}].data.maxLength`);
  writer.write("uniquePromptsPerRollout", number(hyper.promptsPerStep), `${path}.promptsPerStep`);
  writer.write("samplesPerPrompt", number(hyper.samplesPerPrompt), `${path}.samplesPerPrompt`);
  writer.write("miniBatches", number(hyper.miniBatches), `${path}.miniBatches`);
  writer.write("epochs", number(hyper.updateEpochs), `${path}.updateEpochs`);
  writer.write("learningRate", number(hyper.learningRate.peak), `${path}.learningRate.peak`);
  writer.write("learningRateSchedulerType", scheduler.type, `${path}.learningRate.schedule`);
  writer.write("totalEpisodes", number(hyper.totalEpisodes), `${path}.totalEpisodes`);
  writer.write("beta", number(hyper.kl.beta), `${path}.kl.beta`);
  writer.write("klEstimator", commit.klEstimators[hyper.kl.estimator], `${path}.kl.estimator`);
  if (writer.has("clipRange")) writer.write("clipRange", number(hyper.clipRange), `${path}.clipRange`);
  else {
    writer.write("clipLower", number(hyper.clipRange), `${path}.clipRange`);
    writer.write("clipHigher", number(hyper.clipRange), `${path}.clipRange`);
  }
  writer.write("temperature", number(hyper.sampling.temperature), `${path}.sampling.temperature`);
  if (hyper.rewards.nonStopPenalty === null) writer.write("nonStopPenalty", "False");
  else {
    writer.write("nonStopPenalty", "True");
    writer.write(
      "nonStopPenaltyValue",
      number(hyper.rewards.nonStopPenalty),
      `${path}.rewards.nonStopPenalty`,
    );
  }
  writer.write("verificationReward", number(hyper.rewards.verification), `${path}.rewards.verification`);
  writer.write("applyVerifiableReward", "true");
  writer.write("chatTemplateName", chatTemplateName({ recipe, issues }), "tokenizer.chatTemplate");
  writer.write("advantageNormalizationType", "standard");
  writer.write("asyncSteps", "1");
  writer.write("seed", number(hyper.seed), `${path}.seed`);
  writer.write("saveFrequency", number(hyper.checkpointEverySteps), `${path}.checkpointEverySteps`);
  writer.write("deepspeedStage", number(deepspeedStage));
  writer.write("perDeviceTrainBatchSize", number(layout.perDeviceTrainBatchSize));
  writer.write("learnersPerNode", layout.learnersPerNode.map(number));
  writer.write("vllmEngines", number(layout.vllmEngines));
  writer.write("vllmTensorParallelSize", number(layout.vllmTensorParallelSize));
  writer.write("gradientCheckpointing", true);
  writer.write("outputDirectory", params.outputDirectory);
  return {
    stage: stage.name,
    type: "rlvr",
    script,
    launcher: "ray",
    deepspeedStage,
    arguments: writer.arguments,
    batch,
    outputDirectory: params.outputDirectory,
  };
}

/**
 * The open-instruct invocation of each recipe stage (or of `stages` only) at one commit.
 * Throws `export_unsupported` listing every field the commit cannot express, and
 * `export_batch_mismatch` when the batch arithmetic disagrees with the recipe.
 */
export function openInstructStageCommands(params: {
  recipe: Recipe;
  commit: OpenInstructCommit;
  datasetPaths: DatasetPaths;
  options?: StageCommandOptions;
  /** Stage names to export (default all); the model chain still follows the recipe order. */
  stages?: readonly string[];
}): StageCommand[] {
  const { recipe, commit } = params;
  const options = params.options ?? {};
  for (const name of params.stages ?? []) {
    if (!recipe.stages.some((stage) => stage.name === name))
      throw new ExportError({
        code: "export_unknown_stage",
        message: `recipe ${recipe.name} has no stage "${name}" (stages: ${recipe.stages.map((stage) => stage.name).join(", ")})`,
        details: { stage: name },
      });
  }
  const issues: ExportIssue[] = [];
  const outputs = recipe.stages.map((stage) => `output/${stage.name}`);
  const commands: StageCommand[] = [];
  recipe.stages.forEach((stage, index) => {
    if (params.stages !== undefined && !params.stages.includes(stage.name)) return;
    const stageIssues: ExportIssue[] = [];
    const model = inputModel({ recipe, index, options, outputs, issues: stageIssues });
    const common = {
      recipe,
      index,
      commit,
      model,
      options,
      datasetPaths: params.datasetPaths,
      outputDirectory: outputs[index] ?? "",
      issues: stageIssues,
    };
    commands.push(
      stage.type === "rlvr" ? reinforcementStage({ ...common, stage }) : trainingStage({ ...common, stage }),
    );
    for (const issue of stageIssues)
      if (!issues.some((known) => known.field === issue.field && known.message === issue.message))
        issues.push(issue);
  });
  if (issues.length > 0) {
    throw new ExportError({
      code: "export_unsupported",
      message: `open-instruct ${commit.commit} cannot express this recipe:\n${issues.map((issue) => `  - ${issue.field}: ${issue.message}`).join("\n")}`,
      details: { commit: commit.commit, fields: issues.map((issue) => issue.field), issues },
    });
  }
  return commands;
}
