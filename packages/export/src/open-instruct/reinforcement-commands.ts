/**
 * RL stage invocations: PPO stages (Tulu 3, `ppo_vllm_thread_ray_gtrl.py`) and GRPO-family
 * `rlvr` stages (`grpo_fast.py`). Both run as plain `python` on a Ray cluster's head; the
 * scripts place learners and vLLM engines themselves.
 */
import type { Recipe, Stage } from "@posttrain/recipe";
import { ExportError } from "../errors.js";
import type { GrpoFlag, OpenInstructCommit, PpoFlag } from "./commits.js";
import {
  ArgumentWriter,
  type BatchArithmetic,
  chatTemplateName,
  checkAdamW,
  type DatasetPaths,
  type ExportIssue,
  fraction,
  layoutOf,
  type ModelSource,
  mixerEntries,
  number,
  type StageCommand,
  type StageCommandOptions,
  schedulerType,
} from "./translate-support.js";

interface ReinforcementParams<Type extends "ppo" | "rlvr"> {
  recipe: Recipe;
  stage: Extract<Stage, { type: Type }>;
  index: number;
  commit: OpenInstructCommit;
  model: ModelSource | null;
  options: StageCommandOptions;
  datasetPaths: DatasetPaths;
  outputDirectory: string;
  issues: ExportIssue[];
}

function unavailable(params: {
  stage: string;
  type: StageCommand["type"];
  field: string;
  message: string;
  issues: ExportIssue[];
  batch: BatchArithmetic;
  deepspeedStage: 2 | 3;
  outputDirectory: string;
}): StageCommand {
  params.issues.push({ field: params.field, message: params.message });
  return {
    stage: params.stage,
    type: params.type,
    script: "",
    launcher: "ray",
    deepspeedStage: params.deepspeedStage,
    arguments: [],
    batch: params.batch,
    outputDirectory: params.outputDirectory,
    omitted: [],
  };
}

const modelName = (model: ModelSource | null) =>
  model === null ? "" : model.kind === "hub" ? model.repo : model.path;

/** A Tulu 3 PPO stage on `ppo_vllm_thread_ray_gtrl.py`. */
export function ppoStage(params: ReinforcementParams<"ppo">): StageCommand {
  const { recipe, stage, index, commit, issues } = params;
  const path = `stages[${index}].hyperparameters`;
  const hyper = stage.hyperparameters;
  const layout = params.options.reinforcementLayouts?.[stage.name];
  const learnersPerNode = layout?.learnersPerNode ?? [7];
  const perDevice = layout?.perDeviceTrainBatchSize ?? 2;
  const learners = learnersPerNode.reduce((sum, count) => sum + count, 0);
  const deepspeedStage = params.options.deepspeedStages?.[stage.name] ?? 3;
  const batch: BatchArithmetic = {
    nodes: learnersPerNode.length,
    gpusPerNode: Math.max(...learnersPerNode),
    processes: learners,
    perDeviceTrainBatchSize: perDevice,
    gradientAccumulationSteps: 1,
    effectiveBatchSize: hyper.promptsPerStep * hyper.samplesPerPrompt,
    formula: "",
  };
  const script = commit.scripts.ppo;
  const table = commit.ppo;
  if (script === null || table === null)
    return unavailable({
      stage: stage.name,
      type: "ppo",
      field: `stages[${index}].type`,
      message: `open-instruct ${commit.commit} has no PPO script (the PPO Ray script was deleted in #1132)`,
      issues,
      batch,
      deepspeedStage,
      outputDirectory: params.outputDirectory,
    });
  const writer = new ArgumentWriter<PpoFlag>(table, issues, commit.commit, script);
  checkAdamW({ adamW: hyper.adamW, path, issues, weightDecayFlag: false });
  if (hyper.maxGradientNorm !== 1)
    issues.push({
      field: `${path}.maxGradientNorm`,
      message: `${script} clips gradients at 1.0 (DeepSpeed gradient_clipping) with no flag`,
    });
  if (hyper.rewards.verification !== 10)
    issues.push({
      field: `${path}.rewards.verification`,
      message: `${script} gives a fixed verification reward of 10`,
    });
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
  if (localMini % perDevice !== 0)
    throw new ExportError({
      code: "export_batch_mismatch",
      message: `per-device batch ${perDevice} does not divide the local mini-batch ${localMini}`,
      details: { field: `${path}.miniBatches`, localMini },
    });
  batch.gradientAccumulationSteps = localMini / perDevice;
  batch.formula = `${learners} learner GPUs × ${localRollout} local rollout = ${hyper.promptsPerStep} prompts per step; mini-batch ${localMini} = ${perDevice} per device × ${batch.gradientAccumulationSteps} accumulation`;
  if (layout?.rewardModel === undefined)
    issues.push({
      field: `stages[${index}].type`,
      message:
        "PPO needs a reward model to initialise the value model: give the stage's layout a rewardModel",
    });
  const scheduler = schedulerType({ learningRate: hyper.learningRate, path, issues, allowRatio: false });
  writer.write("modelNameOrPath", modelName(params.model));
  writer.write("rewardModelPath", layout?.rewardModel ?? "");
  writer.write("rewardModelMultiplier", "0.0");
  const mixer: Array<[string, number]> = [];
  stage.data.train.forEach((spec, sourceIndex) => {
    const field = `stages[${index}].data.train[${sourceIndex}]`;
    const amount = spec.amount ?? { fraction: 1 };
    if ("rows" in amount)
      issues.push({ field: `${field}.amount`, message: `${script}'s mixer takes fractions` });
    const files = params.datasetPaths[`${stage.name}.train[${sourceIndex}]`] ?? [];
    if (files.length === 0)
      issues.push({ field, message: `no materialised files for ${stage.name}.train[${sourceIndex}]` });
    for (const file of files) mixer.push([file, "fraction" in amount ? amount.fraction : 1]);
  });
  const mixerJson = `{${mixer.map(([file, value]) => `${JSON.stringify(file)}: ${fraction(value)}`).join(", ")}}`;
  writer.write("datasetMixer", mixerJson, `stages[${index}].data.train`);
  writer.write("datasetTrainSplits", "train");
  if (hyper.evaluation !== null) {
    const evaluationFiles =
      stage.data.evaluation.length > 0
        ? (params.datasetPaths[`${stage.name}.evaluation[0]`] ?? [])
        : mixer[0] === undefined
          ? []
          : [mixer[0][0]];
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
  writer.write("maxTokenLength", number(hyper.sampling.maxPromptTokens), `${path}.sampling.maxPromptTokens`);
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
  writer.write("perDeviceTrainBatchSize", number(perDevice));
  writer.write("localMiniBatchSize", number(localMini), `${path}.miniBatches`);
  writer.write("localRolloutBatchSize", number(localRollout), `${path}.promptsPerStep`);
  writer.write("epochs", number(hyper.updateEpochs), `${path}.updateEpochs`);
  writer.write("clipRange", number(hyper.clipRange), `${path}.clipRange`);
  // Not in the recipe: the published run's values (open-instruct's defaults then), pinned.
  writer.write("valueFunctionCoefficient", "0.1");
  writer.write("gamma", "1.0");
  writer.write("lambda", "0.95");
  writer.write("actorGpusPerNode", learnersPerNode.map(number));
  writer.write("vllmTensorParallelSize", number(layout?.vllmTensorParallelSize ?? 1));
  writer.write("deepspeedStage", number(deepspeedStage));
  writer.write("applyVerifiableReward", "true");
  writer.write("seed", number(hyper.seed), `${path}.seed`);
  writer.write("saveFrequency", number(hyper.checkpointEverySteps), `${path}.checkpointEverySteps`);
  writer.write("gradientCheckpointing", true);
  writer.write("outputDirectory", params.outputDirectory);
  return {
    stage: stage.name,
    type: "ppo",
    script,
    launcher: "ray",
    deepspeedStage,
    arguments: writer.arguments,
    batch,
    outputDirectory: params.outputDirectory,
    omitted: [{ field: `${path}.threads`, reason: "onnxruntime threads of the embedded engine" }],
  };
}

/**
 * A GRPO-family `rlvr` stage on `grpo_fast.py`. Learners = `batch.devices` (whole nodes of
 * `gpusPerNode`); one rollout step = promptsPerStep × samplesPerPrompt episodes, split into
 * `--num_mini_batches` optimizer mini-batches of the recipe's effective batch.
 */
export function grpoStage(params: ReinforcementParams<"rlvr">): StageCommand {
  const { recipe, stage, index, commit, issues } = params;
  const path = `stages[${index}].hyperparameters`;
  const hyper = stage.hyperparameters;
  const rollouts = hyper.rollouts;
  const layout = params.options.reinforcementLayouts?.[stage.name];
  const deepspeedStage = params.options.deepspeedStages?.[stage.name] ?? 2;
  const gpusPerNode = params.options.gpusPerNode ?? 8;
  const nodes = layoutOf({ gpusPerNode, devices: hyper.batch.devices, path, issues });
  const learnersPerNode = Array.from({ length: nodes.nodes }, () => nodes.perNode);
  const episodesPerStep = rollouts.promptsPerStep * rollouts.samplesPerPrompt;
  const miniBatch =
    hyper.batch.devices * hyper.batch.perDeviceBatchSize * hyper.batch.gradientAccumulationSteps;
  const batch: BatchArithmetic = {
    nodes: nodes.nodes,
    gpusPerNode: nodes.perNode,
    processes: hyper.batch.devices,
    perDeviceTrainBatchSize: hyper.batch.perDeviceBatchSize,
    gradientAccumulationSteps: hyper.batch.gradientAccumulationSteps,
    effectiveBatchSize: miniBatch,
    formula: `${rollouts.promptsPerStep} prompts × ${rollouts.samplesPerPrompt} samples = ${episodesPerStep} episodes per step = ${episodesPerStep / miniBatch} mini-batches of ${hyper.batch.devices} GPUs × ${hyper.batch.perDeviceBatchSize} per device × ${hyper.batch.gradientAccumulationSteps} accumulation = ${miniBatch}`,
  };
  if (hyper.batch.effectiveBatchSize !== undefined && hyper.batch.effectiveBatchSize !== miniBatch)
    throw new ExportError({
      code: "export_batch_mismatch",
      message: `${path}.batch: ${hyper.batch.devices} GPUs × ${hyper.batch.perDeviceBatchSize} × ${hyper.batch.gradientAccumulationSteps} = ${miniBatch}, but effectiveBatchSize is ${hyper.batch.effectiveBatchSize}`,
      details: { field: `${path}.batch.effectiveBatchSize` },
    });
  if (episodesPerStep % miniBatch !== 0)
    throw new ExportError({
      code: "export_batch_mismatch",
      message: `${path}: ${episodesPerStep} episodes per step are not a whole number of ${miniBatch}-episode mini-batches`,
      details: { field: `${path}.batch`, episodesPerStep, miniBatch },
    });
  const script = commit.scripts.grpo;
  const table = commit.grpo;
  if (script === null || table === null)
    return unavailable({
      stage: stage.name,
      type: "rlvr",
      field: `stages[${index}].type`,
      message: `open-instruct ${commit.commit} has no GRPO script (grpo_fast.py came later)`,
      issues,
      batch,
      deepspeedStage,
      outputDirectory: params.outputDirectory,
    });
  const writer = new ArgumentWriter<GrpoFlag>(table, issues, commit.commit, script);
  checkAdamW({ adamW: hyper.adamW, path, issues, weightDecayFlag: false });
  if (hyper.maxGradientNorm !== 1)
    issues.push({
      field: `${path}.maxGradientNorm`,
      message: `${script} clips gradients at 1.0 (DeepSpeed gradient_clipping) with no flag`,
    });
  if (hyper.rewards.format !== null)
    issues.push({
      field: `${path}.rewards.format`,
      message: `${script}'s format reward is a fixed R1 pattern; a recipe pattern cannot be expressed`,
    });
  const scheduler = schedulerType({ learningRate: hyper.learningRate, path, issues, allowRatio: false });
  const model = params.model;
  writer.write("modelNameOrPath", modelName(model));
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
  const omitted: StageCommand["omitted"] = [
    { field: `${path}.lossChunks`, reason: "memory layout of the embedded engine's loss" },
    { field: `${path}.threads`, reason: "onnxruntime threads of the embedded engine" },
    { field: `${path}.verifierWorkers`, reason: "verifier threads of the embedded trainer" },
    { field: `${path}.verifierTimeoutMilliseconds`, reason: "verifier time bound of the embedded trainer" },
  ];
  if (hyper.monitor !== null) {
    const evaluationFiles = params.datasetPaths[`${stage.name}.evaluation[0]`];
    if (stage.data.evaluation.length > 0 && evaluationFiles !== undefined && evaluationFiles.length > 0) {
      writer.write(
        "datasetMixerEvalList",
        evaluationFiles.flatMap((file) => [file, "1.0"]),
        `stages[${index}].data.evaluation`,
      );
      writer.write("datasetMixerEvalListSplits", "train");
      writer.write("localEvalEvery", number(hyper.monitor.everySteps), `${path}.monitor.everySteps`);
    } else
      omitted.push({
        field: `${path}.monitor`,
        reason: "a monitor without held-out data (it does not change training)",
      });
    if (hyper.monitor.klBound !== null)
      omitted.push({
        field: `${path}.monitor.klBound`,
        reason: "a warning threshold (it does not change training)",
      });
  }
  // An RLVR stage's data.maxLength bounds the prompt; the response budget is maxNewTokens.
  const maxPrompt = stage.data.maxLength;
  writer.write("maxTokenLength", number(maxPrompt));
  writer.write("maxPromptTokenLength", number(maxPrompt), `stages[${index}].data.maxLength`);
  writer.write("responseLength", number(rollouts.maxNewTokens), `${path}.rollouts.maxNewTokens`);
  writer.write("packLength", number(maxPrompt + rollouts.maxNewTokens), `stages[${index}].data.maxLength`);
  writer.write("uniquePromptsPerRollout", number(rollouts.promptsPerStep), `${path}.rollouts.promptsPerStep`);
  writer.write("samplesPerPrompt", number(rollouts.samplesPerPrompt), `${path}.rollouts.samplesPerPrompt`);
  writer.write("miniBatches", number(episodesPerStep / miniBatch), `${path}.batch`);
  writer.write("epochs", number(hyper.epochs), `${path}.epochs`);
  writer.write("learningRate", number(hyper.learningRate.peak), `${path}.learningRate.peak`);
  writer.write("learningRateSchedulerType", scheduler.type, `${path}.learningRate.schedule`);
  writer.write("totalEpisodes", number(hyper.steps * episodesPerStep), `${path}.steps`);
  writer.write("beta", number(hyper.kl.beta), `${path}.kl.beta`);
  writer.write("klEstimator", commit.klEstimators[hyper.kl.estimator], `${path}.kl.estimator`);
  if (writer.has("clipRange")) {
    if (hyper.clip.low !== hyper.clip.high)
      issues.push({
        field: `${path}.clip.high`,
        message: `${script} at ${commit.commit} has one --cliprange; asymmetric clipping (clip-higher) came later`,
      });
    writer.write("clipRange", number(hyper.clip.low), `${path}.clip.low`);
  } else {
    writer.write("clipLower", number(hyper.clip.low), `${path}.clip.low`);
    writer.write("clipHigher", number(hyper.clip.high), `${path}.clip.high`);
  }
  writer.write("temperature", number(rollouts.temperature), `${path}.rollouts.temperature`);
  if (hyper.rewards.nonStopPenalty === null) writer.write("nonStopPenalty", "False");
  else {
    writer.write("nonStopPenalty", "True");
    writer.write(
      "nonStopPenaltyValue",
      number(hyper.rewards.nonStopPenalty.value),
      `${path}.rewards.nonStopPenalty`,
    );
  }
  writer.write(
    "verificationReward",
    number(hyper.rewards.verificationReward),
    `${path}.rewards.verificationReward`,
  );
  writer.write("applyVerifiableReward", "true");
  writer.write("chatTemplateName", chatTemplateName({ recipe, issues }), "tokenizer.chatTemplate");
  if (writer.has("advantageNormalizationType")) writer.write("advantageNormalizationType", hyper.advantages);
  else if (hyper.advantages !== "standard")
    issues.push({
      field: `${path}.advantages`,
      message: `${script} at ${commit.commit} normalises advantages by the group std only (standard)`,
    });
  if (writer.has("filterZeroStdSamples"))
    writer.write("filterZeroStdSamples", hyper.filterZeroVarianceGroups ? "True" : "False");
  else if (hyper.filterZeroVarianceGroups)
    issues.push({
      field: `${path}.filterZeroVarianceGroups`,
      message: `${script} at ${commit.commit} cannot drop zero-variance groups`,
    });
  writer.write(
    "maskTruncatedCompletions",
    hyper.maskTruncatedCompletions ? "True" : "False",
    `${path}.maskTruncatedCompletions`,
  );
  writer.write("asyncSteps", "1");
  writer.write("seed", number(hyper.seed), `${path}.seed`);
  writer.write("saveFrequency", number(hyper.checkpointEverySteps), `${path}.checkpointEverySteps`);
  writer.write("deepspeedStage", number(deepspeedStage));
  writer.write(
    "perDeviceTrainBatchSize",
    number(hyper.batch.perDeviceBatchSize),
    `${path}.batch.perDeviceBatchSize`,
  );
  writer.write("learnersPerNode", learnersPerNode.map(number));
  writer.write("vllmEngines", number(layout?.vllmEngines ?? 8));
  writer.write("vllmTensorParallelSize", number(layout?.vllmTensorParallelSize ?? 1));
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
    omitted,
  };
}
