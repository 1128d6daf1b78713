/**
 * The one training loop of every stage (SFT, DPO, RLVR): the stage brings a step function and
 * its held-out check; the loop owns the step counter, interrupts, progress, `step-end`
 * events, held-out cadence, checkpoint cadence and the end of the run.
 *
 * Per step, in order: stop on SIGINT (checkpoint, `interrupted` event, interrupted result) →
 * `runStep` → the step counter advances → `step-end` event → progress → `afterStep` →
 * the held-out check when due (every `heldOut.everySteps`) → a checkpoint when due (every
 * `checkpointEverySteps`), so a checkpoint holds the state of everything its step did. At the
 * end: a checkpoint, a last held-out check when `heldOut.atEnd` and the last step did not
 * have one, then the model folder, `metrics.json` and the `train-end` event.
 */
import type { RunContext } from "@posttrain/core";
import type { LlamaConfig, ParameterLayout } from "@posttrain/engine";
import type { RunCheckpoints } from "./run-checkpoints.js";
import { completeTrainingRun, interruptTrainingRun, type TrainingRunResult } from "./run-result.js";

/** What the loop reads and advances: the trainer's step counter (the checkpoint cursor) and weights. */
export interface LoopTrainer {
  step: number;
  readonly layout: ParameterLayout;
  readonly parameters: Float32Array;
}

/** One step's outcome: the `step-end` event's fields and the progress line's figures. */
export interface StepReport<StepMetrics> {
  metrics: StepMetrics;
  progress: Record<string, number>;
}

/** A held-out check (SFT/DPO: held-out loss and preference metrics; RLVR: the over-optimisation monitor). */
export interface HeldOutCheck<StepMetrics> {
  everySteps: number;
  /** Also after the last step when it was not a multiple of `everySteps` (and on a run with no steps). */
  atEnd: boolean;
  run(params: { step: number; lastStep: StepMetrics | null }): Promise<void>;
}

export interface TrainingLoopParams<StepMetrics extends object, Metrics extends object> {
  context: RunContext;
  /** The progress line's label. */
  label: string;
  trainer: LoopTrainer;
  model: { config: LlamaConfig };
  totalSteps: number;
  /** From {@link openRunCheckpoints} (the trainer is already restored when resuming). */
  checkpoints: RunCheckpoints;
  checkpointEverySteps: number;
  /**
   * One optimizer step (RLVR: one rollout batch) at `step` (0-based); the loop advances the
   * trainer's counter to `step + 1` afterwards.
   */
  runStep(params: { step: number }): Promise<StepReport<StepMetrics>>;
  /** Before the first step of this call (fresh or resumed): e.g. a baseline held-out check. */
  beforeFirstStep?(): Promise<void>;
  /** After each step's event and progress, before its held-out check and checkpoint. */
  afterStep?(params: { step: number; lastStep: StepMetrics }): Promise<void>;
  heldOut?: HeldOutCheck<StepMetrics> | null;
  /** Runs when the loop leaves (finished, interrupted or failed), e.g. closing a generation backend. */
  close?(): Promise<void>;
  /** The run's summary from the last step's metrics (interrupted and completed results). */
  metrics(lastStep: StepMetrics | null): Metrics;
  /** Extra fields of the `train-end` event. */
  endEvent?(metrics: Metrics): Record<string, unknown>;
}

/** Runs (or resumes) a stage's steps up to `totalSteps`; returns the completed or interrupted result. */
export async function runTrainingLoop<StepMetrics extends object, Metrics extends object>(
  params: TrainingLoopParams<StepMetrics, Metrics>,
): Promise<TrainingRunResult<Metrics>> {
  const { context, trainer, totalSteps, checkpoints, heldOut } = params;
  const progress = context.progress({
    label: params.label,
    total: totalSteps,
    start: trainer.step,
    unit: "steps",
  });
  let lastStep: StepMetrics | null = null;
  const due = (every: number) => trainer.step % every === 0;
  try {
    await params.beforeFirstStep?.();
    while (trainer.step < totalSteps) {
      if (context.signal.aborted)
        return interruptTrainingRun({
          context,
          save: checkpoints.save,
          trainer,
          totalSteps,
          checkpointDirectory: checkpoints.directory,
          metrics: params.metrics(lastStep),
        });
      const step = trainer.step;
      const report = await params.runStep({ step });
      trainer.step = step + 1;
      lastStep = report.metrics;
      context.events.write({ type: "step-end", ...report.metrics });
      progress.update({ completed: trainer.step, metrics: report.progress });
      await params.afterStep?.({ step: trainer.step, lastStep: report.metrics });
      if (heldOut != null && due(heldOut.everySteps)) await heldOut.run({ step: trainer.step, lastStep });
      if (due(params.checkpointEverySteps)) await checkpoints.save();
    }
  } finally {
    progress.stop();
    await params.close?.();
  }
  await checkpoints.save();
  if (heldOut?.atEnd && (lastStep === null || !due(heldOut.everySteps)))
    await heldOut.run({ step: trainer.step, lastStep });
  const metrics = params.metrics(lastStep);
  return completeTrainingRun({
    context,
    model: params.model,
    trainer,
    totalSteps,
    checkpointDirectory: checkpoints.directory,
    metrics,
    ...(params.endEvent === undefined ? {} : { endEvent: params.endEvent(metrics) }),
  });
}
