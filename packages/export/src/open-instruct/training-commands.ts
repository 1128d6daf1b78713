/** SFT (`finetune.py`) and DPO (`dpo_tune.py` / `dpo_tune_cache.py`) invocations. */
import { ExportError } from "../errors.js";
import type { DpoFlag, TrainingFlag } from "./commits.js";
import {
  ArgumentWriter,
  chainedInput,
  chatTemplateName,
  checkAdamW,
  layoutOf,
  mixerEntries,
  modelArgument,
  number,
  type StageCommand,
  type StageTranslationParams,
  schedulerType,
} from "./translate-support.js";

/**
 * accelerate fills DeepSpeed's `gradient_clipping: "auto"` from its own default 1.0 (the
 * published runs' configs/ds_configs/*.conf say "auto"), so SFT/DPO under accelerate +
 * DeepSpeed clip at 1.0 whatever `--clip_grad_norm` says; the scripts' own clip (-1: off) is
 * left as published.
 */
export const accelerateDeepSpeedClipping = 1;

export function trainingStage(params: StageTranslationParams<"sft" | "dpo">): StageCommand {
  const { recipe, stage, index, commit, issues, reference } = params;
  const path = `stages[${index}].hyperparameters`;
  const hyper = stage.hyperparameters;
  const dpoScript = commit.scripts.dpo;
  if (stage.type === "dpo" && (dpoScript === null || commit.dpo === null))
    issues.push({
      field: `stages[${index}].type`,
      message: `open-instruct ${commit.commit} has no DPO table in this export (its DPO arguments were restructured)`,
    });
  const script = stage.type === "sft" ? commit.scripts.sft : (dpoScript ?? "");
  const table = (stage.type === "sft" ? commit.sft : (commit.dpo ?? {})) as Record<
    TrainingFlag | DpoFlag,
    string | null
  >;
  const writer = new ArgumentWriter<TrainingFlag | DpoFlag>(table, issues, commit.commit, script);
  const model = params.model;
  if (model !== null) {
    writer.write("modelNameOrPath", modelArgument(model));
    if (model.kind === "hub") writer.write("modelRevision", model.revision);
  }
  const tokenizer = recipe.tokenizer.source;
  const pinned = params.options.referenceRevisions?.[stage.name];
  if (reference?.tokenizer !== undefined) {
    writer.write("tokenizerName", reference.tokenizer.repo);
    writer.write("tokenizerRevision", pinned?.tokenizer ?? reference.tokenizer.revision);
  } else if (tokenizer.kind === "hub") {
    writer.write("tokenizerName", tokenizer.repo);
    writer.write("tokenizerRevision", params.options.tokenizerRevision ?? tokenizer.revision);
  } else {
    issues.push({
      field: "tokenizer.source",
      message: "open-instruct loads the tokenizer from the Hub; a local tokenizer folder cannot be exported",
    });
  }
  writer.write("useSlowTokenizer", reference?.useSlowTokenizer ?? true);
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
  if (hyper.maxGradientNorm !== accelerateDeepSpeedClipping)
    issues.push({
      field: `${path}.maxGradientNorm`,
      message: `${script} under accelerate + DeepSpeed clips at ${accelerateDeepSpeedClipping} (gradient_clipping "auto"), the recipe asks for ${hyper.maxGradientNorm ?? "no clipping"}`,
    });
  writer.write("clipGradientNorm", "-1");
  writer.write("seed", number(hyper.seed), `${path}.seed`);
  if (reference?.checkpointing === "epoch") writer.write("checkpointingSteps", "epoch");
  else if (reference?.checkpointing !== "final")
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
  writer.write("experimentName", stage.name);
  writer.write("outputDirectory", params.outputDirectory);
  writer.write("doNotRandomizeOutputDirectory", true);
  writer.write("pushToHub", false);
  writer.write("tryLaunchBeakerEvalJobs", false);
  const gpusPerNode = params.options.gpusPerNode ?? 8;
  const layout = layoutOf({ gpusPerNode, devices: batch.devices, path, issues });
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
    deepspeedStage: params.options.deepspeedStages?.[stage.name] ?? reference?.deepspeedStage ?? 3,
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
    outputRunNamePrefix: null,
    inputModel: chainedInput(model),
    omitted: [
      { field: `${path}.lossChunks`, reason: "memory layout of the embedded engine's loss" },
      { field: `${path}.threads`, reason: "onnxruntime threads of the embedded engine" },
      ...(stage.type === "dpo"
        ? [{ field: `${path}.referenceCacheDirectory`, reason: "cache location of the embedded engine" }]
        : []),
    ],
  };
}
