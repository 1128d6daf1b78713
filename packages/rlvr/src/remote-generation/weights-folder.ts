/**
 * Model folders written for a generation server to load (`config.json`, `model.safetensors`,
 * `parameters.bin` with its sha256 sidecar — @posttrain/training's `writeModelDirectory`).
 *
 * - `writeVersionFolder`: a new folder per version, made whole before it appears: written as
 *   `<name>.partial-<uuid>` and renamed, so a server never sees a half-written folder (SGLang).
 * - `writeInPlace`: overwrites the files of an existing folder, each file atomically (vLLM
 *   reloads the folder it serves, so the new weights must go there).
 * - `pruneVersionFolders`: removes older version folders, keeping the newest `keep`.
 */
import { randomUUID } from "node:crypto";
import { readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeModelDirectory } from "@posttrain/training";
import type { PolicyWeights } from "./weight-sync.js";

const versionPattern = /^step-\d+$/;

/** `step-000012`: the folder and weight-version name of a trainer step. */
export function versionName(step: number): string {
  return `step-${String(step).padStart(6, "0")}`;
}

export async function writeVersionFolder(params: {
  parent: string;
  name: string;
  weights: PolicyWeights;
}): Promise<string> {
  const target = join(params.parent, params.name);
  const partial = join(params.parent, `${params.name}.partial-${randomUUID()}`);
  try {
    await writeModelDirectory({ directory: partial, ...params.weights });
    // A folder left by an interrupted run (resume) is replaced whole.
    await rm(target, { recursive: true, force: true });
    await rename(partial, target);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return target;
}

export async function writeInPlace(params: { directory: string; weights: PolicyWeights }): Promise<string> {
  await writeModelDirectory({ directory: params.directory, ...params.weights });
  return params.directory;
}

export async function pruneVersionFolders(params: { parent: string; keep: number }): Promise<void> {
  const names = (await readdir(params.parent)).filter((name) => versionPattern.test(name)).sort();
  for (const name of names.slice(0, Math.max(0, names.length - params.keep)))
    await rm(join(params.parent, name), { recursive: true, force: true });
}
