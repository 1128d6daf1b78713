import { parseWithSchema } from "@posttrain/core";
import { repoCache, snapshotDirectory } from "./cache-layout.js";
import { type DownloadedFile, downloadResolvedFile } from "./download.js";
import { HubError } from "./errors.js";
import { listRepoFiles } from "./list.js";
import { parseRepoReference, type RepoReference, revisionSchema } from "./repository.js";
import { resolveRevision } from "./resolve.js";
import { effectiveSettings, type HubOverrides } from "./settings.js";

export interface SnapshotRepoParams extends HubOverrides {
  repo: RepoReference;
  /** Branch, tag or commit SHA; resolved once, then every file is fetched at that SHA. */
  revision: string;
  /** Globs with huggingface_hub `allow_patterns` semantics; all files when absent. */
  include?: string[] | undefined;
  /** Files downloaded at the same time (default 4). */
  concurrency?: number | undefined;
  /** Called after each file is in the cache (downloaded or verified), e.g. to drive a progress bar. */
  onFileDone?: ((event: SnapshotProgress) => void) | undefined;
}

export interface SnapshotProgress {
  file: DownloadedFile;
  filesCompleted: number;
  filesTotal: number;
  bytesCompleted: number;
  bytesTotal: number;
}

export interface RepoSnapshot {
  sha: string;
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
  const settings = effectiveSettings(params);
  const { sha } = await resolveRevision({ ...params, repo, revision });
  const files = await listRepoFiles({ ...params, repo, revision: sha });
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
  async function worker(): Promise<void> {
    while (next < files.length) {
      const index = next;
      next += 1;
      const file = files[index]!;
      results[index] = await downloadResolvedFile({
        settings,
        repo,
        sha,
        path: file.path,
        expectedSha256: undefined,
        file,
      });
      filesCompleted += 1;
      bytesCompleted += results[index].size;
      params.onFileDone?.({
        file: results[index],
        filesCompleted,
        filesTotal: files.length,
        bytesCompleted,
        bytesTotal,
      });
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  const cache = repoCache({ cacheDirectory: settings.cacheDirectory, repo });
  return { sha, directory: snapshotDirectory(cache, sha), files: results };
}
