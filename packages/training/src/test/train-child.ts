/**
 * The body of every stage's kill/resume child (run as built JS by {@link describeKillResume}):
 * parses `--directory`, `--steps`, `--step-delay-ms`, builds a run context that stops on
 * SIGINT, prints `checkpoint <step>` after each checkpoint (and sleeps `--step-delay-ms` after
 * each step so a parent can kill it mid-run), runs `train`, then prints
 * `done <sha256 of the parameters>` or `interrupted <step>`.
 */
import { parseArgs } from "node:util";
import { createRunContext, interruptSignal, type RunContext, sha256Hex } from "@posttrain/core";
import { parameterBytes } from "../model-source.js";
import type { TrainingRunResult } from "../run-result.js";

export async function runTrainChild(params: {
  /** The stage name (the context's random stream). */
  stage: string;
  train(params: {
    context: RunContext;
    steps: number;
    directory: string;
  }): Promise<TrainingRunResult<object>>;
}): Promise<void> {
  const { values } = parseArgs({
    options: {
      directory: { type: "string" },
      steps: { type: "string" },
      "step-delay-ms": { type: "string" },
    },
  });
  const directory = values.directory!;
  const delay = Number(values["step-delay-ms"] ?? 0);
  const interrupt = interruptSignal();
  const context = createRunContext({
    directory,
    seed: 1,
    streamName: params.stage,
    signal: interrupt.signal,
    progressMode: "silent",
  });
  const events = context.events;
  const write = events.write.bind(events);
  events.write = (event) => {
    const line = write(event);
    if (event.type === "checkpoint-saved") process.stdout.write(`checkpoint ${String(event["step"])}\n`);
    if (event.type === "step-end" && delay > 0)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
    return line;
  };
  const result = await params.train({ context, steps: Number(values.steps), directory });
  interrupt.dispose();
  process.stdout.write(
    result.status === "completed"
      ? `done ${sha256Hex(parameterBytes(result.parameters))}\n`
      : `interrupted ${result.step}\n`,
  );
}
