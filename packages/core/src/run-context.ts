import { join } from "node:path";
import { createEventLog, type EventLog } from "./events.js";
import { createProgress, type ProgressParams, type ProgressReporter } from "./progress.js";
import { Random } from "./random.js";

/**
 * What a stage (sft, dpo, rlvr) or an eval gets from whoever runs it (the recipe runner or
 * `posttrain train`): where to write, how to log, its named random stream, and the signal
 * that asks it to stop (SIGINT). A stage never reads the recipe; this is all it sees.
 */
export interface RunContext {
  /** The stage's own folder: resolved config, checkpoints, metrics. */
  readonly directory: string;
  /** The stage's JSONL event log (`<directory>/events.jsonl`). */
  readonly events: EventLog;
  /** The stage's named random stream; derive sub-streams with `random.stream(name)`. */
  readonly random: Random;
  /** Aborted when the user asks to stop (SIGINT): write a checkpoint and return. */
  readonly signal: AbortSignal;
  /** A progress reporter in the context's display mode. */
  progress(params: Omit<ProgressParams, "mode" | "stream">): ProgressReporter;
  /** A human-readable line (stderr), also recorded as a `log` event. */
  log(message: string): void;
}

export interface CreateRunContextParams {
  directory: string;
  /** The run's seed; the context's stream is `Random.fromSeed(seed).stream(streamName)`. */
  seed: number;
  streamName: string;
  signal?: AbortSignal;
  progressMode?: ProgressParams["mode"];
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function createRunContext(params: CreateRunContextParams): RunContext {
  const events = createEventLog({ path: join(params.directory, "events.jsonl") });
  const output = params.stream ?? process.stderr;
  return {
    directory: params.directory,
    events,
    random: Random.fromSeed(params.seed).stream(params.streamName),
    signal: params.signal ?? new AbortController().signal,
    progress: (progressParams) =>
      createProgress({
        ...progressParams,
        stream: output,
        ...(params.progressMode === undefined ? {} : { mode: params.progressMode }),
      }),
    log(message) {
      events.write({ type: "log", message });
      if (params.progressMode !== "silent") output.write(`${message}\n`);
    },
  };
}

/** The exit code of a process stopped by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM). */
export const interruptExitCodes = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * An AbortSignal that fires on the first SIGINT or SIGTERM (a second one exits at once with
 * 130/143), so a training loop can checkpoint and return. `received()` names the signal that
 * fired (null before), for the caller's exit code and message. Call `dispose()` when done.
 */
export function interruptSignal(): {
  signal: AbortSignal;
  received: () => keyof typeof interruptExitCodes | null;
  dispose: () => void;
} {
  const controller = new AbortController();
  let received: keyof typeof interruptExitCodes | null = null;
  const handlers = (Object.keys(interruptExitCodes) as Array<keyof typeof interruptExitCodes>).map(
    (name) =>
      [
        name,
        () => {
          if (controller.signal.aborted) process.exit(interruptExitCodes[name]);
          received = name;
          process.stderr.write(
            `\ninterrupt (${name}): finishing the current step and writing a checkpoint (Ctrl-C again to quit now)\n`,
          );
          controller.abort();
        },
      ] as const,
  );
  for (const [name, handler] of handlers) process.on(name, handler);
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}
