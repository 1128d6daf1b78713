import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, readdir, readFile, readlink, rename, rm, symlink } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
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
 *   trees/<commit sha>.json                    the full file listing at that commit, in
 *                                              huggingface_hub's format (_tree_cache.py)
 *   .no_exist/<commit sha>/<path>              empty file: <path> does not exist at that commit
 *   .posttrain/verified/<blob>.json            our addition: digest + identity of a verified blob
 * <cacheDirectory>/.locks/<repo folder>/<blob>.lock   held while a blob is downloaded
 * ```
 * Python's and @huggingface/hub's cache scanners only read `refs/`, `blobs/` and
 * `snapshots/`, so the extra folder is invisible to them.
 */
export interface RepoCache {
  /** `<cacheDirectory>/datasets--owner--name` */
  storageFolder: string;
  /** `<cacheDirectory>/.locks/datasets--owner--name` */
  locksFolder: string;
}

export function repoCache(params: { cacheDirectory: string; repo: RepoReference }): RepoCache {
  const folder = getRepoFolderName(params.repo);
  return {
    storageFolder: join(params.cacheDirectory, folder),
    locksFolder: join(params.cacheDirectory, ".locks", folder),
  };
}

/** `.no_exist/<sha>/<path>`: huggingface_hub's marker that a file is absent at a commit. */
export function noExistPath(cache: RepoCache, sha: string, path: string): string {
  return join(cache.storageFolder, ".no_exist", sha, ...path.split("/"));
}

/** Records that `path` does not exist at commit `sha` (an empty file, as Python writes it). */
export async function markNoExist(params: { cache: RepoCache; sha: string; path: string }): Promise<void> {
  const marker = noExistPath(params.cache, params.sha, params.path);
  try {
    await mkdir(dirname(marker), { recursive: true });
    await writeFileAtomic({ path: marker, content: "" });
  } catch {
    // A marker is an optimisation; failing to write one changes nothing else.
  }
}

/** True when the cache records `path` as absent at commit `sha` (written here or by Python). */
export async function isMarkedNoExist(params: {
  cache: RepoCache;
  sha: string;
  path: string;
}): Promise<boolean> {
  try {
    return (await lstat(noExistPath(params.cache, params.sha, params.path))).isFile();
  } catch {
    return false;
  }
}

/** A lock file content: who holds it, so a crashed holder's lock can be taken over. */
const lockOwner = `posttrain ${process.pid}`;
/** Locks of this process, so two downloads of the same blob inside it queue too. */
const heldLocks = new Map<string, Promise<void>>();

/**
 * Holds `.locks/<repo folder>/<blobName>.lock` (huggingface_hub's lock path) while `action`
 * runs, so two downloads of one blob — two processes, or two files of a snapshot with the
 * same content — do not both fetch it. The file is created exclusively and holds our pid; an
 * existing lock whose holder is gone (or that Python's filelock left behind, empty) is taken
 * over. Waiting is bounded: after `maximumWaitMilliseconds` the action runs anyway, which is
 * still safe because blobs are only ever renamed into place verified.
 */
export async function withBlobLock<T>(params: {
  cache: RepoCache;
  blobName: string;
  action: () => Promise<T>;
  maximumWaitMilliseconds?: number;
}): Promise<T> {
  const path = join(params.cache.locksFolder, `${params.blobName}.lock`);
  while (heldLocks.has(path)) await heldLocks.get(path);
  let release!: () => void;
  heldLocks.set(
    path,
    new Promise<void>((resolve) => {
      release = resolve;
    }),
  );
  let owned = false;
  try {
    owned = await acquireLockFile(path, params.maximumWaitMilliseconds ?? 10 * 60_000);
    return await params.action();
  } finally {
    if (owned) await rm(path, { force: true }).catch(() => {});
    heldLocks.delete(path);
    release();
  }
}

async function acquireLockFile(path: string, maximumWaitMilliseconds: number): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true });
  const started = Date.now();
  for (let poll = 0; ; poll += 1) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(lockOwner);
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") return false;
    }
    const holder = await readFile(path, "utf8").catch(() => "");
    const match = /^posttrain (\d+)$/.exec(holder.trim());
    if (match === null || !processIsAlive(Number(match[1]))) {
      // Left by a process that is gone, or by Python (its filelock leaves the file in place).
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() - started > maximumWaitMilliseconds) return false;
    await sleep(Math.min(50 * 2 ** Math.min(poll, 4), 1000));
  }
}

/** `trees/<sha>.json`: the listing of a commit, as huggingface_hub's _tree_cache.py writes it. */
export function treeListingPath(cache: RepoCache, sha: string): string {
  return join(cache.storageFolder, "trees", `${sha}.json`);
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

/**
 * Records that `revision` (a branch or tag) pointed at `sha`, as Python does, for offline use.
 * It does not create `snapshots/<sha>/`: Python's offline `snapshot_download` returns an
 * existing snapshot folder as the answer, so an empty one would pass for a complete snapshot.
 * The folder appears with the first file linked into it.
 */
export async function writeRef(params: { cache: RepoCache; revision: string; sha: string }): Promise<void> {
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
