import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { listFiles } from "@huggingface/hub";
import { parseWithSchema, writeFileAtomic } from "@posttrain/core";
import { z } from "zod";
import {
  inspectSnapshotFile,
  listingPath,
  type RepoCache,
  repoCache,
  snapshotDirectory,
  treeListingPath,
} from "./cache-layout.js";
import { HubError } from "./errors.js";
import { gitBlobOid, lfsPointerOid } from "./git-oid.js";
import { createPathFilter } from "./patterns.js";
import {
  isCommitSha,
  parseRepoReference,
  type RepoReference,
  repoPathSchema,
  revisionSchema,
} from "./repository.js";
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
  /** The Xet content hash, for files stored with Xet (the tree API's `xetHash`). */
  xetHash?: string;
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
  xetHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
    .nullable(),
});

/**
 * Lists every file of a repo at a revision, recursively, sorted by path. Online it uses
 * `listFiles` (`GET /api/{type}s/{name}/tree/{revision}?recursive=true`, following `Link`
 * pagination); the library puts the revision into the URL unencoded, so it is encoded here
 * (`refs/convert/parquet` → `refs%2Fconvert%2Fparquet`). A listing at a SHA is recorded in
 * the cache as huggingface_hub records it (`trees/<sha>.json`), and a recorded listing of a
 * SHA — ours or Python's — is used instead of asking the Hub again, since a commit never
 * changes. Offline it returns that recorded listing — so a snapshot missing files fails
 * clearly — or, when none was recorded, the files present in the cached snapshot folder.
 */
export async function listRepoFiles(params: ListRepoFilesParams): Promise<HubFile[]> {
  const repo = parseRepoReference(params.repo);
  const revision = parseWithSchema({ schema: revisionSchema, value: params.revision, label: "revision" });
  const settings = effectiveSettings(params);
  const keep = createPathFilter(params.include);
  const context = { repo, revision };
  const cache = repoCache({ cacheDirectory: settings.cacheDirectory, repo });
  if (isCommitSha(revision)) {
    const recorded = await readRecordedListing(cache, revision);
    if (recorded !== undefined) return recorded.filter((file) => keep(file.path));
  }
  if (settings.offline) {
    if (!isCommitSha(revision)) {
      throw new HubError({
        code: "hub_invalid_argument",
        message: `offline listing needs a commit SHA, got ${JSON.stringify(revision)}: resolve it first with resolveRevision`,
        details: { repo: repo.name, repoType: repo.type, revision },
      });
    }
    const files = await listCachedSnapshot({ cacheDirectory: settings.cacheDirectory, repo, sha: revision });
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
      ...(parsed.xetHash === undefined || parsed.xetHash === null ? {} : { xetHash: parsed.xetHash }),
    });
  });
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (isCommitSha(revision)) {
    // The listing of a commit never changes: keep it, where and how huggingface_hub keeps it.
    await writeTreeListing({ cache, sha: revision, files });
  }
  return files.filter((file) => keep(file.path));
}

/** Our listings before `trees/` was adopted (`.posttrain/listings/<sha>.json`), still read. */
const legacyListingSchema = z.object({
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

/** huggingface_hub's `trees/<sha>.json` (`_tree_cache.py`, `TREE_CACHE_FORMAT_VERSION = 1`). */
const treeListingSchema = z.object({
  format_version: z.literal(1),
  files: z.record(
    repoPathSchema,
    z.object({
      size: z.number().int().nonnegative(),
      blob_id: z.string().regex(/^[0-9a-f]{40}$/),
      lfs_sha256: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .nullable()
        .optional(),
      lfs_size: z.number().int().nonnegative().nullable().optional(),
      xet_hash: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .nullable()
        .optional(),
    }),
  ),
});

/** A JSON file, or undefined when absent or not JSON. Bounded: a listing of 1M files is ~200 MB. */
async function readJsonFile(path: string): Promise<unknown> {
  try {
    const { size } = await stat(path);
    if (size > 512 * 1024 * 1024) return undefined;
    return JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * The listing recorded for a commit: `trees/<sha>.json` (written by us or by huggingface_hub),
 * else our older `.posttrain/listings/<sha>.json`. Undefined when neither is there or readable
 * (Python, too, ignores a listing it cannot parse and asks the Hub again).
 */
export async function readRecordedListing(cache: RepoCache, sha: string): Promise<HubFile[] | undefined> {
  const tree = treeListingSchema.safeParse(await readJsonFile(treeListingPath(cache, sha)));
  if (tree.success) {
    return Object.entries(tree.data.files)
      .map(([path, entry]): HubFile => {
        const file: HubFile = {
          path,
          size: entry.lfs_size ?? entry.size,
          sha256: entry.lfs_sha256 ?? null,
          gitOid: entry.blob_id,
        };
        if (entry.xet_hash !== undefined && entry.xet_hash !== null) file.xetHash = entry.xet_hash;
        return file;
      })
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
  const legacy = legacyListingSchema.safeParse(await readJsonFile(listingPath(cache, sha)));
  return legacy.success ? legacy.data.files : undefined;
}

/**
 * Writes `trees/<sha>.json` byte for byte as huggingface_hub's `write_tree_cache` does:
 * `json.dump(…, indent=1)` (so `ensure_ascii`: non-ASCII as `\uXXXX`), files sorted by path,
 * `lfs_sha256`/`lfs_size` only for LFS files, `xet_hash` only when known.
 */
export async function writeTreeListing(params: {
  cache: RepoCache;
  sha: string;
  files: HubFile[];
}): Promise<void> {
  const files: Record<string, Record<string, unknown>> = {};
  for (const file of [...params.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const entry: Record<string, unknown> = { size: file.size, blob_id: file.gitOid };
    if (file.sha256 !== null) {
      entry["lfs_sha256"] = file.sha256;
      entry["lfs_size"] = file.size;
    }
    if (file.xetHash !== undefined) entry["xet_hash"] = file.xetHash;
    files[file.path] = entry;
  }
  const text = JSON.stringify({ format_version: 1, files }, null, 1).replace(
    /[\u0080-\uffff]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  await writeFileAtomic({ path: treeListingPath(params.cache, params.sha), content: text });
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
