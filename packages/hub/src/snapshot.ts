import { parseWithSchema } from "@posttrain/core";
import { inspectSnapshotFile, readRef, repoCache, snapshotDirectory } from "./cache-layout.js";
import { type DownloadedFile, downloadResolvedFile, isOutage } from "./download.js";
import { HubError } from "./errors.js";
import { type HubFile, listRepoFiles, readRecordedListing } from "./list.js";
import { createPathFilter } from "./patterns.js";
import { isCommitSha, parseRepoReference, type RepoReference, revisionSchema } from "./repository.js";
import { resolveRevision } from "./resolve.js";
import { effectiveSettings, type HubOverrides, type RetryEvent } from "./settings.js";

export interface SnapshotRepoParams extends HubOverrides {
  repo: RepoReference;
  /** Branch, tag or commit SHA; resolved once, then every file is fetched at that SHA. */
  revision: string;
  /** Globs with huggingface_hub `allow_patterns` semantics; all files when absent. */
  include?: string[] | undefined;
  /** Files downloaded at the same time (default 4). */
  concurrency?: number | undefined;
  /** Hash cached files even when unchanged on disk since their last check (see verified-blobs.ts). */
  rehashCachedFiles?: boolean | undefined;
  /** Called as bytes arrive and when each file is in the cache, e.g. to drive a progress bar. */
  onProgress?: ((event: SnapshotProgress) => void) | undefined;
}

export interface SnapshotProgress {
  filesCompleted: number;
  filesTotal: number;
  /** Bytes downloaded so far plus the sizes of files found in the cache. */
  bytesCompleted: number;
  bytesTotal: number;
  /** The file that just became ready; absent for byte-count updates. */
  file?: DownloadedFile;
  /** Set when a request is about to wait before trying again (a rate-limit window, a 5xx, a cut). */
  retry?: RetryEvent;
}

export interface RepoSnapshot {
  sha: string;
  /**
   * Set when the Hub could not be reached (connection failure, 5xx, rate limit) and the
   * snapshot was served from a complete cached copy instead, as huggingface_hub does; says why.
   */
  servedFromCache?: string;
  /** `<cache>/<repo folder>/snapshots/<sha>`: the repo's files, as Python's snapshot_download lays them out. */
  directory: string;
  files: DownloadedFile[];
}

/**
 * Downloads (or verifies in the cache) every file of a repo at one commit, optionally only
 * those matching `include`, with {@link downloadRepoFile}'s guarantees for each. Offline,
 * the revision resolves through `refs/` and the listing comes from the cached snapshot.
 * An `include` that matches nothing is an error (`hub_file_not_found`), since it is almost
 * always a typo.
 */
export async function snapshotRepo(params: SnapshotRepoParams): Promise<RepoSnapshot> {
  const repo = parseRepoReference(params.repo);
  const revision = parseWithSchema({ schema: revisionSchema, value: params.revision, label: "revision" });
  let settings = effectiveSettings(params);
  let sha: string;
  let files: HubFile[];
  let servedFromCache: string | undefined;
  try {
    sha = (await resolveRevision({ ...params, repo, revision })).sha;
    files = await listRepoFiles({ ...params, repo, revision: sha });
  } catch (error) {
    if (settings.offline || !isOutage(error)) throw error;
    ({ sha, files } = await completeCachedSnapshot({
      cacheDirectory: settings.cacheDirectory,
      repo,
      revision,
      include: params.include,
      outage: error,
    }));
    servedFromCache = error.message;
    settings = { ...settings, offline: true };
  }
  if (files.length === 0) {
    throw new HubError({
      code: "hub_file_not_found",
      message: `${repo.type} ${repo.name} at ${sha} has no file${params.include === undefined ? "" : ` matching ${JSON.stringify(params.include)}`}`,
      details: { repo: repo.name, repoType: repo.type, revision: sha, include: params.include ?? null },
    });
  }
  const concurrency = Math.max(1, Math.floor(params.concurrency ?? 4));
  const results: DownloadedFile[] = new Array(files.length);
  let next = 0;
  let filesCompleted = 0;
  let bytesCompleted = 0;
  const bytesTotal = files.reduce((sum, file) => sum + file.size, 0);
  const report = (file?: DownloadedFile, retry?: RetryEvent) =>
    params.onProgress?.({
      filesCompleted,
      filesTotal: files.length,
      bytesCompleted,
      bytesTotal,
      ...(file === undefined ? {} : { file }),
      ...(retry === undefined ? {} : { retry }),
    });
  // Waits between attempts show up in the progress too, so a rate-limit pause is visible.
  settings = {
    ...settings,
    onRetry: (event) => {
      params.onRetry?.(event);
      report(undefined, event);
    },
  };
  // After a failure the other workers finish their current file but start no new one.
  let failed = false;
  async function worker(): Promise<void> {
    while (next < files.length && !failed) {
      const index = next;
      next += 1;
      const file = files[index]!;
      let streamed = 0;
      const downloaded = await downloadResolvedFile({
        settings,
        repo,
        sha,
        path: file.path,
        expectedSha256: undefined,
        file,
        rehashCachedFiles: params.rehashCachedFiles ?? false,
        onBytes: (bytes) => {
          streamed += bytes;
          bytesCompleted += bytes;
          report();
        },
      });
      results[index] = downloaded;
      filesCompleted += 1;
      bytesCompleted += downloaded.size - streamed;
      report(downloaded);
    }
  }
  // Every worker is let finish before a failure is thrown, so nothing still writes to the
  // cache once snapshotRepo has returned.
  const outcomes = await Promise.allSettled(
    Array.from({ length: Math.min(concurrency, files.length) }, () =>
      worker().catch((error: unknown) => {
        failed = true;
        throw error;
      }),
    ),
  );
  const rejected = outcomes.find(
    (outcome): outcome is PromiseRejectedResult => outcome.status === "rejected",
  );
  if (rejected !== undefined) throw rejected.reason;
  const cache = repoCache({ cacheDirectory: settings.cacheDirectory, repo });
  return {
    sha,
    ...(servedFromCache === undefined ? {} : { servedFromCache }),
    directory: snapshotDirectory(cache, sha),
    files: results,
  };
}

/**
 * The snapshot the cache holds for `revision` when the Hub is unreachable — only when it is
 * provably complete: the commit comes from `refs/` (or is the SHA asked for), the listing of
 * that commit was recorded (`trees/<sha>.json`, by us or by huggingface_hub), and every
 * listed file that `include` selects is in `snapshots/<sha>/`. Anything less rethrows the
 * outage with what is missing, so a partial download never passes for a dataset.
 */
async function completeCachedSnapshot(params: {
  cacheDirectory: string;
  repo: RepoReference;
  revision: string;
  include: string[] | undefined;
  outage: HubError;
}): Promise<{ sha: string; files: HubFile[] }> {
  const { repo, revision, outage } = params;
  const cache = repoCache({ cacheDirectory: params.cacheDirectory, repo });
  const refuse = (why: string) =>
    new HubError({
      code: outage.code,
      message: `${outage.message}; no complete cached snapshot to fall back on: ${why}`,
      cause: outage,
      details: { ...outage.details, fallback: why },
    });
  const sha = isCommitSha(revision) ? revision : await readRef({ cache, revision });
  if (sha === undefined || !isCommitSha(sha))
    throw refuse(`revision ${JSON.stringify(revision)} was never resolved into this cache`);
  const listing = await readRecordedListing(cache, sha);
  if (listing === undefined)
    throw refuse(
      `the file listing of commit ${sha} was never recorded (trees/${sha}.json), so completeness cannot be checked`,
    );
  const keep = createPathFilter(params.include);
  const files = listing.filter((file) => keep(file.path));
  const missing: string[] = [];
  for (const file of files) {
    if ((await inspectSnapshotFile(cache, sha, file.path)).kind === "missing") missing.push(file.path);
  }
  if (missing.length > 0) {
    const sample =
      missing.slice(0, 3).join(", ") + (missing.length > 3 ? `, … (${missing.length - 3} more)` : "");
    throw refuse(`snapshots/${sha} lacks ${missing.length} of ${files.length} files (${sample})`);
  }
  return { sha, files };
}
