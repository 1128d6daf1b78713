/**
 * Keeping a remote generation server on the trainer's current policy: a GenerationBackend
 * that, before each `generate` call, checks whether the policy changed since the last push
 * and, if so, writes it to disk and asks the server to load it (`updateWeights`). This is the
 * shape @posttrain/rlvr's `createBackend` hook expects: the trainer updates its parameters in
 * place, and the rollout backend must generate with them.
 *
 * The version is any value that changes with the weights: the trainer step, or
 * {@link parametersVersion} (sha256 of the parameter bytes). Weights are written to
 * `directoryFor(version)` — a new folder per version for SGLang, the served folder for vLLM.
 */
import { type GenerationBackend, sha256Hex } from "@posttrain/core";
import type { WeightUpdatingBackend } from "./weight-sync.js";

export interface WeightPushingBackendParams {
  remote: WeightUpdatingBackend;
  /** A value that changes whenever the policy's weights change. */
  version: () => string;
  /** Where the weights of `version` are written (and loaded from). */
  directoryFor: (version: string) => string;
  /** Writes the current policy (e.g. with @posttrain/rlvr's `writeModelDirectory`). */
  writeWeights: (params: { directory: string }) => Promise<void>;
  /** Called after each push (for logs and events). */
  onPush?: (push: { version: string; directory: string; message: string }) => void;
}

/** sha256 of a parameter buffer's bytes: a version that changes exactly when the weights do. */
export function parametersVersion(parameters: Float32Array): string {
  return sha256Hex(new Uint8Array(parameters.buffer, parameters.byteOffset, parameters.byteLength));
}

/** Wraps `remote` so every generate call runs on the policy's current weights. */
export function createWeightPushingBackend(params: WeightPushingBackendParams): GenerationBackend & {
  /** Pushes done so far. */
  readonly pushes: number;
} {
  let pushedVersion: string | null = null;
  let pushes = 0;
  const ensureCurrent = async () => {
    const version = params.version();
    if (version === pushedVersion) return;
    const directory = params.directoryFor(version);
    await params.writeWeights({ directory });
    const { message } = await params.remote.updateWeights({ modelPath: directory, weightsHash: version });
    pushedVersion = version;
    pushes += 1;
    params.onPush?.({ version, directory, message });
  };
  return {
    describe: () => params.remote.describe(),
    async generate(request) {
      await ensureCurrent();
      return params.remote.generate(request);
    },
    get pushes() {
      return pushes;
    },
    close: () => params.remote.close?.() ?? Promise.resolve(),
  };
}
