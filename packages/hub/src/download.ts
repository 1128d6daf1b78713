import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, lstat, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pathsInfo } from "@huggingface/hub";
import { atomicTemporaryPrefix, parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import {
  blobPath,
  inspectSnapshotFile,
  isMarkedNoExist,
  linkSnapshotFile,
  markNoExist,
  type RepoCache,
  readRef,
  removeCachedFile,
  removeStaleTemporaries,
  repoCache,
  snapshotFilePath,
  withBlobLock,
} from "./cache-layout.js";
import { HubError, hubErrorFromStatus, type RequestContext } from "./errors.js";
import { createGitBlobHasher } from "./git-oid.js";
import type { HubFile } from "./list.js";
import {
  isCommitSha,
  parseRepoReference,
  type RepoReference,
  repoPathSchema,
  revisionSchema,
} from "./repository.js";
import { hubRequest, offlineMissing, transportFor, wrapFailure } from "./request.js";
import { resolveRevision } from "./resolve.js";
import { type EffectiveHubSettings, effectiveSettings, type HubOverrides } from "./settings.js";
import {
  backoffDelay,
  connectionFailureReason,
  isTransientError,
  TransientTransferError,
} from "./transport.js";
import { readBlobMemo, writeBlobMemo } from "./verified-blobs.js";

/** A file present and verified in the cache. */
export interface DownloadedFile {
  /** Path inside the repo. */
  path: string;
  /** `<cache>/<repo folder>/snapshots/<sha>/<path>` (a symlink into `blobs/`). */
  localPath: string;
  size: number;
  /** sha256 of the content, as verified. */
  sha256: string;
}

export interface DownloadRepoFileParams extends HubOverrides {
  repo: RepoReference;
  /** Commit SHA (a branch is resolved first, but pin SHAs for reproducibility). */
  revision: string;
  path: string;
  /**
   * sha256 the content must have (e.g. from a lock file), checked in addition to the Hub's
   * own hash. null or absent: only the Hub's hash is checked.
   */
  expectedSha256?: string | null | undefined;
  /** The file's listing entry, when the caller has it: saves one `paths-info` request. */
  file?: HubFile | undefined;
  /**
   * Hash a cached file even when it has not changed on disk since it was last verified
   * (see verified-blobs.ts); default false.
   */
  rehashCachedFiles?: boolean | undefined;
  /** Called with the number of bytes received, as they arrive (negative when a failed attempt's bytes are discarded). */
  onBytes?: ((bytes: number) => void) | undefined;
}

/** What a file's content must hash to. */
interface Expectation {
  /** The blob name (etag) in the cache: the LFS sha256 or the git blob oid. */
  blobName: string | undefined;
  sha256: string | undefined;
  gitOid: string | undefined;
  size: number | undefined;
  /** The caller's `expectedSha256`, checked after the Hub's own hashes. */
  callerSha256?: string | undefined;
}

interface Digest {
  sha256: string;
  gitOid: string;
  size: number;
}

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");

/**
 * Downloads one file of a repo at a commit into the standard HF cache (see cache-layout.ts),
 * verified, and returns where it is.
 *
 * Guarantees:
 * - Verified: content must match the Hub's hash — the LFS oid (sha256) for LFS files, the
 *   git blob oid (sha1 of `"blob <size>\0"` + content) for non-LFS files, for which the Hub
 *   publishes no sha256 — and `expectedSha256` when given. A file already cached is
 *   re-verified against the name of the blob it links to, so a cache corrupted on disk is
 *   noticed even offline.
 * - On a mismatch the bad copy is deleted and the file downloaded once more; a second
 *   mismatch fails with `hub_hash_mismatch` naming repo, revision, file, expected and actual.
 * - Never a truncated or unverified file in the cache: content streams into a temporary file
 *   beside the blob and is renamed into place only once its size and hash check out.
 * - Transient failures (5xx, 429, reset or cut connections) are retried with exponential
 *   backoff; `hub_transfer_failed` once the attempts are exhausted.
 * - `HF_HUB_OFFLINE=1`: served from the cache, `hub_offline_missing` when absent.
 */
export async function downloadRepoFile(params: DownloadRepoFileParams): Promise<DownloadedFile> {
  const repo = parseRepoReference(params.repo);
  const revision = parseWithSchema({ schema: revisionSchema, value: params.revision, label: "revision" });
  const path = parseWithSchema({ schema: repoPathSchema, value: params.path, label: "repo file path" });
  const expectedSha256 =
    params.expectedSha256 === undefined || params.expectedSha256 === null
      ? undefined
      : parseWithSchema({ schema: sha256Schema, value: params.expectedSha256, label: "expectedSha256" });
  const settings = effectiveSettings(params);
  let sha: string;
  let fileSettings = settings;
  if (isCommitSha(revision)) sha = revision;
  else {
    try {
      sha = (await resolveRevision({ ...params, repo, revision })).sha;
    } catch (error) {
      // As huggingface_hub's hf_hub_download: when the Hub is unreachable, a file cached at
      // the commit the branch last pointed at is served (verified) from the cache.
      const cached = isOutage(error)
        ? await readRef({ cache: repoCache({ cacheDirectory: settings.cacheDirectory, repo }), revision })
        : undefined;
      if (
        cached === undefined ||
        !isCommitSha(cached) ||
        (
          await inspectSnapshotFile(
            repoCache({ cacheDirectory: settings.cacheDirectory, repo }),
            cached,
            path,
          )
        ).kind === "missing"
      ) {
        throw error;
      }
      sha = cached;
      fileSettings = { ...settings, offline: true };
    }
  }
  return downloadResolvedFile({
    settings: fileSettings,
    repo,
    sha,
    path,
    expectedSha256,
    file: params.file,
    rehashCachedFiles: params.rehashCachedFiles ?? false,
    onBytes: params.onBytes,
  });
}

/** A failure that says the Hub is unreachable or overloaded, not that the request is wrong. */
export function isOutage(error: unknown): error is HubError {
  return (
    error instanceof HubError &&
    (error.code === "hub_rate_limited" ||
      (error.code === "hub_transfer_failed" && error.details?.["unreachable"] === true))
  );
}

/** {@link downloadRepoFile} once inputs are validated and the revision is a SHA. */
export async function downloadResolvedFile(params: {
  settings: EffectiveHubSettings;
  repo: RepoReference;
  sha: string;
  path: string;
  expectedSha256: string | undefined;
  file: HubFile | undefined;
  rehashCachedFiles: boolean;
  onBytes: ((bytes: number) => void) | undefined;
}): Promise<DownloadedFile> {
  const { settings, repo, sha, path, expectedSha256, file } = params;
  const cache = repoCache({ cacheDirectory: settings.cacheDirectory, repo });
  const context: RequestContext = { repo, revision: sha, path };
  const localPath = snapshotFilePath(cache, sha, path);
  if (file !== undefined) checkExpectedAgainstListing({ context, expectedSha256, listing: file });
  const digestOf = (target: string, blobName: string | undefined, withGitOid: boolean) =>
    blobName === undefined
      ? digestFile(target, withGitOid)
      : verifiedDigest({ cache, blobName, blobPath: target, withGitOid, rehash: params.rehashCachedFiles });

  let cachedCopyWasCorrupt = false;
  let listing = file;
  const cached = await inspectSnapshotFile(cache, sha, path);
  if (cached.kind !== "missing") {
    // First check the copy against the Hub's own hash (blob name, listing); only then against
    // the caller's expectedSha256, since a re-download cannot change what the Hub serves.
    const expectation =
      cached.kind === "linked" ? expectationFromBlobName(cached.blobName) : emptyExpectation();
    if (listing === undefined && expectation.sha256 === undefined && expectation.gitOid === undefined) {
      // A plain copy, or a blob name that is not a hash: ask the Hub what it should be.
      if (!settings.offline) listing = await fetchFileListing({ settings, repo, sha, path });
    }
    if (listing !== undefined) mergeListing(expectation, listing);
    const digest =
      cached.kind === "linked"
        ? await digestOf(cached.blobPath, cached.blobName, expectation.gitOid !== undefined)
        : await digestFile(cached.path, expectation.gitOid !== undefined);
    const failure = compare(expectation, digest);
    const blobMatchesListing = cached.kind !== "linked" || expectation.blobName === cached.blobName;
    if (failure === undefined && blobMatchesListing) {
      if (expectedSha256 !== undefined && expectedSha256 !== digest.sha256) {
        throw hashMismatch({
          context,
          expected: expectedSha256,
          actual: digest.sha256,
          algorithm: "sha256",
          definitive: true,
          note: "the cached file matches the Hub's own hash, so the expected sha256 is not this file's content at this commit",
        });
      }
      return { path, localPath, size: digest.size, sha256: digest.sha256 };
    }
    await removeCachedFile({
      cache,
      sha,
      path,
      ...(cached.kind === "linked" ? { blobPath: cached.blobPath } : {}),
    });
    if (settings.offline) {
      throw hashMismatch({
        context,
        expected: failure?.expected ?? String(expectation.blobName),
        actual: failure?.actual ?? (cached.kind === "linked" ? cached.blobName : "unknown"),
        algorithm: failure?.algorithm ?? "blob name",
        note: "the cached copy was corrupt and has been deleted; HF_HUB_OFFLINE=1 prevents downloading it again",
      });
    }
    cachedCopyWasCorrupt = true;
  } else if (await isMarkedNoExist({ cache, sha, path })) {
    // Written by huggingface_hub (or by us) after the Hub said the file is not at this
    // commit; a commit never changes, so no request is needed to know it.
    throw fileNotFound({ repo, sha, path, note: "recorded in the cache's .no_exist/" });
  } else if (settings.offline) {
    throw offlineMissing({ context, what: `file ${JSON.stringify(path)} at commit ${sha}` });
  }

  listing ??= await fetchFileListing({ settings, repo, sha, path });
  checkExpectedAgainstListing({ context, expectedSha256, listing });
  const expectation = emptyExpectation();
  mergeListing(expectation, listing);
  expectation.callerSha256 = expectedSha256;
  const blobName = expectation.blobName!;
  const blob = blobPath(cache, blobName);

  return withBlobLock({
    cache,
    blobName,
    action: async () => {
      // The blob may already be cached for another commit (or another process just fetched
      // it while this one waited for the lock): verify it and link it.
      if (await exists(blob)) {
        const digest = await digestOf(blob, blobName, expectation.gitOid !== undefined);
        const failure = compare(expectation, digest);
        if (failure === undefined) {
          await linkSnapshotFile({ cache, sha, path, blobName });
          return { path, localPath, size: digest.size, sha256: digest.sha256 };
        }
        if (failure.fromCaller === true) {
          throw hashMismatch({
            context,
            ...failure,
            definitive: true,
            note: "the cached blob matches the Hub's own hash, so the expected sha256 is not this file's content at this commit",
          });
        }
        await rm(blob, { force: true });
        cachedCopyWasCorrupt = true;
      }

      await removeStaleTemporaries(cache, blobName);
      const downloads = cachedCopyWasCorrupt ? 1 : 2;
      let lastMismatch: HubError | undefined;
      for (let attempt = 1; attempt <= downloads; attempt += 1) {
        try {
          const digest = await fetchIntoBlob({
            settings,
            cache,
            repo,
            sha,
            path,
            blobName,
            expectation,
            context,
            onBytes: params.onBytes,
          });
          await writeBlobMemo({
            cache,
            blobName,
            blobPath: blob,
            sha256: digest.sha256,
            gitOid: digest.gitOid,
          });
          await linkSnapshotFile({ cache, sha, path, blobName });
          return { path, localPath, size: digest.size, sha256: digest.sha256 };
        } catch (error) {
          if (!(error instanceof HubError) || error.code !== "hub_hash_mismatch") throw error;
          if (error.details?.["definitive"] === true) throw error;
          lastMismatch = error;
        }
      }
      throw lastMismatch!;
    },
  });
}

/** A caller's expected sha256 that contradicts the Hub's LFS oid can never be met: fail before any transfer. */
function checkExpectedAgainstListing(params: {
  context: RequestContext;
  expectedSha256: string | undefined;
  listing: HubFile;
}): void {
  const { expectedSha256, listing } = params;
  if (expectedSha256 !== undefined && listing.sha256 !== null && listing.sha256 !== expectedSha256) {
    throw hashMismatch({
      context: params.context,
      expected: expectedSha256,
      actual: listing.sha256,
      algorithm: "sha256",
      definitive: true,
      note: "the Hub's LFS oid for this file differs from the expected sha256",
    });
  }
}

/** The digest of a cached blob: remembered when the blob is unchanged since its last check, else hashed. */
async function verifiedDigest(params: {
  cache: RepoCache;
  blobName: string;
  blobPath: string;
  withGitOid: boolean;
  rehash: boolean;
}): Promise<Digest> {
  const { cache, blobName, blobPath, withGitOid } = params;
  if (!params.rehash) {
    const memo = await readBlobMemo({ cache, blobName, blobPath });
    if (memo !== undefined && (!withGitOid || memo.gitOid !== "")) {
      return { sha256: memo.sha256, gitOid: memo.gitOid, size: memo.identity.size };
    }
  }
  const digest = await digestFile(blobPath, withGitOid);
  await writeBlobMemo({ cache, blobName, blobPath, sha256: digest.sha256, gitOid: digest.gitOid });
  return digest;
}

function emptyExpectation(): Expectation {
  return { blobName: undefined, sha256: undefined, gitOid: undefined, size: undefined };
}

/** A cached blob's name is its etag: 64 hex = LFS sha256, 40 hex = git blob oid. */
function expectationFromBlobName(blobName: string): Expectation {
  const expectation = emptyExpectation();
  expectation.blobName = blobName;
  if (/^[0-9a-f]{64}$/.test(blobName)) expectation.sha256 = blobName;
  else if (/^[0-9a-f]{40}$/.test(blobName)) expectation.gitOid = blobName;
  return expectation;
}

function mergeListing(expectation: Expectation, file: HubFile): void {
  expectation.blobName = file.sha256 ?? file.gitOid;
  expectation.size = file.size;
  if (file.sha256 !== null) expectation.sha256 = file.sha256;
  else expectation.gitOid = file.gitOid;
}

/** The first check that fails, or undefined when the digest meets every expectation. */
function compare(
  expectation: Expectation,
  digest: Digest,
): { algorithm: string; expected: string; actual: string; fromCaller?: boolean } | undefined {
  if (expectation.size !== undefined && expectation.size !== digest.size) {
    return { algorithm: "size", expected: `${expectation.size} bytes`, actual: `${digest.size} bytes` };
  }
  if (expectation.sha256 !== undefined && expectation.sha256 !== digest.sha256) {
    return { algorithm: "sha256", expected: expectation.sha256, actual: digest.sha256 };
  }
  if (expectation.gitOid !== undefined && expectation.gitOid !== digest.gitOid) {
    return { algorithm: "git blob oid", expected: expectation.gitOid, actual: digest.gitOid };
  }
  if (expectation.callerSha256 !== undefined && expectation.callerSha256 !== digest.sha256) {
    return {
      algorithm: "sha256",
      expected: expectation.callerSha256,
      actual: digest.sha256,
      fromCaller: true,
    };
  }
  return undefined;
}

function hashMismatch(params: {
  context: RequestContext;
  expected: string;
  actual: string;
  algorithm: string;
  note: string;
  /** True when downloading again cannot help (the Hub's content is intact, the caller's hash differs). */
  definitive?: boolean;
}): HubError {
  const { context, expected, actual, algorithm } = params;
  return new HubError({
    code: "hub_hash_mismatch",
    message: `hash mismatch for ${context.repo.type} ${context.repo.name} revision ${context.revision} file ${context.path}: expected ${algorithm} ${expected}, got ${actual} (${params.note})`,
    details: {
      repo: context.repo.name,
      repoType: context.repo.type,
      revision: context.revision,
      path: context.path,
      algorithm,
      expected,
      actual,
      definitive: params.definitive ?? false,
    },
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function digestFile(path: string, withGitOid: boolean): Promise<Digest> {
  const { size } = await stat(path);
  const sha256 = createHash("sha256");
  const git = withGitOid ? createGitBlobHasher(size) : undefined;
  let counted = 0;
  for await (const chunk of createReadStream(path)) {
    const bytes = chunk as Buffer;
    sha256.update(bytes);
    git?.update(bytes);
    counted += bytes.byteLength;
  }
  return { sha256: sha256.digest("hex"), gitOid: git?.digest() ?? "", size: counted };
}

const pathInfoSchema = z.object({
  path: z.string(),
  type: z.string(),
  size: z.number().int().nonnegative(),
  oid: z.string().regex(/^[0-9a-f]{40}$/),
  lfs: z
    .object({ oid: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() })
    .optional()
    .nullable(),
});

function fileNotFound(params: { repo: RepoReference; sha: string; path: string; note?: string }): HubError {
  const { repo, sha, path } = params;
  return new HubError({
    code: "hub_file_not_found",
    message: `${repo.type} ${repo.name} has no file ${JSON.stringify(path)} at revision ${sha}${params.note === undefined ? "" : ` (${params.note})`}`,
    details: { repo: repo.name, repoType: repo.type, revision: sha, path },
  });
}

/** The listing entry of one file (`POST /api/{type}s/{name}/paths-info/{sha}`). */
async function fetchFileListing(params: {
  settings: EffectiveHubSettings;
  repo: RepoReference;
  sha: string;
  path: string;
}): Promise<HubFile> {
  const { settings, repo, sha, path } = params;
  const context = { repo, revision: sha, path };
  const infos = await hubRequest({
    settings,
    context,
    operation: (fetch) =>
      pathsInfo({
        repo,
        paths: [path],
        revision: sha,
        hubUrl: settings.endpoint,
        fetch,
        ...(settings.accessToken === undefined ? {} : { accessToken: settings.accessToken }),
      }),
  });
  const match = infos.find((info) => info.path === path && info.type === "file");
  if (match === undefined) {
    await markNoExist({ cache: repoCache({ cacheDirectory: settings.cacheDirectory, repo }), sha, path });
    throw fileNotFound({ repo, sha, path });
  }
  const parsed = parseWithSchema({ schema: pathInfoSchema, value: match, label: "Hub paths-info entry" });
  return {
    path,
    size: parsed.lfs?.size ?? parsed.size,
    sha256: parsed.lfs?.oid ?? null,
    gitOid: parsed.oid,
  };
}

/**
 * The largest single file the Hub serves over plain HTTP; above it only the Xet protocol
 * works (huggingface_hub constants.py `MAX_HTTP_DOWNLOAD_SIZE`, 50 GB).
 */
export const maximumHttpDownloadBytes = 50 * 1000 * 1000 * 1000;

/**
 * `<endpoint>/[datasets/]<name>/resolve/<revision>/<path>`, built like huggingface_hub's
 * `hf_hub_url`: the revision percent-encoded as one segment, the path segment by segment,
 * so `#`, `?`, `%`, spaces and non-ASCII characters reach the Hub as part of the name.
 */
export function resolveUrl(params: {
  endpoint: string;
  repo: RepoReference;
  revision: string;
  path: string;
}): string {
  const prefix = params.repo.type === "dataset" ? "datasets/" : "";
  const path = params.path.split("/").map(encodePathSegment).join("/");
  return `${params.endpoint}/${prefix}${params.repo.name}/resolve/${encodeURIComponent(params.revision)}/${path}`;
}

/** Python's `quote(segment, safe="")` minus `/`: RFC 3986 unreserved characters stay as they are. */
function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const maximumRedirects = 10;

/**
 * GET that follows redirects itself: `Authorization` goes only to the Hub's own origin, never
 * to the LFS CDN or the Xet bridge a resolve redirects to (huggingface_hub drops it the same
 * way). Each hop is retried by the transport.
 */
async function getFollowingRedirects(params: {
  fetch: typeof fetch;
  settings: EffectiveHubSettings;
  url: string;
  headers: Record<string, string>;
}): Promise<{ response: Response; xetHash: string | undefined; linkedEtag: string | undefined }> {
  const hubOrigin = new URL(params.settings.endpoint).origin;
  let url = params.url;
  let xetHash: string | undefined;
  let linkedEtag: string | undefined;
  for (let hop = 0; hop <= maximumRedirects; hop += 1) {
    const sameOrigin = new URL(url).origin === hubOrigin;
    const response = await params.fetch(url, {
      redirect: "manual",
      headers: {
        ...params.headers,
        ...(sameOrigin && params.settings.accessToken !== undefined
          ? { Authorization: `Bearer ${params.settings.accessToken}` }
          : {}),
      },
    });
    xetHash ??= response.headers.get("x-xet-hash") ?? undefined;
    linkedEtag ??= response.headers.get("x-linked-etag")?.replace(/^(W\/)?"|"$/g, "") ?? undefined;
    const location = response.headers.get("location");
    if (!redirectStatuses.has(response.status) || location === null) return { response, xetHash, linkedEtag };
    await response.body?.cancel().catch(() => {});
    url = new URL(location, url).href;
  }
  throw new TransientTransferError(`more than ${maximumRedirects} redirects for ${params.url}`);
}

/**
 * Streams the file into `blobs/<blobName>` through a temporary file beside it, hashing as it
 * goes, and renames it into place only when size and hashes check out.
 *
 * Like huggingface_hub's `http_get`: a connection cut mid-body resumes with
 * `Range: bytes=<received>-`; a server that answers such a request with 200 (the whole file)
 * restarts the file cleanly from byte 0; the count of resumes left is reset whenever data
 * arrives, so a slow but moving transfer is never abandoned (each resume makes progress, so
 * the loop is bounded by the file size). An empty file answers 416 to a range on some
 * servers: that, and an empty 200, are an empty body. A wrong hash is `hub_hash_mismatch`,
 * and nothing is renamed into the cache.
 */
async function fetchIntoBlob(params: {
  settings: EffectiveHubSettings;
  cache: RepoCache;
  repo: RepoReference;
  sha: string;
  path: string;
  blobName: string;
  expectation: Expectation;
  context: RequestContext;
  onBytes: ((bytes: number) => void) | undefined;
}): Promise<Digest> {
  const { settings, cache, repo, sha, path, blobName, expectation, context, onBytes } = params;
  const expectedSize = expectation.size!;
  if (expectedSize > maximumHttpDownloadBytes) {
    throw new HubError({
      code: "hub_file_too_large",
      message: `${repo.type} ${repo.name} file ${JSON.stringify(path)} is ${expectedSize} bytes; the Hub serves single files above 50 GB only through the Xet protocol, which this client does not speak (huggingface_hub refuses plain HTTP for them too: install hf_xet and use Python for this file)`,
      details: { repo: repo.name, repoType: repo.type, revision: sha, path, size: expectedSize },
    });
  }
  const transport = transportFor(settings);
  const url = resolveUrl({ endpoint: settings.endpoint, repo, revision: sha, path });
  const target = blobPath(cache, blobName);
  await mkdir(dirname(target), { recursive: true });
  const temporary = join(
    dirname(target),
    `${atomicTemporaryPrefix}${blobName}.${process.pid}.${randomBytes(4).toString("hex")}`,
  );
  const handle = await open(temporary, "w");
  let closed = false;
  try {
    let sha256 = createHash("sha256");
    let git = expectation.gitOid !== undefined ? createGitBlobHasher(expectedSize) : undefined;
    let received = 0;
    const attempts = Math.max(1, Math.floor(settings.retry.attempts));
    let resumesLeft = attempts - 1;
    let resumeNumber = 0;
    const restart = async () => {
      await handle.truncate(0);
      onBytes?.(-received);
      received = 0;
      sha256 = createHash("sha256");
      git = expectation.gitOid !== undefined ? createGitBlobHasher(expectedSize) : undefined;
    };
    while (true) {
      const resuming = received > 0;
      const { response } = await getFollowingRedirects({
        fetch: transport.fetch,
        settings,
        url,
        headers: resuming ? { Range: `bytes=${received}-` } : {},
      }).catch((error: unknown) => {
        throw wrapFailure(error, context, transport.lastErrorCode(), transport.lastFailure());
      });
      if (response.status === 416 && (expectedSize === 0 || received === expectedSize)) {
        await response.body?.cancel().catch(() => {});
        break;
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        if (response.status === 404 && response.headers.get("x-error-code") === "EntryNotFound") {
          await markNoExist({ cache, sha, path });
        }
        const failure = transport.lastFailure();
        throw hubErrorFromStatus({
          status: response.status,
          errorCode: response.headers.get("x-error-code") ?? undefined,
          context,
          ...(failure !== undefined && failure.status === response.status ? { failure } : {}),
        });
      }
      if (resuming && response.status !== 206) {
        // The server ignored the range: start over rather than append the file to itself.
        await restart();
      } else if (resuming) {
        const start = /^bytes\s+(\d+)-/.exec(response.headers.get("content-range") ?? "");
        if (start === null || Number(start[1]) !== received) {
          await response.body?.cancel().catch(() => {});
          await restart();
          continue;
        }
      }
      if (response.body === null) throw new TransientTransferError(`no body for ${path}`);
      let cut: unknown;
      try {
        for await (const chunk of response.body) {
          if (received + chunk.byteLength > expectedSize) {
            throw new HubError({
              code: "hub_hash_mismatch",
              message: `hash mismatch for ${repo.type} ${repo.name} revision ${sha} file ${path}: expected size ${expectedSize} bytes, got more (the downloaded content was discarded, nothing was written to the cache)`,
              details: {
                repo: repo.name,
                repoType: repo.type,
                revision: sha,
                path,
                algorithm: "size",
                expected: `${expectedSize} bytes`,
                actual: `more than ${expectedSize} bytes`,
                definitive: false,
              },
            });
          }
          await writeAll(handle, chunk, received);
          sha256.update(chunk);
          git?.update(chunk);
          received += chunk.byteLength;
          onBytes?.(chunk.byteLength);
          // Data is arriving: the transfer is alive, so the count of resumes starts over.
          resumesLeft = attempts - 1;
        }
      } catch (error) {
        if (error instanceof HubError || !isTransientError(error)) throw error;
        cut = error;
      }
      if (cut === undefined && received === expectedSize) break;
      if (resumesLeft <= 0) {
        throw new HubError({
          code: "hub_transfer_failed",
          message: `${repo.type} ${repo.name}: transfer of ${JSON.stringify(path)} stopped after ${received} of ${expectedSize} bytes and did not resume after ${attempts - 1} tries${cut instanceof Error ? ` (${connectionFailureReason(cut) ?? cut.message})` : ""}; the partial file was discarded`,
          cause: cut,
          details: {
            repo: repo.name,
            repoType: repo.type,
            revision: sha,
            path,
            received,
            size: expectedSize,
          },
        });
      }
      resumesLeft -= 1;
      resumeNumber += 1;
      const delay = backoffDelay(settings.retry, 2);
      settings.onRetry?.({
        reason: "connection",
        attempt: resumeNumber + 1,
        delayMilliseconds: delay,
        request: `GET ${url} (resuming at byte ${received})`,
      });
      await settings.wait(delay);
    }
    const digest: Digest = { sha256: sha256.digest("hex"), gitOid: git?.digest() ?? "", size: received };
    const failure = compare(expectation, digest);
    if (failure !== undefined) {
      onBytes?.(-received);
      throw hashMismatch({
        context,
        algorithm: failure.algorithm,
        expected: failure.expected,
        actual: failure.actual,
        definitive: failure.fromCaller === true,
        note:
          failure.fromCaller === true
            ? "the download matches the Hub's own hash, so the expected sha256 is not this file's content at this commit; nothing was written to the cache"
            : "the downloaded content was discarded, nothing was written to the cache",
      });
    }
    await handle.sync();
    await handle.close();
    closed = true;
    await rename(temporary, target);
    return digest;
  } catch (error) {
    if (!closed) await handle.close().catch(() => {});
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Writes `chunk` at `position` (explicit, so a restart after truncation writes from byte 0). */
async function writeAll(handle: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset, position + offset);
    offset += bytesWritten;
  }
}
