/**
 * The end of a training stage's run: what `train` returns, and the completion that writes the
 * final model folder (`<run>/model`, see {@link writeModelDirectory}), `<run>/metrics.json`
 * (`{ step, ...metrics }`) and the `train-end` event (`{ step, modelDirectory, ...endEvent }`).
 */
import { join } from "node:path";
import { type RunContext, writeJsonAtomic } from "@posttrain/core";
import type { LlamaConfig, ParameterLayout } from "@posttrain/engine";
import { writeModelDirectory } from "./model-directory.js";

/** What a stage's `train` returns; `Metrics` is the stage's own summary. */
export interface TrainingRunResult<Metrics> {
  status: "completed" | "interrupted";
  step: number;
  totalSteps: number;
  /** The final model folder (config.json, parameters.bin, model.safetensors); null when interrupted. */
  modelDirectory: string | null;
  checkpointDirectory: string;
  /** Final parameters (flat engine layout). */
  parameters: Float32Array;
  metrics: Metrics;
}

/** Writes the final model, metrics.json and the `train-end` event; returns the completed result. */
export async function completeTrainingRun<Metrics extends object>(params: {
  context: RunContext;
  model: { config: LlamaConfig };
  trainer: { step: number; layout: ParameterLayout; parameters: Float32Array };
  totalSteps: number;
  checkpointDirectory: string;
  metrics: Metrics;
  /** Extra fields of the `train-end` event. */
  endEvent?: Record<string, unknown>;
}): Promise<TrainingRunResult<Metrics>> {
  const { context, trainer, metrics } = params;
  const modelDirectory = await writeModelDirectory({
    directory: join(context.directory, "model"),
    config: params.model.config,
    layout: trainer.layout,
    parameters: trainer.parameters,
  });
  await writeJsonAtomic({
    path: join(context.directory, "metrics.json"),
    value: { step: trainer.step, ...metrics },
  });
  context.events.write({ type: "train-end", step: trainer.step, modelDirectory, ...params.endEvent });
  return {
    status: "completed",
    step: trainer.step,
    totalSteps: params.totalSteps,
    modelDirectory,
    checkpointDirectory: params.checkpointDirectory,
    parameters: trainer.parameters,
    metrics,
  };
}

/**
 * Stops a run on SIGINT (`context.signal` aborted): saves a checkpoint (`save`, from
 * {@link openRunCheckpoints}), writes the `interrupted` event and returns the interrupted result
 * (no model folder); running `train` again resumes from that checkpoint.
 */
export async function interruptTrainingRun<Metrics extends object>(params: {
  context: RunContext;
  save: () => Promise<void>;
  trainer: { step: number; parameters: Float32Array };
  totalSteps: number;
  checkpointDirectory: string;
  metrics: Metrics;
}): Promise<TrainingRunResult<Metrics>> {
  const { trainer } = params;
  await params.save();
  params.context.events.write({ type: "interrupted", step: trainer.step });
  return {
    status: "interrupted",
    step: trainer.step,
    totalSteps: params.totalSteps,
    modelDirectory: null,
    checkpointDirectory: params.checkpointDirectory,
    parameters: trainer.parameters,
    metrics: params.metrics,
  };
}
