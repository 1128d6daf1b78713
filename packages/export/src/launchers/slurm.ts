/**
 * A Slurm batch script per stage. SFT/DPO: one task per node, each running the stage's
 * `accelerate launch` with its node rank (`SLURM_PROCID`) and the first node as rendezvous.
 * RL stages: a Ray cluster over the allocation (head on the first node, workers on the
 * rest), then the script on the head. No credential or address is written into the script:
 * `HF_TOKEN` and friends come from the submitting environment (`sbatch --export`).
 */
import type { StageCommand } from "../open-instruct/stage-commands.js";

/** Site settings of the generated scripts (all optional). */
export interface SlurmOptions {
  partition?: string;
  account?: string;
  /** `--time`, e.g. `48:00:00`. */
  time?: string;
  cpusPerTask?: number;
  /** Extra `#SBATCH` lines, written verbatim after the generated ones (e.g. `--qos=high`). */
  extraDirectives?: string[];
}

/** Port of the Ray head the RL stages start inside the allocation. */
export const rayHeadPort = 6379;

/** The sbatch script of one stage; `stageScript` is the bundle-relative path of its command script. */
export function slurmScript(params: {
  recipeName: string;
  command: StageCommand;
  stageScript: string;
  openInstructCommit: string;
  options?: SlurmOptions;
}): string {
  const { command, options = {} } = params;
  const nodes =
    command.launcher === "ray"
      ? command.batch.nodes + 1 // learners' nodes + one node for the vLLM engines
      : command.batch.nodes;
  const gpusPerNode =
    command.launcher === "ray" ? Math.max(command.batch.gpusPerNode, 1) : command.batch.gpusPerNode;
  const directives = [
    `--job-name=${params.recipeName}-${command.stage}`,
    `--nodes=${nodes}`,
    "--ntasks-per-node=1",
    `--gpus-per-node=${gpusPerNode}`,
    `--output=logs/%x-%j.out`,
    ...(options.cpusPerTask === undefined ? [] : [`--cpus-per-task=${options.cpusPerTask}`]),
    ...(options.partition === undefined ? [] : [`--partition=${options.partition}`]),
    ...(options.account === undefined ? [] : [`--account=${options.account}`]),
    ...(options.time === undefined ? [] : [`--time=${options.time}`]),
    ...(options.extraDirectives ?? []),
  ];
  const header = [
    "#!/bin/bash",
    ...directives.map((directive) => `#SBATCH ${directive}`),
    `# ${params.recipeName} stage ${command.stage}: ${command.script} (open-instruct ${params.openInstructCommit})`,
    `# Batch: ${command.batch.formula}`,
    "# Submit from the bundle folder: sbatch slurm/<stage>.sbatch (credentials such as HF_TOKEN come from your environment).",
    "set -euo pipefail",
    `: "\${OPEN_INSTRUCT_DIR:?set OPEN_INSTRUCT_DIR to the open-instruct checkout at ${params.openInstructCommit} (see setup.sh)}"`,
    `cd "\${POSTTRAIN_BUNDLE_DIR:-$SLURM_SUBMIT_DIR}"`,
    "mkdir -p logs",
    'MAIN_PROCESS_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
    "export MAIN_PROCESS_IP",
  ];
  if (command.launcher === "accelerate") {
    return `${[
      ...header,
      `srun --nodes=${nodes} --ntasks-per-node=1 bash -c 'MACHINE_RANK="$SLURM_PROCID" exec bash ${params.stageScript}'`,
    ].join("\n")}\n`;
  }
  return `${[
    ...header,
    `RAY_ADDRESS_LOCAL="$MAIN_PROCESS_IP:${rayHeadPort}"`,
    "# Ray head on the first node, workers on the others; the stage runs on the head.",
    `srun --nodes=1 --ntasks=1 -w "$MAIN_PROCESS_IP" ray start --head --node-ip-address="$MAIN_PROCESS_IP" --port=${rayHeadPort} --block &`,
    "sleep 30",
    'if [ "$SLURM_JOB_NUM_NODES" -gt 1 ]; then',
    `  srun --nodes=$((SLURM_JOB_NUM_NODES - 1)) --ntasks-per-node=1 --exclude="$MAIN_PROCESS_IP" ray start --address="$RAY_ADDRESS_LOCAL" --block &`,
    "  sleep 30",
    "fi",
    `RAY_ADDRESS="$RAY_ADDRESS_LOCAL" bash ${params.stageScript}`,
  ].join("\n")}\n`;
}
