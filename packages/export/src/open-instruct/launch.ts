/**
 * How a stage is launched: `accelerate launch` with a DeepSpeed config for SFT/DPO (as the
 * published Tulu 3 scripts did), or a plain `python` on the head of a Ray cluster for the RL
 * scripts (they place learners and vLLM engines themselves). Shell text is quoted so every
 * argument reaches the script unchanged.
 */
import type { StageCommand } from "./stage-commands.js";
import { inputModelVariable } from "./translate-support.js";

/** Port of the accelerate rendezvous on multi-node runs (the published scripts' 29400). */
export const mainProcessPort = 29400;

/**
 * The DeepSpeed config the accelerate launch points at (`configs/ds_stage{2,3}.json` in the
 * bundle), equal to the published runs' open-instruct configs: ZeRO-3 =
 * `configs/ds_configs/stage3_no_offloading_accelerate.conf` (same at e363290 and 89b4f62),
 * ZeRO-2 = `configs/ds_configs/stage2_accelerate.conf` (89b4f62). Batch sizes and
 * `gradient_clipping` are "auto": accelerate fills them (clipping with its default 1.0).
 */
export function deepspeedConfig(params: { stage: 2 | 3 }): Record<string, unknown> {
  const zero: Record<string, unknown> = {
    stage: params.stage,
    overlap_comm: true,
    contiguous_gradients: true,
  };
  if (params.stage === 3) {
    Object.assign(zero, {
      sub_group_size: 1e9,
      reduce_bucket_size: "auto",
      stage3_prefetch_bucket_size: "auto",
      stage3_param_persistence_threshold: "auto",
      stage3_max_live_parameters: 1e9,
      stage3_max_reuse_distance: 1e9,
      stage3_gather_16bit_weights_on_model_save: true,
    });
  } else {
    Object.assign(zero, { reduce_bucket_size: "auto" });
  }
  return {
    bf16: { enabled: "auto" },
    zero_optimization: zero,
    gradient_accumulation_steps: "auto",
    gradient_clipping: "auto",
    steps_per_print: 1e5,
    train_batch_size: "auto",
    train_micro_batch_size_per_gpu: "auto",
    wall_clock_breakdown: false,
  };
}

/** The bundle-relative path of a DeepSpeed config. */
export function deepspeedConfigPath(stage: 2 | 3): string {
  return `configs/ds_stage${stage}.json`;
}

/** POSIX shell quoting: bare when safe, single-quoted otherwise. */
export function shellQuote(value: string): string {
  if (/^[\w@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The launcher's argv before the script: `accelerate launch --mixed_precision bf16
 * --num_machines N --num_processes P --use_deepspeed --deepspeed_config_file …` (multi-node
 * adds rank, main process address and port, and the standard multinode launcher; rank and
 * address are the shell variables `MACHINE_RANK` / `MAIN_PROCESS_IP` the Slurm script sets).
 * RL stages: `python`.
 */
export function launcherArguments(command: StageCommand): string[] {
  if (command.launcher === "ray") return ["python"];
  const { nodes, processes } = command.batch;
  const launch = [
    "accelerate",
    "launch",
    "--mixed_precision",
    "bf16",
    "--num_machines",
    String(nodes),
    "--num_processes",
    String(processes),
  ];
  if (nodes > 1)
    launch.push(
      "--machine_rank",
      "$MACHINE_RANK",
      "--main_process_ip",
      "$MAIN_PROCESS_IP",
      "--main_process_port",
      String(mainProcessPort),
    );
  launch.push("--use_deepspeed", "--deepspeed_config_file", deepspeedConfigPath(command.deepspeedStage));
  if (nodes > 1) launch.push("--deepspeed_multinode_launcher", "standard");
  return launch;
}

/** The full command line of a stage as shell text; the script is found under `$OPEN_INSTRUCT_DIR`. */
export function stageShellCommand(command: StageCommand): string {
  const launcher = launcherArguments(command).map((part) =>
    part.startsWith("$") ? `"${part}"` : shellQuote(part),
  );
  const lines = [
    [...launcher, `"$OPEN_INSTRUCT_DIR"/${shellQuote(command.script)}`].join(" "),
    ...pairs(command.arguments).map((pair) =>
      pair.map((part) => (part === inputModelVariable ? `"${part}"` : shellQuote(part))).join(" "),
    ),
  ];
  return lines.join(" \\\n    ");
}

/** Groups argv into `--flag value…` runs (one line each in the scripts). */
function pairs(argv: readonly string[]): string[][] {
  const groups: string[][] = [];
  for (const part of argv) {
    if (part.startsWith("--") || groups.length === 0) groups.push([part]);
    else groups[groups.length - 1]!.push(part);
  }
  return groups;
}
