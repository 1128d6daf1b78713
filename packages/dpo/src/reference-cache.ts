/**
 * Reference log-probs, computed once per (reference model, data, loss type) and cached on
 * disk: `<cache>/<key>.bin` = float32 pairs (chosen, rejected) per row, written atomically with
 * a sha256 sidecar. key = fingerprint({ format, referenceModelHash (sha256 of the reference
 * parameters), dataFingerprint, lossType, lossChunks }). A corrupt entry is recomputed.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { fingerprint, PosttrainError, readFileVerified, writeFileAtomic } from "@posttrain/core";
import type { LossConfig } from "./config.js";

export const referenceCacheFormat = "posttrain-dpo-reference-v1";

/** `$POSTTRAIN_CACHE/dpo-reference`, else `~/.cache/posttrain/dpo-reference`. */
export function defaultReferenceCacheDirectory(environment: NodeJS.ProcessEnv = process.env): string {
  const root = environment["POSTTRAIN_CACHE"] ?? join(homedir(), ".cache", "posttrain");
  return join(root, "dpo-reference");
}

export function referenceCacheKey(params: {
  referenceModelHash: string;
  dataFingerprint: string;
  lossType: LossConfig["type"];
  lossChunks: number;
}): string {
  return fingerprint({ format: referenceCacheFormat, ...params });
}

/**
 * Returns the cached reference log-probs (`[2·rows]`, chosen then rejected per row), or
 * computes, stores and returns them.
 */
export async function cachedReferenceLogProbs(params: {
  directory: string;
  key: string;
  rows: number;
  compute: () => Promise<Float32Array>;
}): Promise<{ values: Float32Array; hit: boolean; path: string }> {
  const path = join(params.directory, `${params.key}.bin`);
  try {
    const bytes = await readFileVerified({ path });
    if (bytes.byteLength === params.rows * 8) {
      const values = new Float32Array(params.rows * 2);
      new Uint8Array(values.buffer).set(bytes);
      return { values, hit: true, path };
    }
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    const corrupt =
      PosttrainError.hasCode(error, "integrity_mismatch") ||
      PosttrainError.hasCode(error, "integrity_missing");
    if (!missing && !corrupt) throw error;
  }
  const values = await params.compute();
  await writeFileAtomic({
    path,
    content: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    checksum: true,
  });
  return { values, hit: false, path };
}
