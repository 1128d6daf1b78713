import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { listFiles } from "@huggingface/hub";
import { parseWithSchema, writeJsonAtomic } from "@posttrain/core";
import { z } from "zod";
import { inspectSnapshotFile, listingPath, repoCache, snapshotDirectory } from "./cache-layout.js";
import { HubError } from "./errors.js";
import { gitBlobOid, lfsPointerOid } from "./git-oid.js";
import { createPathFilter } from "./patterns.js";
import { isCommitSha, parseRepoReference, type RepoReference, revisionSchema } from "./repository.js";
import { hubRequest, offlineMissing } from "./request.js";
import { effectiveSettings, type HubOverrides } from "./settings.js";

/** One file of a repo at a commit. */
export interface HubFile {
  /** Path inside the repo, `/`-separated. */
  path: string;
  /** Size of the content in bytes (for LFS files, of the real content, not the pointer). */
  size: number;
  /** sha256 of the content: the LFS oid; null for files stored in git without LFS. */
  sha256: string | null;
  /** The git blob id: of the content for non-LFS files, of the LFS pointer for LFS files. */
  gitOid: string;
}

export interface ListRepoFilesParams extends HubOverrides {
  repo: RepoReference;
  /** Commit SHA to list (a branch name works too, but pin SHAs for reproducibility). */
  revision: string;
  /** Globs with huggingface_hub `allow_patterns` semantics (see patterns.ts); all files when absent. */
  include?: string[] | undefined;
}

const treeEntrySchema = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().int().nonnegative(),
  oid: z.string().regex(/^[0-9a-f]{40}$/),
  lfs: z
    .object({ oid: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() })
    .optional()
    .nullable(),
});

/**
 * Lists every file of a repo at a revision, recursively, sorted by path. Online it uses
 * `listFiles` (`GET /api/{type}s/{name}/tree/{revision}?recursive=true`, following `Link`
 * pagination); the library puts the revision into the URL unencoded, so it is encoded here
 * (`refs/convert/parquet` → `refs%2Fconvert%2Fparquet`). A listing at a SHA is recorded in
 * the cache (`.posttrain/listings/<sha>.json`). Offline it returns that recorded listing —
 * so a snapshot missing files fails clearly — or, when none was recorded (a cache filled by
 * Python), the files present in the cached snapshot folder.
 */
export async function listRepoFiles(params: ListRepoFilesParams): Promise<HubFile[]> {
  const repo = parseRepoReference(params.repo);
  const revision = parseWithSchema({ schema: revisionSchema, value: params.revision, label: "revision" });
  const settings = effectiveSettings(params);
  const keep = createPathFilter(params.include);
  const context = { repo, revision };
  if (settings.offline) {
    if (!isCommitSha(revision)) {
      throw new HubError({
        code: "hub_invalid_argument",
        message: `offline listing needs a commit SHA, got ${JSON.stringify(revision)}: resolve it first with resolveRevision`,
        details: { repo: repo.name, repoType: repo.type, revision },
      });
    }
    const cache = repoCache({ cacheDirectory: settings.cacheDirectory, repo });
    const recorded = await readRecordedListing(listingPath(cache, revision));
    const files =
      recorded ??
      (await listCachedSnapshot({ cacheDirectory: settings.cacheDirectory, repo, sha: revision }));
    return files.filter((file) => keep(file.path));
  }
  const entries = await hubRequest({
    settings,
    context,
    operation: async (fetch) => {
      const collected: unknown[] = [];
      for await (const entry of listFiles({
        repo,
        revision: encodeURIComponent(revision),
        recursive: true,
        expand: false,
        hubUrl: settings.endpoint,
        fetch,
        ...(settings.accessToken === undefined ? {} : { accessToken: settings.accessToken }),
      })) {
        collected.push(entry);
      }
      return collected;
    },
  });
  const files: HubFile[] = [];
  entries.forEach((entry, index) => {
    const parsed = parseWithSchema({
      schema: treeEntrySchema,
      value: entry,
      label: `Hub tree entry [${index}]`,
    });
    if (parsed.type !== "file") return;
    files.push({
      path: parsed.path,
      size: parsed.lfs?.size ?? parsed.size,
      sha256: parsed.lfs?.oid ?? null,
      gitOid: parsed.oid,
    });
  });
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (isCommitSha(revision)) {
    // The listing of a commit never changes: keep it for offline mode.
    const cache = repoCache({ cacheDirectory: settings.cacheDirectory, repo });
    await writeJsonAtomic({ path: listingPath(cache, revision), value: { sha: revision, files } });
  }
  return files.filter((file) => keep(file.path));
}

const recordedListingSchema = z.object({
  sha: z.string(),
  files: z.array(
    z.object({
      path: z.string(),
      size: z.number().int().nonnegative(),
      sha256: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .nullable(),
      gitOid: z.string().regex(/^[0-9a-f]{40}$/),
    }),
  ),
});

/** A listing recorded online, or undefined when there is none (or it is unreadable). */
async function readRecordedListing(path: string): Promise<HubFile[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = recordedListingSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.files : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The files of a cached snapshot, with hashes recovered from the blob names the links point
 * at: a 64-hex blob is an LFS file (its name is the sha256; the pointer's git id is
 * recomputed), a 40-hex blob is a git blob id.
 */
export async function listCachedSnapshot(params: {
  cacheDirectory: string;
  repo: RepoReference;
  sha: string;
}): Promise<HubFile[]> {
  const cache = repoCache(params);
  const root = snapshotDirectory(cache, params.sha);
  let names: string[];
  try {
    names = (await readdir(root, { recursive: true })).map(String);
  } catch {
    throw offlineMissing({
      context: { repo: params.repo, revision: params.sha },
      what: `snapshot ${params.sha}`,
    });
  }
  const files: HubFile[] = [];
  for (const name of names.sort()) {
    const path = name.split(/[\\/]/).join("/");
    if (path.split("/").some((segment) => segment.startsWith(".tmp-"))) continue;
    const entry = await inspectSnapshotFile(cache, params.sha, path);
    if (entry.kind === "missing") continue;
    if (entry.kind === "copied") {
      // A plain copy (no symlink) carries no etag: its git id is recomputed from the content.
      const content = await readFile(join(root, name));
      files.push({ path, size: content.byteLength, sha256: null, gitOid: gitBlobOid(content) });
      continue;
    }
    const { size } = await stat(entry.blobPath);
    if (/^[0-9a-f]{64}$/.test(entry.blobName)) {
      files.push({
        path,
        size,
        sha256: entry.blobName,
        gitOid: lfsPointerOid({ sha256: entry.blobName, size }),
      });
    } else {
      files.push({ path, size, sha256: null, gitOid: entry.blobName });
    }
  }
  return files;
}
