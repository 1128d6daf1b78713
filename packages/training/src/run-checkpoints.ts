/**
 * The checkpoint side of every training stage's run: `<run directory>/checkpoints`, resumed
 * from when present (refused when it was written under another resolved config), and a `save`
 * that writes one checkpoint per step at most. Every checkpoint's extras hold `configKey` (the
 * resolved config's fingerprint) and `cursor: { step }`, then the stage's own extras.
 * Events: `resumed` ({ step }) and `checkpoint-saved` ({ step, path }).
 */
import { join } from "node:path";
import type { RunContext } from "@posttrain/core";
import type { CausalLmTrainer } from "@posttrain/engine";
import { type LoadedCheckpoint, loadCheckpoint, restoreCheckpoint, saveCheckpoint } from "@posttrain/engine";
import { TrainError } from "./errors.js";

export interface RunCheckpoints {
  /** `<run directory>/checkpoints`. */
  directory: string;
  /** The checkpoint restored into the trainer, or null on a fresh run. */
  restored: LoadedCheckpoint | null;
  /** Saves a checkpoint at the trainer's current step, unless one exists for that step already. */
  save(): Promise<void>;
}

/** Resumes `trainer` from the run's latest checkpoint (when any) and returns the saver. */
export async function openRunCheckpoints(params: {
  context: RunContext;
  /** The stage name in log lines (`sft`, `dpo`, `rlvr`). */
  stage: string;
  /** The trainer as the checkpoint functions take it (a GraphTrainer's `asCheckpointTarget()`). */
  trainer: CausalLmTrainer;
  configKey: string;
  /** Called after the trainer is restored, before the `resumed` event (stage state from `extra`). */
  onRestore?: (checkpoint: LoadedCheckpoint) => void;
  /** The stage's own extras, read at each save. */
  extra?: () => Record<string, unknown>;
}): Promise<RunCheckpoints> {
  const { context, trainer, configKey } = params;
  const directory = join(context.directory, "checkpoints");
  const restored = await loadCheckpoint({ directory });
  if (restored !== null) {
    if (restored.state.extra?.["configKey"] !== configKey)
      throw new TrainError({
        code: "train_config_changed",
        message: `${directory} was written under another config`,
      });
    restoreCheckpoint({ trainer, checkpoint: restored });
    params.onRestore?.(restored);
    context.events.write({ type: "resumed", step: trainer.step });
    context.log(`${params.stage}: resumed at step ${trainer.step}`);
  }
  let savedStep = restored?.state.step ?? -1;
  const save = async (): Promise<void> => {
    if (savedStep === trainer.step) return;
    const path = await saveCheckpoint({
      directory,
      trainer,
      extra: { configKey, cursor: { step: trainer.step }, ...params.extra?.() },
    });
    savedStep = trainer.step;
    context.events.write({ type: "checkpoint-saved", step: trainer.step, path });
  };
  return { directory, restored, save };
}
