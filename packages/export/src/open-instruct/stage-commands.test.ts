import { PosttrainError } from "@posttrain/core";
import { recipe as olmo2 } from "@posttrain-recipes/olmo2-1b-instruct";
import { recipe as tulu3 } from "@posttrain-recipes/tulu3-8b";
import { describe, expect, it } from "vitest";
import { findOpenInstructCommit, type OpenInstructCommit } from "./commits.js";
import { launcherArguments, stageShellCommand } from "./launch.js";
import { type DatasetPaths, openInstructStageCommands, type StageCommand } from "./stage-commands.js";

const commit = (sha: string): OpenInstructCommit => {
  const table = findOpenInstructCommit({ commit: sha });
  if (table === undefined) throw new Error(`no table ${sha}`);
  return table;
};

/** `--flag value…` runs of an argv, by flag (a bare flag maps to []). */
function flags(command: StageCommand): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let current = "";
  for (const part of command.arguments) {
    if (part.startsWith("--")) {
      expect(map.has(part), `${part} written twice`).toBe(false);
      current = part;
      map.set(part, []);
    } else map.get(current)!.push(part);
  }
  return map;
}
const value = (map: Map<string, string[]>, flag: string) => {
  const values = map.get(flag);
  expect(values, `${flag} missing`).toBeDefined();
  return values!.join(" ");
};
const numeric = (map: Map<string, string[]>, flag: string) => Number(value(map, flag));

const pathsOf = (recipe: typeof tulu3): DatasetPaths =>
  Object.fromEntries(
    recipe.stages.flatMap((stage) =>
      stage.data.train.map((_, index) => [
        `${stage.name}.train[${index}]`,
        [`data/${stage.name}/train-${index}.parquet`],
      ]),
    ),
  );

describe("open-instruct export: Tulu 3 8B at the release commit e363290", () => {
  const commands = openInstructStageCommands({
    recipe: tulu3,
    commit: commit("e363290"),
    datasetPaths: pathsOf(tulu3),
    options: {
      startFrom: "published",
      reinforcementLayouts: {
        rlvr: {
          learnersPerNode: [7],
          vllmEngines: 1,
          vllmTensorParallelSize: 1,
          perDeviceTrainBatchSize: 2,
          rewardModel: "allenai/Llama-3.1-Tulu-3-8B-RM",
        },
      },
    },
  });
  const [sft, dpo, rlvr] = commands as [StageCommand, StageCommand, StageCommand];

  it("SFT: finetune.py on 8 nodes × 8 GPUs with the published flags", () => {
    expect(sft.script).toBe("open_instruct/finetune.py");
    const map = flags(sft);
    expect(value(map, "--model_name_or_path")).toBe("meta-llama/Llama-3.1-8B");
    expect(value(map, "--tokenizer_name")).toBe("meta-llama/Llama-3.1-8B");
    expect(numeric(map, "--max_seq_length")).toBe(4096);
    expect(numeric(map, "--per_device_train_batch_size")).toBe(1);
    expect(numeric(map, "--gradient_accumulation_steps")).toBe(2);
    expect(numeric(map, "--learning_rate")).toBe(5e-6);
    expect(value(map, "--lr_scheduler_type")).toBe("linear");
    expect(numeric(map, "--warmup_ratio")).toBe(0.03);
    expect(numeric(map, "--weight_decay")).toBe(0);
    expect(numeric(map, "--num_train_epochs")).toBe(2);
    expect(value(map, "--reduce_loss")).toBe("sum");
    expect(value(map, "--dataset_mixer_list")).toBe("data/sft/train-0.parquet 1.0");
    expect(map.get("--use_slow_tokenizer")).toEqual([]);
    expect(map.get("--use_flash_attn")).toEqual([]);
    expect(value(map, "--chat_template_name")).toBe("tulu");
    expect(numeric(map, "--seed")).toBe(123);
    expect(numeric(map, "--clip_grad_norm")).toBe(-1);
    // The release commit predates the dataset transformation pipeline.
    expect(map.has("--dataset_transform_fn")).toBe(false);
    expect(sft.batch).toMatchObject({ nodes: 8, gpusPerNode: 8, processes: 64, effectiveBatchSize: 128 });
    expect(launcherArguments(sft).join(" ")).toBe(
      "accelerate launch --mixed_precision bf16 --num_machines 8 --num_processes 64 --machine_rank $MACHINE_RANK --main_process_ip $MAIN_PROCESS_IP --main_process_port 29400 --use_deepspeed --deepspeed_config_file configs/ds_stage3.json --deepspeed_multinode_launcher standard",
    );
  });

  it("DPO: dpo_tune.py, dpo_norm with beta 5, 1 node × 8 × 16 = 128", () => {
    expect(dpo.script).toBe("open_instruct/dpo_tune.py");
    const map = flags(dpo);
    expect(value(map, "--model_name_or_path")).toBe("allenai/Llama-3.1-Tulu-3-8B-SFT");
    expect(numeric(map, "--max_seq_length")).toBe(2048);
    expect(numeric(map, "--per_device_train_batch_size")).toBe(1);
    expect(numeric(map, "--gradient_accumulation_steps")).toBe(16);
    expect(numeric(map, "--learning_rate")).toBe(5e-7);
    expect(numeric(map, "--warmup_ratio")).toBe(0.1);
    expect(numeric(map, "--num_train_epochs")).toBe(1);
    expect(value(map, "--dataset_mixer_list")).toBe("data/dpo/train-0.parquet 1.0");
    expect(value(map, "--dpo_loss_type")).toBe("dpo_norm");
    expect(numeric(map, "--dpo_beta")).toBe(5);
    expect(numeric(map, "--dpo_gamma_beta_ratio")).toBe(0.3);
    expect(numeric(map, "--dpo_label_smoothing")).toBe(0);
    expect(value(map, "--use_lora")).toBe("False");
    expect(map.get("--gradient_checkpointing")).toEqual([]);
    expect(numeric(map, "--seed")).toBe(42);
    expect(map.has("--reduce_loss")).toBe(false);
    expect(dpo.batch).toMatchObject({ nodes: 1, processes: 8, effectiveBatchSize: 128 });
    expect(launcherArguments(dpo)).not.toContain("--machine_rank");
  });

  it("RLVR: the PPO Ray script with 7 learners + 1 vLLM engine", () => {
    expect(rlvr.script).toBe("open_instruct/ppo_vllm_thread_ray_gtrl.py");
    expect(rlvr.launcher).toBe("ray");
    const map = flags(rlvr);
    expect(value(map, "--model_name_or_path")).toBe("allenai/Llama-3.1-Tulu-3-8B-DPO");
    expect(value(map, "--reward_model_path")).toBe("allenai/Llama-3.1-Tulu-3-8B-RM");
    expect(numeric(map, "--reward_model_multiplier")).toBe(0);
    expect(JSON.parse(value(map, "--dataset_mixer"))).toEqual({ "data/rlvr/train-0.parquet": 1 });
    expect(JSON.parse(value(map, "--dataset_eval_mixer"))).toEqual({ "data/rlvr/train-0.parquet": 128 });
    expect(numeric(map, "--max_token_length")).toBe(2048);
    expect(numeric(map, "--max_prompt_token_length")).toBe(2048);
    expect(numeric(map, "--response_length")).toBe(2048);
    expect(map.get("--non_stop_penalty")).toEqual([]);
    expect(numeric(map, "--penalty_reward_value")).toBe(-10);
    expect(value(map, "--stop_token")).toBe("eos");
    expect(numeric(map, "--temperature")).toBe(1);
    expect(value(map, "--chat_template")).toBe("tulu");
    expect(numeric(map, "--learning_rate")).toBe(3e-7);
    expect(numeric(map, "--total_episodes")).toBe(10_000_000);
    expect(numeric(map, "--beta")).toBe(0.05);
    expect(value(map, "--kl_estimator")).toBe("kl1");
    expect(numeric(map, "--per_device_train_batch_size")).toBe(2);
    expect(numeric(map, "--local_mini_batch_size")).toBe(32);
    expect(numeric(map, "--local_rollout_batch_size")).toBe(32);
    expect(numeric(map, "--actor_num_gpus_per_node")).toBe(7);
    expect(numeric(map, "--vllm_tensor_parallel_size")).toBe(1);
    expect(numeric(map, "--deepspeed_stage")).toBe(3);
    expect(value(map, "--apply_verifiable_reward")).toBe("true");
    expect(numeric(map, "--seed")).toBe(3);
    expect(numeric(map, "--save_freq")).toBe(100);
    expect(numeric(map, "--num_epochs")).toBe(4);
    expect(numeric(map, "--cliprange")).toBe(0.2);
    expect(numeric(map, "--vf_coef")).toBe(0.1);
    expect(numeric(map, "--gamma")).toBe(1);
    expect(numeric(map, "--lam")).toBe(0.95);
    expect(rlvr.batch.gradientAccumulationSteps).toBe(16);
  });

  it("the shell command quotes JSON and finds the script in the checkout", () => {
    const text = stageShellCommand(rlvr);
    expect(text.startsWith('python "$OPEN_INSTRUCT_DIR"/open_instruct/ppo_vllm_thread_ray_gtrl.py')).toBe(
      true,
    );
    expect(text).toContain(`--dataset_mixer '{"data/rlvr/train-0.parquet": 1.0}'`);
  });

  it("chains stages from the previous output by default", () => {
    const chained = openInstructStageCommands({
      recipe: tulu3,
      commit: commit("e363290"),
      datasetPaths: pathsOf(tulu3),
      stages: ["dpo"],
    });
    expect(chained).toHaveLength(1);
    expect(value(flags(chained[0]!), "--model_name_or_path")).toBe("output/sft");
  });
});

describe("open-instruct export: OLMo 2 1B at 89b4f62 (docs/olmo2.md)", () => {
  const commands = openInstructStageCommands({
    recipe: olmo2,
    commit: commit("89b4f62"),
    datasetPaths: pathsOf(olmo2),
    options: { startFrom: "published", deepspeedStages: { dpo: 2 } },
  });
  const [sft, dpo, grpo] = commands as [StageCommand, StageCommand, StageCommand];

  it("SFT: add_bos, 8 × 2 × 8 = 128, lr 3e-5, sum loss, seed 1", () => {
    const map = flags(sft);
    expect(value(map, "--model_name_or_path")).toBe("allenai/OLMo-2-0425-1B");
    expect(map.get("--add_bos")).toEqual([]);
    expect(value(map, "--dataset_mixer_list")).toBe("data/sft/train-0.parquet 1.0");
    expect(numeric(map, "--learning_rate")).toBe(3e-5);
    expect(numeric(map, "--per_device_train_batch_size")).toBe(2);
    expect(numeric(map, "--gradient_accumulation_steps")).toBe(8);
    expect(value(map, "--reduce_loss")).toBe("sum");
    expect(numeric(map, "--num_train_epochs")).toBe(2);
    expect(numeric(map, "--seed")).toBe(1);
    expect(value(map, "--dataset_transform_fn")).toBe("sft_tulu_tokenize_and_truncate_v1 sft_tulu_filter_v1");
    expect(sft.batch.formula).toBe("8 GPUs × 2 per device × 8 accumulation = 128");
  });

  it("DPO: dpo_tune_cache.py on ZeRO-2, 8 × 8 × 2 = 128, lr 2.5e-6, seed 111", () => {
    expect(dpo.script).toBe("open_instruct/dpo_tune_cache.py");
    expect(dpo.deepspeedStage).toBe(2);
    expect(launcherArguments(dpo)).toContain("configs/ds_stage2.json");
    const map = flags(dpo);
    expect(value(map, "--model_name_or_path")).toBe("allenai/OLMo-2-0425-1B-SFT");
    expect(numeric(map, "--learning_rate")).toBe(2.5e-6);
    expect(value(map, "--dpo_loss_type")).toBe("dpo_norm");
    expect(numeric(map, "--dpo_beta")).toBe(5);
    expect(numeric(map, "--seed")).toBe(111);
    expect(numeric(map, "--num_train_epochs")).toBe(1);
    expect(dpo.batch.effectiveBatchSize).toBe(128);
    // dpo_tune_cache.py names (FlatArguments before #1375; docs/olmo2.md's tokenizer flag).
    expect(numeric(map, "--dpo_label_smoothing")).toBe(0);
    expect(numeric(map, "--dpo_gamma_beta_ratio")).toBe(0.3);
    expect(value(map, "--tokenizer_name_or_path")).toBeDefined();
    expect(map.has("--tokenizer_name")).toBe(false);
  });

  it("RLVR: grpo_fast.py with beta 0.01, kl3, 48 × 16, constant lr 5e-7", () => {
    expect(grpo.script).toBe("open_instruct/grpo_fast.py");
    const map = flags(grpo);
    expect(numeric(map, "--beta")).toBe(0.01);
    expect(value(map, "--kl_estimator")).toBe("kl3");
    expect(numeric(map, "--num_unique_prompts_rollout")).toBe(48);
    expect(numeric(map, "--num_samples_per_prompt_rollout")).toBe(16);
    expect(numeric(map, "--learning_rate")).toBe(5e-7);
    expect(value(map, "--lr_scheduler_type")).toBe("constant");
    // The recipe's 2,604 steps × 768 episodes: the published 2M rounded down to whole steps.
    expect(numeric(map, "--total_episodes")).toBe(2604 * 768);
    expect(numeric(map, "--max_prompt_token_length")).toBe(2048);
    expect(value(map, "--num_learners_per_node")).toBe("8");
    expect(value(map, "--mask_truncated_completions")).toBe("False");
    // DAPO's clip flags came with --mask_truncated_completions: no single --cliprange.
    expect(numeric(map, "--clip_lower")).toBe(0.2);
    expect(numeric(map, "--clip_higher")).toBe(0.2);
    expect(map.has("--cliprange")).toBe(false);
    expect(numeric(map, "--verification_reward")).toBe(10);
    expect(map.has("--advantage_normalization_type")).toBe(false);
    expect(grpo.omitted.map((entry) => entry.field)).toContain("stages[2].hyperparameters.verifierWorkers");
    expect(numeric(map, "--response_length")).toBe(2048);
    expect(numeric(map, "--pack_length")).toBe(4096);
    expect(value(map, "--non_stop_penalty")).toBe("True");
    expect(numeric(map, "--non_stop_penalty_value")).toBe(0);
    expect(numeric(map, "--num_mini_batches")).toBe(2);
    expect(numeric(map, "--num_epochs")).toBe(1);
    expect(numeric(map, "--deepspeed_stage")).toBe(2);
    expect(numeric(map, "--seed")).toBe(1);
    expect(grpo.batch.effectiveBatchSize).toBe(384);
    expect(grpo.batch.formula).toContain("= 768 episodes per step = 2 mini-batches");
  });
});

describe("open-instruct export: a newer commit (HEAD e6c3044) uses the renamed flags", () => {
  it("DPO: --mixer_list, --loss_type, --beta, --num_epochs; GRPO: numeric kl estimator, clip_lower/higher", () => {
    const [dpo, grpo] = openInstructStageCommands({
      recipe: olmo2,
      commit: commit("e6c3044"),
      datasetPaths: pathsOf(olmo2),
      stages: ["dpo", "rlvr-mixed"],
    }) as [StageCommand, StageCommand];
    const dpoFlags = flags(dpo);
    expect(value(dpoFlags, "--mixer_list")).toBe("data/dpo/train-0.parquet 1.0");
    expect(value(dpoFlags, "--loss_type")).toBe("dpo_norm");
    expect(numeric(dpoFlags, "--beta")).toBe(5);
    expect(numeric(dpoFlags, "--num_epochs")).toBe(1);
    // dpo_config.py after #1375: no dpo_/dataset_ prefixes; the clip is --max_grad_norm.
    expect(numeric(dpoFlags, "--label_smoothing")).toBe(0);
    expect(numeric(dpoFlags, "--gamma_beta_ratio")).toBe(0.3);
    expect(value(dpoFlags, "--transform_fn")).toBe(
      "preference_tulu_tokenize_and_truncate_v1 preference_tulu_filter_v1",
    );
    expect(dpoFlags.has("--max_grad_norm")).toBe(true);
    expect(dpoFlags.has("--tokenizer_name_or_path")).toBe(true);
    for (const old of [
      "--dataset_mixer_list",
      "--dpo_loss_type",
      "--dpo_beta",
      "--dpo_label_smoothing",
      "--dpo_gamma_beta_ratio",
      "--dataset_transform_fn",
      "--clip_grad_norm",
      "--tokenizer_name",
      "--num_train_epochs",
      "--use_flash_attn",
    ])
      expect(dpoFlags.has(old), old).toBe(false);
    const grpoFlags = flags(grpo);
    expect(value(grpoFlags, "--kl_estimator")).toBe("2");
    expect(grpoFlags.has("--max_token_length")).toBe(false);
    expect(numeric(grpoFlags, "--clip_lower")).toBe(0.2);
    expect(numeric(grpoFlags, "--clip_higher")).toBe(0.2);
    expect(value(grpoFlags, "--filter_zero_std_samples")).toMatch(/^(True|False)$/);
    expect(value(grpoFlags, "--mask_truncated_completions")).toBe("False");
    expect(value(grpoFlags, "--advantage_normalization_type")).toBe("standard");
    expect(numeric(grpoFlags, "--async_steps")).toBe(1);
  });

  it("refuses sum loss reduction and PPO, naming the fields", () => {
    let error: unknown;
    try {
      openInstructStageCommands({ recipe: tulu3, commit: commit("e6c3044"), datasetPaths: pathsOf(tulu3) });
    } catch (caught) {
      error = caught;
    }
    expect(PosttrainError.hasCode(error, "export_unsupported")).toBe(true);
    const fields = (error as PosttrainError).details?.["fields"] as string[];
    expect(fields).toContain("stages[0].hyperparameters.reduction");
    expect(fields).toContain("stages[2].type");
  });

  it("refuses GRPO at the release commit, which predates grpo_fast.py", () => {
    expect(() =>
      openInstructStageCommands({
        recipe: olmo2,
        commit: commit("e363290"),
        datasetPaths: pathsOf(olmo2),
        stages: ["rlvr-math"],
      }),
    ).toThrow(/stages\[3\]\.type: .*no GRPO script/);
  });

  it("refuses a batch that does not multiply out, and non-default AdamW betas", () => {
    const sft = tulu3.stages[0]!;
    if (sft.type !== "sft") throw new Error("expected sft");
    const broken = {
      ...tulu3,
      stages: [
        {
          ...sft,
          hyperparameters: {
            ...sft.hyperparameters,
            batch: { ...sft.hyperparameters.batch, effectiveBatchSize: 256 },
          },
        },
      ],
    };
    expect(() =>
      openInstructStageCommands({ recipe: broken, commit: commit("e363290"), datasetPaths: pathsOf(tulu3) }),
    ).toThrow(/export_batch_mismatch|effectiveBatchSize is 256/);
    const betas = {
      ...tulu3,
      stages: [
        {
          ...sft,
          hyperparameters: { ...sft.hyperparameters, adamW: { ...sft.hyperparameters.adamW, beta2: 0.95 } },
        },
      ],
    };
    expect(() =>
      openInstructStageCommands({ recipe: betas, commit: commit("e363290"), datasetPaths: pathsOf(tulu3) }),
    ).toThrow(/stages\[0\]\.hyperparameters\.adamW\.beta2/);
  });
});
