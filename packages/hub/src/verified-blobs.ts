import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeJsonAtomic } from "@posttrain/core";
import { z } from "zod";
import type { RepoCache } from "./cache-layout.js";

/**
 * Re-hashing every cached blob on every use costs minutes for a large model snapshot, so
 * the digest of a verified blob is remembered in `.posttrain/verified/<blob>.json` together
 * with the blob's file identity (size, inode, mtime and ctime in nanoseconds). While the
 * identity is unchanged the remembered digest is used; any write, truncation, replacement
 * or `touch` changes it and forces a full re-hash — the same stat-based check git's index
 * uses. `rehashCachedFiles: true` on a download ignores the memo.
 */
export interface BlobIdentity {
  size: number;
  inode: string;
  modifiedNanoseconds: string;
  changedNanoseconds: string;
}

const memoSchema = z.object({
  identity: z.object({
    size: z.number(),
    inode: z.string(),
    modifiedNanoseconds: z.string(),
    changedNanoseconds: z.string(),
  }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  gitOid: z.string(),
});

export type BlobMemo = z.infer<typeof memoSchema>;

function memoPath(cache: RepoCache, blobName: string): string {
  return join(cache.storageFolder, ".posttrain", "verified", `${blobName}.json`);
}

export async function blobIdentity(path: string): Promise<BlobIdentity> {
  const stats = await stat(path, { bigint: true });
  return {
    size: Number(stats.size),
    inode: stats.ino.toString(),
    modifiedNanoseconds: stats.mtimeNs.toString(),
    changedNanoseconds: stats.ctimeNs.toString(),
  };
}

function sameIdentity(a: BlobIdentity, b: BlobIdentity): boolean {
  return (
    a.size === b.size &&
    a.inode === b.inode &&
    a.modifiedNanoseconds === b.modifiedNanoseconds &&
    a.changedNanoseconds === b.changedNanoseconds
  );
}

/** The remembered digest of a blob, if it was verified and has not changed since. */
export async function readBlobMemo(params: {
  cache: RepoCache;
  blobName: string;
  blobPath: string;
}): Promise<BlobMemo | undefined> {
  let memo: BlobMemo;
  try {
    const parsed = memoSchema.safeParse(
      JSON.parse(await readFile(memoPath(params.cache, params.blobName), "utf8")),
    );
    if (!parsed.success) return undefined;
    memo = parsed.data;
  } catch {
    return undefined;
  }
  try {
    return sameIdentity(memo.identity, await blobIdentity(params.blobPath)) ? memo : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers that `blobPath` (as it is now on disk) hashes to `sha256` / `gitOid`. */
export async function writeBlobMemo(params: {
  cache: RepoCache;
  blobName: string;
  blobPath: string;
  sha256: string;
  gitOid: string;
}): Promise<void> {
  const value: BlobMemo = {
    identity: await blobIdentity(params.blobPath),
    sha256: params.sha256,
    gitOid: params.gitOid,
  };
  await writeJsonAtomic({ path: memoPath(params.cache, params.blobName), value });
}
