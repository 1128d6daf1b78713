/**
 * Checkpoint/resume. A checkpoint is a directory `step-<n>/` holding the flat parameter
 * buffer, both AdamW moment buffers (raw little-endian float32, each with a `.sha256`
 * sidecar) and `state.json` (step, optimizer step, RNG state, layout fingerprint, caller
 * extras). Every file is written atomically, and `latest.json` is switched to the new
 * directory only after it is complete, so a process killed at any point resumes from the
 * last complete checkpoint. Resuming restores the exact bits: a resumed run ends with the
 * same parameters as an uninterrupted one.
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { type RandomState, readFileVerified, writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import { z } from "zod";
import { CheckpointError } from "./errors.js";
import type { CausalLmTrainer } from "./trainer.js";

const stateSchema = z.object({
  format: z.literal("posttrain-engine-checkpoint-v1"),
  step: z.number().int().nonnegative(),
  optimizerStep: z.number().int().nonnegative(),
  layoutFingerprint: z.string(),
  floats: z.number().int().nonnegative(),
  random: z
    .object({ key: z.string(), state: z.tuple([z.number(), z.number(), z.number(), z.number()]) })
    .optional(),
  extra: z.record(z.string(), z.unknown()).optional(),
});

export type CheckpointState = z.infer<typeof stateSchema>;

export interface LoadedCheckpoint {
  state: CheckpointState;
  parameters: Float32Array;
  firstMoment: Float32Array;
  secondMoment: Float32Array;
}

const files = {
  parameters: "parameters.bin",
  firstMoment: "adam-first-moment.bin",
  secondMoment: "adam-second-moment.bin",
};

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function floatsOf(bytes: Buffer): Float32Array {
  const copy = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** Writes a checkpoint of `trainer` (and an optional RNG state / extras) under `directory`. */
export async function saveCheckpoint(params: {
  directory: string;
  trainer: CausalLmTrainer;
  random?: RandomState;
  extra?: Record<string, unknown>;
}): Promise<string> {
  const { trainer } = params;
  const name = `step-${String(trainer.step).padStart(8, "0")}`;
  const target = join(params.directory, name);
  await writeFileAtomic({
    path: join(target, files.parameters),
    content: bytesOf(trainer.parameters),
    checksum: true,
  });
  await writeFileAtomic({
    path: join(target, files.firstMoment),
    content: bytesOf(trainer.optimizer.state.firstMoment),
    checksum: true,
  });
  await writeFileAtomic({
    path: join(target, files.secondMoment),
    content: bytesOf(trainer.optimizer.state.secondMoment),
    checksum: true,
  });
  const state: CheckpointState = {
    format: "posttrain-engine-checkpoint-v1",
    step: trainer.step,
    optimizerStep: trainer.optimizer.state.step,
    layoutFingerprint: trainer.layout.fingerprint(),
    floats: trainer.layout.length,
    ...(params.random === undefined ? {} : { random: params.random }),
    ...(params.extra === undefined ? {} : { extra: params.extra }),
  };
  await writeJsonAtomic({ path: join(target, "state.json"), value: state, checksum: true });
  await writeJsonAtomic({
    path: join(params.directory, "latest.json"),
    value: { checkpoint: name, step: trainer.step },
  });
  // Older checkpoints are removed only once latest.json points at the new one.
  for (const entry of await readdir(params.directory)) {
    if (entry.startsWith("step-") && entry !== name)
      await rm(join(params.directory, entry), { recursive: true, force: true });
  }
  return target;
}

/** Reads the latest complete checkpoint under `directory`, or null when there is none. */
export async function loadCheckpoint(params: { directory: string }): Promise<LoadedCheckpoint | null> {
  let latest: { checkpoint: string };
  try {
    latest = JSON.parse(await readFile(join(params.directory, "latest.json"), "utf8")) as {
      checkpoint: string;
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CheckpointError({
      message: `cannot read ${join(params.directory, "latest.json")}`,
      cause: error,
    });
  }
  const source = join(params.directory, latest.checkpoint);
  try {
    const state = stateSchema.parse(
      JSON.parse((await readFileVerified({ path: join(source, "state.json") })).toString("utf8")),
    );
    const parameters = floatsOf(await readFileVerified({ path: join(source, files.parameters) }));
    const firstMoment = floatsOf(await readFileVerified({ path: join(source, files.firstMoment) }));
    const secondMoment = floatsOf(await readFileVerified({ path: join(source, files.secondMoment) }));
    for (const [name, buffer] of Object.entries({ parameters, firstMoment, secondMoment })) {
      if (buffer.length !== state.floats) {
        throw new CheckpointError({
          message: `${name} has ${buffer.length} floats, state.json says ${state.floats}`,
        });
      }
    }
    return { state, parameters, firstMoment, secondMoment };
  } catch (error) {
    if (CheckpointError.isInstance(error)) throw error;
    throw new CheckpointError({ message: `checkpoint ${source} is unreadable or corrupt`, cause: error });
  }
}

/** Restores parameters, optimizer moments and step counters into `trainer`. */
export function restoreCheckpoint(params: { trainer: CausalLmTrainer; checkpoint: LoadedCheckpoint }): void {
  const { trainer, checkpoint } = params;
  if (checkpoint.state.layoutFingerprint !== trainer.layout.fingerprint()) {
    throw new CheckpointError({
      message: "the checkpoint was written for a different model/parameter layout",
    });
  }
  trainer.parameters.set(checkpoint.parameters);
  trainer.optimizer.state.firstMoment.set(checkpoint.firstMoment);
  trainer.optimizer.state.secondMoment.set(checkpoint.secondMoment);
  trainer.optimizer.state.step = checkpoint.state.optimizerStep;
  trainer.step = checkpoint.state.step;
}
