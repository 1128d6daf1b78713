/**
 * RL stage invocations: PPO stages (Tulu 3, `ppo_vllm_thread_ray_gtrl.py`) and GRPO-family
 * `rlvr` stages (`grpo_fast.py`). Both run as plain `python` on a Ray cluster's head; the
 * scripts place learners and vLLM engines themselves.
 */
import type { Recipe } from "@posttrain/recipe";
import { ExportError } from "../errors.js";
import type { GrpoFlag, GrpoRayFlag, PpoFlag } from "./commits.js";
import {
  ArgumentWriter,
  type BatchArithmetic,
  chainedInput,
  chatTemplateName,
  checkAdamW,
  type ExportIssue,
  fraction,
  layoutOf,
  mixerEntries,
  modelArgument,
  number,
  type StageCommand,
  type StageTranslationParams,
  schedulerType,
} from "./translate-support.js";

type ReinforcementParams<Type extends "ppo" | "rlvr"> = StageTranslationParams<Type>;

/** Column names of the materialised RL data (the transforms' `messages` / `ground_truth` / `dataset`). */
export const reinforcementColumns = { messages: "messages", groundTruth: "ground_truth" } as const;

/**
 * `--num_evals` of the Ray scripts, which evaluate every `num_training_steps // num_evals`
 * steps (ppo_vllm_thread_ray_gtrl.py / grpo_vllm_thread_ray_gtrl.py `eval_freq`): the count
 * whose cadence is the recipe's `everySteps`, or an issue when no count gives it.
 */
function evaluationCount(params: {
  trainingSteps: number;
  everySteps: number;
  field: string;
  script: string;
  issues: ExportIssue[];
}): number {
  const count = Math.max(1, Math.floor(params.trainingSteps / params.everySteps));
  if (Math.max(1, Math.floor(params.trainingSteps / count)) !== params.everySteps)
    params.issues.push({
      field: params.field,
      message: `${params.script} evaluates every ${params.trainingSteps} // num_evals steps; no num_evals gives every ${params.everySteps} (of ${params.trainingSteps} steps)`,
    });
  return count;
}

/** Writes the tokenizer flags of the OLMo 2-era Ray scripts (absent at the release: the model's tokenizer). */
function writeRayTokenizer<
  Flag extends "tokenizerName" | "tokenizerRevision" | "useSlowTokenizer" | "addBos",
>(params: {
  writer: ArgumentWriter<Flag>;
  recipe: Recipe;
  stageName: string;
  reference: StageTranslationParams<"ppo">["reference"];
  revisions: { tokenizer?: string } | undefined;
  tokenizerRevision: string | undefined;
}): void {
  const { writer, recipe, reference } = params;
  if (!writer.has("tokenizerName" as Flag)) return;
  const source = recipe.tokenizer.source;
  if (reference?.tokenizer !== undefined) {
    writer.write("tokenizerName" as Flag, reference.tokenizer.repo);
    writer.write("tokenizerRevision" as Flag, params.revisions?.tokenizer ?? reference.tokenizer.revision);
  } else if (source.kind === "hub") {
    writer.write("tokenizerName" as Flag, source.repo);
    writer.write("tokenizerRevision" as Flag, params.tokenizerRevision ?? source.revision);
  }
  writer.write("useSlowTokenizer" as Flag, reference?.useSlowTokenizer ?? true);
  writer.write("addBos" as Flag, recipe.tokenizer.addBos, "tokenizer.addBos");
}

/** The command of a Ray-launched RL stage (the script places itself; no run-name folder of its own). */
function rayStageCommand(params: {
  stage: string;
  type: StageCommand["type"];
  script: string;
  deepspeedStage: 2 | 3;
  arguments: StageCommand["arguments"];
  batch: BatchArithmetic;
  outputDirectory: string;
  inputModel: StageCommand["inputModel"];
  omitted: StageCommand["omitted"];
}): StageCommand {
  return { ...params, launcher: "ray", outputRunNamePrefix: null };
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
  return rayStageCommand({
    stage: params.stage,
    type: params.type,
    script: "",
    deepspeedStage: params.deepspeedStage,
    arguments: [],
    batch: params.batch,
    outputDirectory: params.outputDirectory,
    inputModel: null,
    omitted: [],
  });
}

/** A Tulu 3 PPO stage on `ppo_vllm_thread_ray_gtrl.py`. */
export function ppoStage(params: ReinforcementParams<"ppo">): StageCommand {
  const { recipe, stage, index, commit, issues, reference } = params;
  const path = `stages[${index}].hyperparameters`;
  const hyper = stage.hyperparameters;
  const layout = params.options.reinforcementLayouts?.[stage.name];
  const learnersPerNode = layout?.learnersPerNode ?? reference?.learnersPerNode ?? [7];
  const perDevice = layout?.perDeviceTrainBatchSize ?? reference?.perDeviceTrainBatchSize ?? 2;
  const learners = learnersPerNode.reduce((sum, count) => sum + count, 0);
  const deepspeedStage = params.options.deepspeedStages?.[stage.name] ?? reference?.deepspeedStage ?? 3;
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
      message: `open-instruct ${commit.commit} has no PPO script`,
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
  const rewardModel = layout?.rewardModel ?? reference?.rewardModel?.repo;
  if (rewardModel === undefined)
    issues.push({
      field: `referenceImplementation.stages.${stage.name}.rewardModel`,
      message: "PPO needs a reward model to initialise the value model: record it in the recipe's reference",
    });
  const scheduler = schedulerType({ learningRate: hyper.learningRate, path, issues, allowRatio: false });
  writer.write("experimentName", stage.name);
  writer.write("modelNameOrPath", modelArgument(params.model));
  if (params.model?.kind === "hub") writer.write("modelRevision", params.model.revision);
  writer.write("rewardModelPath", rewardModel ?? "");
  const rewardRevision =
    layout?.rewardModel === undefined
      ? (params.options.referenceRevisions?.[stage.name]?.rewardModel ?? reference?.rewardModel?.revision)
      : undefined;
  if (rewardRevision !== undefined) writer.write("rewardModelRevision", rewardRevision);
  writer.write("rewardModelMultiplier", "0.0");
  writeRayTokenizer({
    writer,
    recipe,
    stageName: stage.name,
    reference,
    revisions: params.options.referenceRevisions?.[stage.name],
    tokenizerRevision: params.options.tokenizerRevision,
  });
  // The release-era script takes a JSON dict; the OLMo 2-era one the `name amount` list.
  const listMixer = table.datasetMixer !== "--dataset_mixer";
  const mixer: Array<[string, string]> = [];
  stage.data.train.forEach((spec, sourceIndex) => {
    const field = `stages[${index}].data.train[${sourceIndex}]`;
    const amount = spec.amount ?? { fraction: 1 };
    const files = params.datasetPaths[`${stage.name}.train[${sourceIndex}]`] ?? [];
    if (files.length === 0)
      issues.push({ field, message: `no materialised files for ${stage.name}.train[${sourceIndex}]` });
    for (const file of files)
      mixer.push([file, "rows" in amount ? String(amount.rows) : fraction(amount.fraction)]);
  });
  writer.write(
    "datasetMixer",
    listMixer
      ? mixer.flat()
      : `{${mixer.map(([file, value]) => `${JSON.stringify(file)}: ${value}`).join(", ")}}`,
    `stages[${index}].data.train`,
  );
  writer.write("datasetTrainSplits", "train");
  const trainingSteps = Math.floor(hyper.totalEpisodes / (hyper.promptsPerStep * hyper.samplesPerPrompt));
  if (hyper.evaluation !== null) {
    const evaluationFiles =
      stage.data.evaluation.length > 0
        ? (params.datasetPaths[`${stage.name}.evaluation[0]`] ?? [])
        : mixer[0] === undefined
          ? []
          : [mixer[0][0]];
    const file = evaluationFiles[0] ?? "";
    const rows = String(hyper.evaluation.prompts);
    writer.write(
      "datasetEvalMixer",
      listMixer ? [file, rows] : `{${JSON.stringify(file)}: ${rows}}`,
      `${path}.evaluation`,
    );
    writer.write("datasetEvalSplits", "train");
    writer.write(
      "evaluations",
      number(
        evaluationCount({
          trainingSteps,
          everySteps: hyper.evaluation.everySteps,
          field: `${path}.evaluation.everySteps`,
          script,
          issues,
        }),
      ),
      `${path}.evaluation.everySteps`,
    );
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
  writer.write("stopToken", reference?.stopToken ?? "eos");
  writer.write("temperature", number(hyper.sampling.temperature), `${path}.sampling.temperature`);
  writer.write("groundTruthsKey", reinforcementColumns.groundTruth);
  writer.write("chatTemplate", chatTemplateName({ recipe, issues }), "tokenizer.chatTemplate");
  writer.write("messagesKey", reinforcementColumns.messages);
  writer.write("learningRate", number(hyper.learningRate.peak), `${path}.learningRate.peak`);
  writer.write("learningRateSchedulerType", scheduler.type, `${path}.learningRate.schedule`);
  writer.write("totalEpisodes", number(hyper.totalEpisodes), `${path}.totalEpisodes`);
  writer.write("beta", number(hyper.kl.beta), `${path}.kl.beta`);
  writer.write("klEstimator", commit.klEstimators[hyper.kl.estimator], `${path}.kl.estimator`);
  writer.write("perDeviceTrainBatchSize", number(perDevice));
  if (reference?.rolloutForwardBatchSize !== undefined)
    writer.write("rolloutForwardBatchSize", number(reference.rolloutForwardBatchSize));
  writer.write("localMiniBatchSize", number(localMini), `${path}.miniBatches`);
  writer.write("localRolloutBatchSize", number(localRollout), `${path}.promptsPerStep`);
  writer.write("epochs", number(hyper.updateEpochs), `${path}.updateEpochs`);
  writer.write("clipRange", number(hyper.clipRange), `${path}.clipRange`);
  // Not in the recipe: the published run's values (open-instruct's defaults then), pinned.
  writer.write("valueFunctionCoefficient", "0.1");
  writer.write("gamma", "1.0");
  writer.write("lambda", "0.95");
  writer.write("actorGpusPerNode", learnersPerNode.map(number));
  writer.write(
    "vllmTensorParallelSize",
    number(layout?.vllmTensorParallelSize ?? reference?.vllmTensorParallelSize ?? 1),
  );
  writer.write("deepspeedStage", number(deepspeedStage));
  writer.write("applyVerifiableReward", "true");
  writer.write("seed", number(hyper.seed), `${path}.seed`);
  writer.write("saveFrequency", number(hyper.checkpointEverySteps), `${path}.checkpointEverySteps`);
  writer.write("gradientCheckpointing", true);
  writer.write("outputDirectory", params.outputDirectory);
  writer.write("pushToHub", false);
  writer.write("tryLaunchBeakerEvalJobs", false);
  return rayStageCommand({
    stage: stage.name,
    type: "ppo",
    script,
    deepspeedStage,
    arguments: writer.arguments,
    batch,
    outputDirectory: params.outputDirectory,
    inputModel: chainedInput(params.model),
    omitted: [{ field: `${path}.threads`, reason: "onnxruntime threads of the embedded engine" }],
  });
}

/**
 * A GRPO `rlvr` stage on `grpo_vllm_thread_ray_gtrl.py` (OLMo 2's RLVR runs): learners =
 * `batch.devices` placed as the reference's `learnersPerNode`; each learner rolls out
 * `promptsPerStep / learners` prompts × `samplesPerPrompt`; its mini-batch is per-device ×
 * accumulation rows (`--local_mini_batch_size`; the script derives the accumulation from it).
 */
export function grpoRayStage(params: ReinforcementParams<"rlvr">): StageCommand {
  const { recipe, stage, index, commit, issues, reference } = params;
  const path = `stages[${index}].hyperparameters`;
  const hyper = stage.hyperparameters;
  const rollouts = hyper.rollouts;
  if ((hyper.tools ?? null) !== null)
    issues.push({
      field: `${path}.tools`,
      message:
        "grpo_vllm_thread_ray_gtrl.py has no multi-turn tool rollouts (grpo_fast.py at open-instruct e6c3044 has)",
    });
  const layout = params.options.reinforcementLayouts?.[stage.name];
  const learnersPerNode = layout?.learnersPerNode ?? reference?.learnersPerNode ?? [hyper.batch.devices];
  const learners = learnersPerNode.reduce((sum, count) => sum + count, 0);
  const deepspeedStage = params.options.deepspeedStages?.[stage.name] ?? reference?.deepspeedStage ?? 2;
  const episodesPerStep = rollouts.promptsPerStep * rollouts.samplesPerPrompt;
  const localMini = hyper.batch.perDeviceBatchSize * hyper.batch.gradientAccumulationSteps;
  const miniBatch = localMini * learners;
  const batch: BatchArithmetic = {
    nodes: learnersPerNode.length,
    gpusPerNode: Math.max(...learnersPerNode),
    processes: learners,
    perDeviceTrainBatchSize: hyper.batch.perDeviceBatchSize,
    gradientAccumulationSteps: hyper.batch.gradientAccumulationSteps,
    effectiveBatchSize: miniBatch,
    formula: `${learners} learners × ${rollouts.promptsPerStep / learners} local prompts × ${rollouts.samplesPerPrompt} samples = ${episodesPerStep} episodes per step = ${episodesPerStep / miniBatch} mini-batches of ${learners} × ${hyper.batch.perDeviceBatchSize} per device × ${hyper.batch.gradientAccumulationSteps} accumulation = ${miniBatch}`,
  };
  const script = commit.scripts.grpoRay;
  const table = commit.grpoRay;
  if (script === null || table === null)
    return unavailable({
      stage: stage.name,
      type: "rlvr",
      field: `stages[${index}].type`,
      message: `open-instruct ${commit.commit} has no grpo_vllm_thread_ray_gtrl.py`,
      issues,
      batch,
      deepspeedStage,
      outputDirectory: params.outputDirectory,
    });
  if (learners !== hyper.batch.devices)
    issues.push({
      field: `${path}.batch.devices`,
      message: `the reference places ${learners} learners (${learnersPerNode.join(" + ")}), the recipe's batch has ${hyper.batch.devices} devices`,
    });
  const mismatch = (message: string, field: string) =>
    new ExportError({ code: "export_batch_mismatch", message, details: { field } });
  if (hyper.batch.effectiveBatchSize !== undefined && hyper.batch.effectiveBatchSize !== miniBatch)
    throw mismatch(
      `${path}.batch: ${learners} × ${hyper.batch.perDeviceBatchSize} × ${hyper.batch.gradientAccumulationSteps} = ${miniBatch}, but effectiveBatchSize is ${hyper.batch.effectiveBatchSize}`,
      `${path}.batch.effectiveBatchSize`,
    );
  if (rollouts.promptsPerStep % learners !== 0)
    throw mismatch(
      `${path}.rollouts.promptsPerStep ${rollouts.promptsPerStep} is not a multiple of ${learners} learners`,
      `${path}.rollouts.promptsPerStep`,
    );
  if (episodesPerStep % miniBatch !== 0)
    throw mismatch(
      `${path}: ${episodesPerStep} episodes per step are not a whole number of ${miniBatch}-episode mini-batches`,
      `${path}.batch`,
    );
  const writer = new ArgumentWriter<GrpoRayFlag>(table, issues, commit.commit, script);
  checkAdamW({ adamW: hyper.adamW, path, issues, weightDecayFlag: false });
  if (hyper.maxGradientNorm !== 1)
    issues.push({
      field: `${path}.maxGradientNorm`,
      message: `${script} clips gradients at 1.0 (DeepSpeed gradient_clipping) with no flag`,
    });
  const fixed: Array<[boolean, string, string]> = [
    [hyper.rewards.format !== null, `${path}.rewards.format`, "has no format reward"],
    [
      hyper.advantages !== "standard",
      `${path}.advantages`,
      "normalises advantages by the group std (standard)",
    ],
    [hyper.filterZeroVarianceGroups, `${path}.filterZeroVarianceGroups`, "cannot drop zero-variance groups"],
    [hyper.maskTruncatedCompletions, `${path}.maskTruncatedCompletions`, "cannot mask truncated completions"],
    [hyper.clip.low !== hyper.clip.high, `${path}.clip.high`, "has one --cliprange"],
  ];
  for (const [wrong, field, message] of fixed)
    if (wrong) issues.push({ field, message: `${script} at ${commit.commit} ${message}` });
  const scheduler = schedulerType({ learningRate: hyper.learningRate, path, issues, allowRatio: false });
  writer.write("experimentName", stage.name);
  writer.write("modelNameOrPath", modelArgument(params.model));
  if (params.model?.kind === "hub") writer.write("modelRevision", params.model.revision);
  writeRayTokenizer({
    writer,
    recipe,
    stageName: stage.name,
    reference,
    revisions: params.options.referenceRevisions?.[stage.name],
    tokenizerRevision: params.options.tokenizerRevision,
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
  writer.write("datasetMixerListSplits", "train");
  const trainingSteps = hyper.steps;
  const omitted: StageCommand["omitted"] = [
    { field: `${path}.lossChunks`, reason: "memory layout of the embedded engine's loss" },
    { field: `${path}.threads`, reason: "onnxruntime threads of the embedded engine" },
    { field: `${path}.verifierWorkers`, reason: "verifier threads of the embedded trainer" },
    { field: `${path}.verifierTimeoutMilliseconds`, reason: "verifier time bound of the embedded trainer" },
  ];
  if (hyper.monitor !== null) {
    stage.data.evaluation.forEach((spec, sourceIndex) => {
      const entries = mixerEntries({
        key: `${stage.name}.evaluation[${sourceIndex}]`,
        paths: params.datasetPaths,
        amount: spec.amount,
        field: `stages[${index}].data.evaluation[${sourceIndex}]`,
        issues,
      });
      writer.write("datasetMixerEvalList", entries, `stages[${index}].data.evaluation`);
    });
    if (stage.data.evaluation.length > 0) writer.write("datasetMixerEvalListSplits", "train");
    writer.write(
      "evaluations",
      number(
        evaluationCount({
          trainingSteps,
          everySteps: hyper.monitor.everySteps,
          field: `${path}.monitor.everySteps`,
          script,
          issues,
        }),
      ),
      `${path}.monitor.everySteps`,
    );
    if (hyper.monitor.klBound !== null)
      omitted.push({
        field: `${path}.monitor.klBound`,
        reason: "a warning threshold (it does not change training)",
      });
  }
  const maxPrompt = stage.data.maxLength;
  writer.write("maxTokenLength", number(maxPrompt), `stages[${index}].data.maxLength`);
  writer.write("maxPromptTokenLength", number(maxPrompt), `stages[${index}].data.maxLength`);
  writer.write("responseLength", number(rollouts.maxNewTokens), `${path}.rollouts.maxNewTokens`);
  if (hyper.rewards.nonStopPenalty === null) writer.write("nonStopPenalty", false);
  else {
    writer.write("nonStopPenalty", true);
    writer.write(
      "penaltyRewardValue",
      number(hyper.rewards.nonStopPenalty.value),
      `${path}.rewards.nonStopPenalty`,
    );
  }
  writer.write("stopToken", reference?.stopToken ?? "eos");
  writer.write("temperature", number(rollouts.temperature), `${path}.rollouts.temperature`);
  writer.write("groundTruthsKey", reinforcementColumns.groundTruth);
  writer.write("chatTemplateName", chatTemplateName({ recipe, issues }), "tokenizer.chatTemplate");
  writer.write("messagesKey", reinforcementColumns.messages);
  writer.write("learningRate", number(hyper.learningRate.peak), `${path}.learningRate.peak`);
  writer.write("learningRateSchedulerType", scheduler.type, `${path}.learningRate.schedule`);
  writer.write("totalEpisodes", number(trainingSteps * episodesPerStep), `${path}.steps`);
  writer.write("beta", number(hyper.kl.beta), `${path}.kl.beta`);
  writer.write("klEstimator", commit.klEstimators[hyper.kl.estimator], `${path}.kl.estimator`);
  writer.write("samplesPerPrompt", number(rollouts.samplesPerPrompt), `${path}.rollouts.samplesPerPrompt`);
  writer.write(
    "perDeviceTrainBatchSize",
    number(hyper.batch.perDeviceBatchSize),
    `${path}.batch.perDeviceBatchSize`,
  );
  if (reference?.rolloutForwardBatchSize !== undefined)
    writer.write("rolloutForwardBatchSize", number(reference.rolloutForwardBatchSize));
  writer.write("localMiniBatchSize", number(localMini), `${path}.batch`);
  writer.write(
    "localRolloutBatchSize",
    number(rollouts.promptsPerStep / learners),
    `${path}.rollouts.promptsPerStep`,
  );
  writer.write("epochs", number(hyper.epochs), `${path}.epochs`);
  writer.write("clipRange", number(hyper.clip.low), `${path}.clip.low`);
  writer.write("gamma", "1.0");
  writer.write(
    "verificationReward",
    number(hyper.rewards.verificationReward),
    `${path}.rewards.verificationReward`,
  );
  writer.write("actorGpusPerNode", learnersPerNode.map(number));
  writer.write("vllmEngines", number(layout?.vllmEngines ?? reference?.vllmEngines ?? 1));
  writer.write(
    "vllmTensorParallelSize",
    number(layout?.vllmTensorParallelSize ?? reference?.vllmTensorParallelSize ?? 1),
  );
  writer.write("deepspeedStage", number(deepspeedStage));
  writer.write("applyVerifiableReward", "true");
  writer.write("rewardModelMultiplier", "0.0");
  writer.write("seed", number(hyper.seed), `${path}.seed`);
  writer.write("saveFrequency", number(hyper.checkpointEverySteps), `${path}.checkpointEverySteps`);
  writer.write("gradientCheckpointing", true);
  writer.write("outputDirectory", params.outputDirectory);
  writer.write("pushToHub", false);
  writer.write("tryLaunchBeakerEvalJobs", false);
  return rayStageCommand({
    stage: stage.name,
    type: "rlvr",
    script,
    deepspeedStage,
    arguments: writer.arguments,
    batch,
    outputDirectory: params.outputDirectory,
    inputModel: chainedInput(params.model),
    omitted,
  });
}

/**
 * A GRPO-family `rlvr` stage on `grpo_fast.py`. Learners = `batch.devices` (whole nodes of
 * `gpusPerNode`); one rollout step = promptsPerStep × samplesPerPrompt episodes, split into
 * `--num_mini_batches` optimizer mini-batches of the recipe's effective batch.
 */
/** Our built-in tools → open-instruct's TOOL_REGISTRY names (`environments/tools/tools.py` at e6c3044). */
export const openInstructToolNames: Readonly<Record<string, string | null>> = {
  python: "python",
  calculator: null,
};

/**
 * The tool flags of a tool-use RLVR stage on grpo_fast.py (EnvsConfig at e6c3044): `--tools`,
 * `--tool_call_names` (the names the model writes), `--tool_configs` (the python tool's server
 * URL and whole-second timeout), `--tool_parser_type` (`legacy` for the tag format,
 * `vllm_hermes` for the Hermes/Qwen chat-template syntax), `--pass_tools_to_chat_template`,
 * `--max_steps`, `--per_turn_max_tokens`, `--pool_size`, `--mask_tool_use`. What open-instruct
 * cannot express is an issue (the calculator, a per-call cost) or an omitted note (output bound).
 */
function writeToolFlags(params: {
  writer: ArgumentWriter<GrpoFlag>;
  tools: NonNullable<ReinforcementParams<"rlvr">["stage"]["hyperparameters"]["tools"]>;
  maxNewTokens: number;
  toolCallCost: number;
  path: string;
  script: string;
  commit: string;
  endpoints: Readonly<Record<string, string>>;
  issues: ExportIssue[];
  omitted: StageCommand["omitted"];
}): void {
  const { writer, tools, path, issues } = params;
  if (!writer.has("tools")) {
    issues.push({
      field: `${path}.tools`,
      message: `${params.script} at open-instruct ${params.commit} has no multi-turn tool flags of this kind (EnvsConfig: open-instruct e6c3044 and later)`,
    });
    return;
  }
  const callNameOf = Object.fromEntries(
    Object.entries(tools.callNames ?? {}).map(([callName, tool]) => [tool, callName]),
  );
  const names: string[] = [];
  const callNames: string[] = [];
  const configs: string[] = [];
  const seconds = Math.ceil(tools.timeoutMilliseconds / 1000);
  for (const tool of tools.allow) {
    const name = openInstructToolNames[tool] ?? null;
    if (name === null) {
      issues.push({
        field: `${path}.tools.allow`,
        message: `the ${tool} tool has no open-instruct equivalent (TOOL_REGISTRY: python, serper_search, s2_search, jina_browse, crawl4ai_browse, dr_agent_mcp, generic_mcp and environments); train with python instead, or serve it as an MCP tool (generic_mcp)`,
      });
      continue;
    }
    const endpoint = params.endpoints[tool];
    if (endpoint === undefined)
      issues.push({
        field: `${path}.tools.allow`,
        message: `open-instruct's ${name} tool runs code on its tool server (open_instruct/environments/tools/servers/python_server): give its URL (export option toolEndpoints.${tool}, \`posttrain export --python-tool-endpoint URL\`)`,
      });
    names.push(name);
    callNames.push(callNameOf[tool] ?? tool);
    configs.push(JSON.stringify({ api_endpoint: endpoint ?? "", timeout: seconds }));
  }
  writer.write("tools", names, `${path}.tools.allow`);
  writer.write("toolCallNames", callNames, `${path}.tools.callNames`);
  writer.write("toolConfigs", configs, `${path}.tools.timeoutMilliseconds`);
  writer.write("toolParserType", tools.format === "tags" ? "legacy" : "vllm_hermes", `${path}.tools.format`);
  // Tags: the prompt carries the instructions (tagFormatInstructions); chat template: the template renders the definitions.
  writer.write(
    "passToolsToChatTemplate",
    tools.format === "chat_template" ? "True" : "False",
    `${path}.tools.format`,
  );
  writer.write("maxToolSteps", number(tools.maxToolCalls), `${path}.tools.maxToolCalls`);
  if (tools.maxTotalTokens !== undefined && tools.maxTotalTokens !== params.maxNewTokens)
    writer.write("perTurnMaxTokens", number(params.maxNewTokens), `${path}.rollouts.maxNewTokens`);
  writer.write("toolPoolSize", number(tools.concurrency), `${path}.tools.concurrency`);
  writer.write("maskToolUse", "True");
  if (params.toolCallCost > 0)
    issues.push({
      field: `${path}.rewards.toolCallCost`,
      message: `open-instruct has no per-call cost (per-step rewards come from a tool or environment's StepResult); a cost of ${params.toolCallCost} per call cannot be exported`,
    });
  if (seconds * 1000 !== tools.timeoutMilliseconds)
    params.omitted.push({
      field: `${path}.tools.timeoutMilliseconds`,
      reason: `open-instruct's tool timeout is whole seconds: written as ${seconds} s`,
    });
  params.omitted.push({
    field: `${path}.tools.maxOutputCharacters`,
    reason: "open-instruct's python tool returns the server's output unbounded (no character limit)",
  });
}

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
  checkAdamW({ adamW: hyper.adamW, path, issues, weightDecayFlag: true });
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
  writer.write("experimentName", stage.name);
  writer.write("modelNameOrPath", modelArgument(model));
  if (model?.kind === "hub") writer.write("modelRevision", model.revision);
  writeRayTokenizer({
    writer,
    recipe,
    stageName: stage.name,
    reference: params.reference,
    revisions: params.options.referenceRevisions?.[stage.name],
    tokenizerRevision: params.options.tokenizerRevision,
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
  // With tools, the response (model turns + tool output) is bounded by tools.maxTotalTokens and
  // each turn by rollouts.maxNewTokens: open-instruct's --response_length and --per_turn_max_tokens.
  const tools = hyper.tools ?? null;
  const responseBudget =
    tools === null ? rollouts.maxNewTokens : (tools.maxTotalTokens ?? rollouts.maxNewTokens);
  writer.write(
    "responseLength",
    number(responseBudget),
    tools?.maxTotalTokens === undefined ? `${path}.rollouts.maxNewTokens` : `${path}.tools.maxTotalTokens`,
  );
  writer.write("packLength", number(maxPrompt + responseBudget), `stages[${index}].data.maxLength`);
  if (tools !== null)
    writeToolFlags({
      writer,
      tools,
      maxNewTokens: rollouts.maxNewTokens,
      toolCallCost: hyper.rewards.toolCallCost ?? 0,
      path,
      script,
      commit: commit.commit,
      endpoints: params.options.toolEndpoints ?? {},
      issues,
      omitted,
    });
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
  writer.write("weightDecay", number(hyper.adamW.weightDecay), `${path}.adamW.weightDecay`);
  writer.write("gradientCheckpointing", true);
  writer.write("outputDirectory", params.outputDirectory);
  writer.write("pushToHub", false);
  return rayStageCommand({
    stage: stage.name,
    type: "rlvr",
    script,
    deepspeedStage,
    arguments: writer.arguments,
    batch,
    outputDirectory: params.outputDirectory,
    inputModel: chainedInput(model),
    omitted,
  });
}
