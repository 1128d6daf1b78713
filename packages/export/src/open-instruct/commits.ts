/**
 * open-instruct's command-line surface, one table per supported commit (data, not code).
 *
 * An export names exactly one commit; the stage translators ask the commit's table for each
 * flag's name. `null` means the flag does not exist at that commit: if the recipe needs a
 * value other than the behaviour fixed in `removedBehaviour`, the export fails naming the
 * recipe field, never silently dropping it. Supporting a newer commit is one more table.
 *
 * Sources: allenai/open-instruct docs/tulu3.md at e363290 (release era), docs/olmo2.md at
 * 89b4f62, HEAD e6c3044 and the renames listed per PR in docs/scale-out.md (#1024 reduce_loss
 * removed, #1567 use_flash_attn removed, #1357 / #1375 DPO renames, #522 dpo_tune.py deleted,
 * #1242 numeric kl estimators, #1097 max_token_length removed, #1132 PPO Ray script deleted,
 * #1547 defaults moved, #1035 chat template default).
 *
 * Verified against open-instruct source (see README "Flag names verified"): the DPO
 * hyperparameter names before and after #1375 (dpo_tune_cache.py `FlatArguments`;
 * `open_instruct/dpo_config.py` `DPOHyperparamsConfig`/`DatasetConfig`/`TrainingConfig` at
 * 01ff7e3), the dpo_tune_cache.py tokenizer flag of docs/olmo2.md, and grpo_fast.py's
 * `clip_lower`/`clip_higher`, `mask_truncated_completions`, `filter_zero_std_samples`,
 * `local_eval_every` (its `Args` / `GRPOExperimentConfig` / `StreamingDataLoaderConfig`).
 */

/** Logical SFT/DPO flags (both scripts share finetune.py's argument names for these). */
export type TrainingFlag =
  | "modelNameOrPath"
  | "modelRevision"
  | "tokenizerName"
  | "tokenizerRevision"
  | "useSlowTokenizer"
  | "useFlashAttention"
  | "chatTemplateName"
  | "addBos"
  | "maxSequenceLength"
  | "perDeviceTrainBatchSize"
  | "gradientAccumulationSteps"
  | "learningRate"
  | "learningRateSchedulerType"
  | "warmupRatio"
  | "weightDecay"
  | "epochs"
  | "maxTrainSteps"
  | "clipGradientNorm"
  | "seed"
  | "checkpointingSteps"
  | "outputDirectory"
  | "datasetMixerList"
  | "datasetTransformFunctions"
  | "reduceLoss"
  | "gradientCheckpointing"
  | "useLora"
  | "loggingSteps";

/** DPO-only flags. */
export type DpoFlag = "lossType" | "beta" | "labelSmoothing" | "gammaBetaRatio";

/** GRPO (`grpo_fast.py`) flags. */
export type GrpoFlag =
  | "modelNameOrPath"
  | "modelRevision"
  | "datasetMixerList"
  | "datasetMixerListSplits"
  | "datasetMixerEvalList"
  | "datasetMixerEvalListSplits"
  | "maxTokenLength"
  | "maxPromptTokenLength"
  | "responseLength"
  | "packLength"
  | "uniquePromptsPerRollout"
  | "samplesPerPrompt"
  | "miniBatches"
  | "epochs"
  | "learningRate"
  | "learningRateSchedulerType"
  | "totalEpisodes"
  | "beta"
  | "klEstimator"
  | "clipRange"
  | "clipLower"
  | "clipHigher"
  | "temperature"
  | "nonStopPenalty"
  | "nonStopPenaltyValue"
  | "verificationReward"
  | "applyVerifiableReward"
  | "chatTemplateName"
  | "seed"
  | "saveFrequency"
  | "localEvalEvery"
  | "deepspeedStage"
  | "perDeviceTrainBatchSize"
  | "learnersPerNode"
  | "vllmEngines"
  | "vllmTensorParallelSize"
  | "advantageNormalizationType"
  | "asyncSteps"
  | "maskTruncatedCompletions"
  | "filterZeroStdSamples"
  | "gradientCheckpointing"
  | "outputDirectory";

/** PPO (`ppo_vllm_thread_ray_gtrl.py`) flags. */
export type PpoFlag =
  | "modelNameOrPath"
  | "rewardModelPath"
  | "rewardModelMultiplier"
  | "datasetMixer"
  | "datasetTrainSplits"
  | "datasetEvalMixer"
  | "datasetEvalSplits"
  | "maxTokenLength"
  | "maxPromptTokenLength"
  | "responseLength"
  | "nonStopPenalty"
  | "penaltyRewardValue"
  | "stopToken"
  | "temperature"
  | "chatTemplate"
  | "learningRate"
  | "learningRateSchedulerType"
  | "totalEpisodes"
  | "beta"
  | "klEstimator"
  | "perDeviceTrainBatchSize"
  | "localMiniBatchSize"
  | "localRolloutBatchSize"
  | "epochs"
  | "clipRange"
  | "valueFunctionCoefficient"
  | "gamma"
  | "lambda"
  | "actorGpusPerNode"
  | "vllmTensorParallelSize"
  | "deepspeedStage"
  | "applyVerifiableReward"
  | "seed"
  | "saveFrequency"
  | "outputDirectory"
  | "gradientCheckpointing";

/** One open-instruct commit's scripts and flag names. */
export interface OpenInstructCommit {
  /** The (short) commit SHA the bundle checks out. */
  commit: string;
  date: string;
  description: string;
  scripts: {
    sft: string;
    dpo: string;
    /** `null`: the script does not exist at this commit (PPO deleted in #1132; GRPO not yet written). */
    ppo: string | null;
    grpo: string | null;
  };
  sft: Record<TrainingFlag, string | null>;
  dpo: Record<TrainingFlag | DpoFlag, string | null>;
  grpo: Record<GrpoFlag, string | null> | null;
  ppo: Record<PpoFlag, string | null> | null;
  /** How each KL estimator is spelled on the command line. */
  klEstimators: Record<"k1" | "k2" | "k3" | "k4", string>;
  /** Behaviour fixed by a removed flag: a recipe asking for anything else cannot be exported. */
  removedBehaviour: { sftReduction: "mean" | null };
}

const sftFlags: Record<TrainingFlag, string | null> = {
  modelNameOrPath: "--model_name_or_path",
  modelRevision: "--model_revision",
  tokenizerName: "--tokenizer_name",
  tokenizerRevision: "--tokenizer_revision",
  useSlowTokenizer: "--use_slow_tokenizer",
  useFlashAttention: "--use_flash_attn",
  chatTemplateName: "--chat_template_name",
  addBos: "--add_bos",
  maxSequenceLength: "--max_seq_length",
  perDeviceTrainBatchSize: "--per_device_train_batch_size",
  gradientAccumulationSteps: "--gradient_accumulation_steps",
  learningRate: "--learning_rate",
  learningRateSchedulerType: "--lr_scheduler_type",
  warmupRatio: "--warmup_ratio",
  weightDecay: "--weight_decay",
  epochs: "--num_train_epochs",
  maxTrainSteps: "--max_train_steps",
  clipGradientNorm: "--clip_grad_norm",
  seed: "--seed",
  checkpointingSteps: "--checkpointing_steps",
  outputDirectory: "--output_dir",
  datasetMixerList: "--dataset_mixer_list",
  datasetTransformFunctions: "--dataset_transform_fn",
  reduceLoss: "--reduce_loss",
  gradientCheckpointing: "--gradient_checkpointing",
  useLora: "--use_lora",
  loggingSteps: "--logging_steps",
};

const dpoFlags: Record<TrainingFlag | DpoFlag, string | null> = {
  ...sftFlags,
  reduceLoss: null,
  lossType: "--dpo_loss_type",
  beta: "--dpo_beta",
  labelSmoothing: "--dpo_label_smoothing",
  gammaBetaRatio: "--dpo_gamma_beta_ratio",
};

const ppoFlags: Record<PpoFlag, string | null> = {
  modelNameOrPath: "--model_name_or_path",
  rewardModelPath: "--reward_model_path",
  rewardModelMultiplier: "--reward_model_multiplier",
  datasetMixer: "--dataset_mixer",
  datasetTrainSplits: "--dataset_train_splits",
  datasetEvalMixer: "--dataset_eval_mixer",
  datasetEvalSplits: "--dataset_eval_splits",
  maxTokenLength: "--max_token_length",
  maxPromptTokenLength: "--max_prompt_token_length",
  responseLength: "--response_length",
  nonStopPenalty: "--non_stop_penalty",
  penaltyRewardValue: "--penalty_reward_value",
  stopToken: "--stop_token",
  temperature: "--temperature",
  chatTemplate: "--chat_template",
  learningRate: "--learning_rate",
  learningRateSchedulerType: "--lr_scheduler_type",
  totalEpisodes: "--total_episodes",
  beta: "--beta",
  klEstimator: "--kl_estimator",
  perDeviceTrainBatchSize: "--per_device_train_batch_size",
  localMiniBatchSize: "--local_mini_batch_size",
  localRolloutBatchSize: "--local_rollout_batch_size",
  epochs: "--num_epochs",
  clipRange: "--cliprange",
  valueFunctionCoefficient: "--vf_coef",
  gamma: "--gamma",
  lambda: "--lam",
  actorGpusPerNode: "--actor_num_gpus_per_node",
  vllmTensorParallelSize: "--vllm_tensor_parallel_size",
  deepspeedStage: "--deepspeed_stage",
  applyVerifiableReward: "--apply_verifiable_reward",
  seed: "--seed",
  saveFrequency: "--save_freq",
  outputDirectory: "--output_dir",
  gradientCheckpointing: "--gradient_checkpointing",
};

const grpoFlags: Record<GrpoFlag, string | null> = {
  modelNameOrPath: "--model_name_or_path",
  modelRevision: "--model_revision",
  datasetMixerList: "--dataset_mixer_list",
  datasetMixerListSplits: "--dataset_mixer_list_splits",
  datasetMixerEvalList: "--dataset_mixer_eval_list",
  datasetMixerEvalListSplits: "--dataset_mixer_eval_list_splits",
  maxTokenLength: "--max_token_length",
  maxPromptTokenLength: "--max_prompt_token_length",
  responseLength: "--response_length",
  packLength: "--pack_length",
  uniquePromptsPerRollout: "--num_unique_prompts_rollout",
  samplesPerPrompt: "--num_samples_per_prompt_rollout",
  miniBatches: "--num_mini_batches",
  epochs: "--num_epochs",
  learningRate: "--learning_rate",
  learningRateSchedulerType: "--lr_scheduler_type",
  totalEpisodes: "--total_episodes",
  beta: "--beta",
  klEstimator: "--kl_estimator",
  clipRange: "--cliprange",
  clipLower: null,
  clipHigher: null,
  temperature: "--temperature",
  nonStopPenalty: "--non_stop_penalty",
  nonStopPenaltyValue: "--non_stop_penalty_value",
  verificationReward: "--verification_reward",
  applyVerifiableReward: "--apply_verifiable_reward",
  chatTemplateName: "--chat_template_name",
  seed: "--seed",
  saveFrequency: "--save_freq",
  localEvalEvery: "--local_eval_every",
  deepspeedStage: "--deepspeed_stage",
  perDeviceTrainBatchSize: "--per_device_train_batch_size",
  learnersPerNode: "--num_learners_per_node",
  vllmEngines: "--vllm_num_engines",
  vllmTensorParallelSize: "--vllm_tensor_parallel_size",
  advantageNormalizationType: null,
  asyncSteps: null,
  maskTruncatedCompletions: "--mask_truncated_completions",
  filterZeroStdSamples: null,
  gradientCheckpointing: "--gradient_checkpointing",
  outputDirectory: "--output_dir",
};

const textKl = { k1: "kl1", k2: "kl2", k3: "kl3", k4: "kl4" } as const;

/** Release era (docs/tulu3.md, 2024-12-03): finetune.py, dpo_tune.py, the PPO Ray script; no grpo_fast.py. */
const release: OpenInstructCommit = {
  commit: "e363290",
  date: "2024-12-03",
  description: "Tulu 3 release era (docs/tulu3.md): finetune.py, dpo_tune.py, ppo_vllm_thread_ray_gtrl.py",
  scripts: {
    sft: "open_instruct/finetune.py",
    dpo: "open_instruct/dpo_tune.py",
    ppo: "open_instruct/ppo_vllm_thread_ray_gtrl.py",
    grpo: null,
  },
  // The dataset transformation pipeline (--dataset_transform_fn) came after the release.
  sft: { ...sftFlags, datasetTransformFunctions: null },
  dpo: { ...dpoFlags, datasetTransformFunctions: null },
  grpo: null,
  ppo: ppoFlags,
  klEstimators: textKl,
  removedBehaviour: { sftReduction: null },
};

/** OLMo 2 era (docs/olmo2.md): dpo_tune.py gone (#522), dpo_tune_cache.py, grpo_fast.py, transform functions. */
const olmo2: OpenInstructCommit = {
  commit: "89b4f62",
  date: "2025-05",
  description: "OLMo 2 1B era (docs/olmo2.md): finetune.py, dpo_tune_cache.py, grpo_fast.py",
  scripts: {
    sft: "open_instruct/finetune.py",
    dpo: "open_instruct/dpo_tune_cache.py",
    ppo: "open_instruct/ppo_vllm_thread_ray_gtrl.py",
    grpo: "open_instruct/grpo_fast.py",
  },
  sft: sftFlags,
  // docs/olmo2.md's DPO command: dpo_tune_cache.py takes the tokenizer as --tokenizer_name_or_path.
  dpo: { ...dpoFlags, tokenizerName: "--tokenizer_name_or_path" },
  // Every grpo_fast.py version with --mask_truncated_completions (DAPO's overlong filtering) has
  // DAPO's --clip_lower/--clip_higher instead of the single --cliprange.
  grpo: { ...grpoFlags, clipRange: null, clipLower: "--clip_lower", clipHigher: "--clip_higher" },
  ppo: ppoFlags,
  klEstimators: textKl,
  removedBehaviour: { sftReduction: null },
};

/**
 * HEAD when this table was written (e6c3044): every rename in docs/scale-out.md applied.
 * Defaults that moved in #1547 (advantages, clip_higher, async_steps) are written out.
 */
const head: OpenInstructCommit = {
  commit: "e6c3044",
  date: "2025-12",
  description: "open-instruct HEAD e6c3044: renamed DPO flags, numeric KL estimators, no PPO script",
  scripts: {
    sft: "open_instruct/finetune.py",
    dpo: "open_instruct/dpo_tune_cache.py",
    ppo: null,
    grpo: "open_instruct/grpo_fast.py",
  },
  sft: { ...sftFlags, reduceLoss: null, useFlashAttention: null },
  // dpo_config.py after #1375 (DPOHyperparamsConfig, DatasetConfig, TrainingConfig): every DPO
  // hyperparameter lost its dpo_ prefix and every dataset field its dataset_ prefix; the clip is
  // --max_grad_norm (already so before #1375).
  dpo: {
    ...dpoFlags,
    tokenizerName: "--tokenizer_name_or_path",
    useFlashAttention: null,
    epochs: "--num_epochs",
    datasetMixerList: "--mixer_list",
    datasetTransformFunctions: "--transform_fn",
    clipGradientNorm: "--max_grad_norm",
    lossType: "--loss_type",
    beta: "--beta",
    labelSmoothing: "--label_smoothing",
    gammaBetaRatio: "--gamma_beta_ratio",
  },
  grpo: {
    ...grpoFlags,
    maxTokenLength: null,
    clipRange: null,
    clipLower: "--clip_lower",
    clipHigher: "--clip_higher",
    advantageNormalizationType: "--advantage_normalization_type",
    asyncSteps: "--async_steps",
    filterZeroStdSamples: "--filter_zero_std_samples",
  },
  ppo: null,
  klEstimators: { k1: "0", k2: "1", k3: "2", k4: "3" },
  removedBehaviour: { sftReduction: "mean" },
};

/** Every supported commit, newest first. */
export const openInstructCommits: readonly OpenInstructCommit[] = [head, olmo2, release];

/** The open-instruct repository the bundle clones. */
export const openInstructRepository = "https://github.com/allenai/open-instruct";

/** The table of `commit` (a short SHA, or a longer SHA that starts with one), or undefined. */
export function findOpenInstructCommit(params: { commit: string }): OpenInstructCommit | undefined {
  const wanted = params.commit.toLowerCase();
  return openInstructCommits.find(
    (table) => wanted.startsWith(table.commit) || (wanted.length >= 7 && table.commit.startsWith(wanted)),
  );
}
