import { createHash } from "node:crypto";
import { canonicalJson, sha256Hex } from "@posttrain/core";
import { gitBlobOid, lfsPointerOid, lfsPointerText } from "../git-oid.js";
import { createPathFilter } from "../patterns.js";
import type { RepoType } from "../repository.js";

/**
 * A repo served by the test Hub. Each commit is the repo's full file set (not a diff);
 * branch `main` points at the last commit unless `branches` says otherwise, and `branches`
 * may add any other ref (`refs/convert/parquet`, `v1.0`, ...) pointing at a commit index.
 */
export interface FixtureRepo {
  type: RepoType;
  /** `owner/name` */
  name: string;
  /** Readable only with the server's token; without it the server answers 401 like the Hub. */
  private?: boolean;
  /** Gated: 401 without a token, 403 with one (access never granted). */
  gated?: boolean;
  commits: Array<{ files: Record<string, Uint8Array | string>; message?: string }>;
  branches?: Record<string, number>;
  /** Globs (huggingface_hub semantics) of files stored in LFS; default {@link defaultLfsPatterns}. */
  lfs?: string[];
}

/** The patterns of the `.gitattributes` the Hub writes into new repos (the common subset). */
export const defaultLfsPatterns = [
  "*.7z",
  "*.arrow",
  "*.bin",
  "*.bz2",
  "*.ckpt",
  "*.gz",
  "*.h5",
  "*.jsonl",
  "*.msgpack",
  "*.npy",
  "*.npz",
  "*.onnx",
  "*.parquet",
  "*.pickle",
  "*.pkl",
  "*.pt",
  "*.pth",
  "*.safetensors",
  "*.tar",
  "*.tgz",
  "*.xz",
  "*.zip",
  "*.zst",
];

/** Files at least this large go to LFS whatever their name, as on the Hub. */
export const lfsSizeThreshold = 10 * 1024 * 1024;

export interface StoredFile {
  content: Buffer;
  size: number;
  /** git blob id of what git stores: the content, or the LFS pointer for LFS files. */
  gitOid: string;
  /** sha256 of the content (the LFS oid when `lfs`). */
  sha256: string;
  lfs: boolean;
}

export interface StoredCommit {
  sha: string;
  parent: string | null;
  message: string;
  files: Map<string, StoredFile>;
  date: string;
}

export interface StoredRepo {
  type: RepoType;
  name: string;
  private: boolean;
  gated: boolean;
  isLfsPath: (path: string) => boolean;
  commits: StoredCommit[];
  refs: Map<string, string>;
}

export function toBuffer(content: Uint8Array | string): Buffer {
  return typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content);
}

export function storeFile(params: { content: Buffer; lfs: boolean }): StoredFile {
  const { content, lfs } = params;
  const sha256 = sha256Hex(content);
  return {
    content,
    size: content.byteLength,
    sha256,
    lfs,
    gitOid: lfs ? lfsPointerOid({ sha256, size: content.byteLength }) : gitBlobOid(content),
  };
}

/** The LFS pointer text git would hold for a stored LFS file (served by `/raw/`). */
export function pointerOf(file: StoredFile): Buffer {
  return Buffer.from(lfsPointerText({ sha256: file.sha256, size: file.size }), "utf8");
}

/**
 * A deterministic commit id: sha1 over the canonical JSON of parent, message and the sorted
 * (path, git blob id) list, so the same fixture always yields the same SHAs.
 */
export function commitSha(params: {
  parent: string | null;
  message: string;
  files: Map<string, StoredFile>;
}): string {
  const tree = [...params.files.entries()].map(([path, file]) => [path, file.gitOid]).sort();
  return createHash("sha1")
    .update(canonicalJson({ parent: params.parent, message: params.message, tree }))
    .digest("hex");
}

export function makeCommit(params: {
  repo: StoredRepo;
  files: Map<string, StoredFile>;
  message: string;
  parent: string | null;
}): StoredCommit {
  const sha = commitSha(params);
  // Fixed, increasing dates keep responses deterministic too.
  const date = new Date(Date.UTC(2024, 0, 1) + params.repo.commits.length * 86_400_000).toISOString();
  return { sha, parent: params.parent, message: params.message, files: params.files, date };
}

export function buildRepo(fixture: FixtureRepo): StoredRepo {
  const lfsFilter = createPathFilter(fixture.lfs ?? defaultLfsPatterns);
  const repo: StoredRepo = {
    type: fixture.type,
    name: fixture.name,
    private: fixture.private ?? false,
    gated: fixture.gated ?? false,
    isLfsPath: (path) => lfsFilter(path),
    commits: [],
    refs: new Map(),
  };
  for (const [index, commit] of fixture.commits.entries()) {
    const files = new Map<string, StoredFile>();
    for (const [path, content] of Object.entries(commit.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const bytes = toBuffer(content);
      files.set(
        path,
        storeFile({ content: bytes, lfs: repo.isLfsPath(path) || bytes.byteLength >= lfsSizeThreshold }),
      );
    }
    const parent = repo.commits.at(-1)?.sha ?? null;
    repo.commits.push(makeCommit({ repo, files, message: commit.message ?? `commit ${index}`, parent }));
  }
  const last = repo.commits.at(-1);
  if (last !== undefined) repo.refs.set("main", last.sha);
  for (const [branch, index] of Object.entries(fixture.branches ?? {})) {
    const commit = repo.commits[index];
    if (commit === undefined)
      throw new Error(`fixture ${fixture.name}: branch ${branch} points at missing commit ${index}`);
    repo.refs.set(branch, commit.sha);
  }
  return repo;
}

/** A revision (branch, tag, `HEAD`, full SHA) → commit, or undefined. */
export function findCommit(repo: StoredRepo, revision: string): StoredCommit | undefined {
  const sha = repo.refs.get(revision === "HEAD" ? "main" : revision) ?? revision;
  return repo.commits.find((commit) => commit.sha === sha);
}
