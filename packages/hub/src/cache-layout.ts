import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { getRepoFolderName } from "@huggingface/hub";
import { atomicTemporaryPrefix, writeFileAtomic } from "@posttrain/core";
import type { RepoReference } from "./repository.js";

/**
 * The Hugging Face hub cache layout, shared with Python's huggingface_hub and with
 * @huggingface/hub's `downloadFileToCacheDir`:
 *
 * ```
 * <cacheDirectory>/datasets--owner--name/      (models--owner--name for models)
 *   refs/main                                  text file holding the commit SHA of "main"
 *   refs/refs/convert/parquet                  the same for ref R, at refs/R (as Python writes it)
 *   blobs/<sha256>                             content of an LFS file, named by its LFS oid
 *   blobs/<git blob oid>                       content of a non-LFS file, named by its git oid
 *   snapshots/<commit sha>/<path>              relative symlink to ../../blobs/<etag>
 *   .posttrain/listings/<commit sha>.json      our addition: the full file listing at that commit
 * ```
 * Python's and @huggingface/hub's cache scanners only read `refs/`, `blobs/` and
 * `snapshots/`, so the extra folder is invisible to them.
 */
export interface RepoCache {
  /** `<cacheDirectory>/datasets--owner--name` */
  storageFolder: string;
}

export function repoCache(params: { cacheDirectory: string; repo: RepoReference }): RepoCache {
  return { storageFolder: join(params.cacheDirectory, getRepoFolderName(params.repo)) };
}

export function blobPath(cache: RepoCache, blobName: string): string {
  return join(cache.storageFolder, "blobs", blobName);
}

export function snapshotDirectory(cache: RepoCache, sha: string): string {
  return join(cache.storageFolder, "snapshots", sha);
}

export function snapshotFilePath(cache: RepoCache, sha: string, path: string): string {
  return join(snapshotDirectory(cache, sha), ...path.split("/"));
}

/** Where the full listing of a commit is kept, so offline mode knows what a snapshot should hold. */
export function listingPath(cache: RepoCache, sha: string): string {
  return join(cache.storageFolder, ".posttrain", "listings", `${sha}.json`);
}

export function refPath(cache: RepoCache, revision: string): string {
  return join(cache.storageFolder, "refs", ...revision.split("/"));
}

/** Records that `revision` (a branch or tag) pointed at `sha`, as Python does, for offline use. */
export async function writeRef(params: { cache: RepoCache; revision: string; sha: string }): Promise<void> {
  // Cache scanners (huggingface_hub's scan_cache_dir, @huggingface/hub's scanCacheDir) call a
  // repo corrupt when a ref names a commit without a snapshot folder: create it, even empty.
  await mkdir(snapshotDirectory(params.cache, params.sha), { recursive: true });
  const path = refPath(params.cache, params.revision);
  try {
    if ((await readFile(path, "utf8")).trim() === params.sha) return;
  } catch {
    // Not recorded yet.
  }
  await writeFileAtomic({ path, content: params.sha });
}

/** The SHA a ref pointed at when last resolved online, or undefined when never recorded. */
export async function readRef(params: { cache: RepoCache; revision: string }): Promise<string | undefined> {
  try {
    const text = (await readFile(refPath(params.cache, params.revision), "utf8")).trim();
    return text === "" ? undefined : text;
  } catch {
    return undefined;
  }
}

/** What the cache holds for one snapshot file. */
export type CachedEntry =
  | { kind: "missing" }
  /** A symlink into blobs/: `blobName` is the Hub's etag (sha256 or git oid). */
  | { kind: "linked"; blobName: string; blobPath: string }
  /** A plain file (caches written where symlinks are unavailable): no etag to check against. */
  | { kind: "copied"; path: string };

export async function inspectSnapshotFile(cache: RepoCache, sha: string, path: string): Promise<CachedEntry> {
  const pointer = snapshotFilePath(cache, sha, path);
  let stats: Awaited<ReturnType<typeof lstat>>;
  try {
    stats = await lstat(pointer);
  } catch {
    return { kind: "missing" };
  }
  if (stats.isSymbolicLink()) {
    const target = resolve(dirname(pointer), await readlink(pointer));
    try {
      await lstat(target);
    } catch {
      return { kind: "missing" };
    }
    return { kind: "linked", blobName: basename(target), blobPath: target };
  }
  if (stats.isFile()) return { kind: "copied", path: pointer };
  return { kind: "missing" };
}

/**
 * Points `snapshots/<sha>/<path>` at `blobs/<blobName>` with a relative symlink (as Python
 * and @huggingface/hub do), replacing whatever was there atomically: the link is created
 * under a temporary name, then renamed over the final one.
 */
export async function linkSnapshotFile(params: {
  cache: RepoCache;
  sha: string;
  path: string;
  blobName: string;
}): Promise<string> {
  const pointer = snapshotFilePath(params.cache, params.sha, params.path);
  const blob = blobPath(params.cache, params.blobName);
  await mkdir(dirname(pointer), { recursive: true });
  // @huggingface/hub's scanCacheDir fails on a repo folder without refs/ (Python's does not).
  await mkdir(join(params.cache.storageFolder, "refs"), { recursive: true });
  const temporary = join(
    dirname(pointer),
    `.tmp-link-${basename(pointer)}.${randomBytes(4).toString("hex")}`,
  );
  await symlink(relative(dirname(pointer), blob), temporary);
  try {
    await rename(temporary, pointer);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return pointer;
}

/** Removes a snapshot pointer and, when given, the blob it pointed at (a corrupt cache entry). */
export async function removeCachedFile(params: {
  cache: RepoCache;
  sha: string;
  path: string;
  blobPath?: string;
}) {
  await rm(snapshotFilePath(params.cache, params.sha, params.path), { force: true });
  if (params.blobPath !== undefined) await rm(params.blobPath, { force: true });
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes what a killed download of `blobName` left in `blobs/`: our temporary files
 * (`.tmp-<blob>.<pid>.<random>`) whose writing process is gone, and the `<blob>.incomplete`
 * file @huggingface/hub's own `downloadFileToCacheDir` leaves when its stream fails. Files of
 * live processes are kept, so concurrent downloads are not disturbed.
 */
export async function removeStaleTemporaries(cache: RepoCache, blobName: string): Promise<string[]> {
  const directory = join(cache.storageFolder, "blobs");
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const ours = `${atomicTemporaryPrefix}${blobName}.`;
  for (const name of names) {
    let stale = false;
    if (name === `${blobName}.incomplete`) stale = true;
    else if (name.startsWith(ours)) {
      const pid = Number(name.slice(ours.length).split(".")[0]);
      stale = Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processIsAlive(pid);
    }
    if (stale) {
      await rm(join(directory, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
