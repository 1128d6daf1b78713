import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { hashFile } from "@posttrain/core";
import {
  createPathFilter,
  downloadRepoFile,
  type HubOverrides,
  listRepoFiles,
  resolveRevision,
} from "@posttrain/hub";
import { DataError } from "./errors.js";
import { countRows, dataFileFormat } from "./readers.js";
import { commitShaPattern, type DatasetSpec, describeSpec, type ExpectedFile } from "./spec.js";

/** A data file of a source, present locally and hashed. */
export interface DataFile {
  /** Path inside the repo or folder, `/`-separated. */
  path: string;
  /** Where it is on disk (for Hub files, inside the shared Hugging Face cache). */
  localPath: string;
  size: number;
  sha256: string;
}

/** A source whose files are on disk and verified against the spec's `expect`, if any. */
export interface MaterializedSource {
  spec: DatasetSpec;
  files: DataFile[];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Picks the data files of a source from a repo listing:
 * - with `files` globs: exactly the matching data files;
 * - otherwise files under `<config>/` when a config is named and such a folder exists
 *   (the usual Hub layout and the `refs/convert/parquet` layout `<config>/<split>/0000.parquet`),
 *   then those whose path names the split (default `train`) as a folder (`train/`) or as a
 *   file-name word (`train-00000-of-00001.parquet`, `train.jsonl`, `tulu-train.parquet`).
 * Only paths with a reader format are returned, sorted.
 */
export function selectDataFiles(params: {
  paths: readonly string[];
  config?: string | undefined;
  split?: string | undefined;
  files?: readonly string[] | undefined;
}): string[] {
  const candidates = params.paths.filter((path) => dataFileFormat(path) !== null).sort();
  if (params.files !== undefined) return candidates.filter(createPathFilter(params.files));
  let scoped = candidates;
  if (params.config !== undefined) {
    const underConfig = candidates.filter((path) => path.startsWith(`${params.config}/`));
    if (underConfig.length > 0 || params.config !== "default") scoped = underConfig;
  }
  const split = params.split ?? "train";
  const word = new RegExp(`(^|/|[-_])${escapeRegExp(split)}(/|[-_.]|$)`);
  return scoped.filter((path) => word.test(path));
}

async function listLocal(directory: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(directory, { recursive: true, withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError({
      code: "data_no_files",
      message:
        code === "ENOENT"
          ? `local dataset folder ${directory} does not exist`
          : code === "ENOTDIR"
            ? `local dataset ${directory} is not a folder`
            : `could not list local dataset folder ${directory}: ${(error as Error).message}`,
      // The message says it all for a missing folder; other failures keep the system error.
      ...(code === "ENOENT" || code === "ENOTDIR" ? {} : { cause: error }),
      details: { directory, reason: code ?? null },
    });
  }
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(directory, join(entry.parentPath, entry.name)).split(sep).join("/"));
}

/** Differences between the files found and the files a spec expects, one line each. */
export function compareFiles(params: {
  expected: readonly ExpectedFile[];
  actual: readonly DataFile[];
}): string[] {
  const differences: string[] = [];
  const actual = new Map(params.actual.map((file) => [file.path, file]));
  const expected = new Map(params.expected.map((file) => [file.path, file]));
  for (const file of params.expected) {
    const found = actual.get(file.path);
    if (found === undefined) differences.push(`missing file ${file.path}`);
    else {
      if (found.size !== file.size)
        differences.push(`${file.path}: size ${found.size}, expected ${file.size}`);
      if (found.sha256 !== file.sha256)
        differences.push(`${file.path}: sha256 ${found.sha256}, expected ${file.sha256}`);
    }
  }
  for (const file of params.actual) {
    if (!expected.has(file.path)) differences.push(`unexpected file ${file.path}`);
  }
  return differences;
}

/** Throws `data_expect_mismatch` listing every difference, when there is any. */
export function assertNoDifferences(params: { spec: DatasetSpec; differences: readonly string[] }): void {
  if (params.differences.length === 0) return;
  throw new DataError({
    code: "data_expect_mismatch",
    message: `${describeSpec(params.spec)} differs from what its spec expects:\n${params.differences.map((line) => `  - ${line}`).join("\n")}`,
    details: { source: describeSpec(params.spec), differences: [...params.differences] },
  });
}

/**
 * Puts a source's data files on disk and verifies them. Local folders are listed and hashed
 * (`directory` resolved against `baseDirectory`, default the working directory). Hub sources
 * must be pinned to a commit SHA; their files are downloaded once into the shared Hugging
 * Face cache (found by Python tools too) and verified against the Hub's hashes and the
 * spec's `expect`. Any difference from `expect` (missing, unexpected, resized or changed
 * file) fails with `data_expect_mismatch` listing all of them.
 */
export async function materializeSource(params: {
  spec: DatasetSpec;
  hub?: HubOverrides;
  baseDirectory?: string;
}): Promise<MaterializedSource> {
  const { spec } = params;
  let files: DataFile[];
  if (spec.kind === "local") {
    const directory = resolve(params.baseDirectory ?? process.cwd(), spec.directory);
    const selected = selectDataFiles({ paths: await listLocal(directory), ...selectionOf(spec) });
    files = await Promise.all(
      selected.map(async (path) => {
        const localPath = join(directory, ...path.split("/"));
        return { path, localPath, ...(await hashFile(localPath)) };
      }),
    );
  } else {
    if (!commitShaPattern.test(spec.revision)) {
      throw new DataError({
        code: "data_spec_unpinned",
        message: `dataset ${spec.repo} names revision "${spec.revision}", not a commit SHA; run \`posttrain data lock\` to pin it`,
      });
    }
    const repo = { type: "dataset" as const, name: spec.repo };
    const listing = await listRepoFiles({ ...params.hub, repo, revision: spec.revision });
    const selected = new Set(
      selectDataFiles({ paths: listing.map((file) => file.path), ...selectionOf(spec) }),
    );
    const expected = new Map((spec.expect?.files ?? []).map((file) => [file.path, file]));
    files = [];
    for (const file of listing) {
      if (!selected.has(file.path)) continue;
      const downloaded = await downloadRepoFile({
        ...params.hub,
        repo,
        revision: spec.revision,
        path: file.path,
        file,
        expectedSha256: expected.get(file.path)?.sha256 ?? null,
      }).catch((error: unknown) => {
        if (
          expected.has(file.path) &&
          typeof error === "object" &&
          error !== null &&
          (error as { code?: unknown }).code === "hub_hash_mismatch"
        ) {
          const wanted = expected.get(file.path)!;
          throw new DataError({
            code: "data_expect_mismatch",
            message: `${describeSpec(spec)} differs from what its spec expects:\n  - ${file.path}: content does not hash to ${wanted.sha256}`,
            cause: error,
            details: {
              source: describeSpec(spec),
              differences: [`${file.path}: content does not hash to ${wanted.sha256}`],
            },
          });
        }
        throw error;
      });
      files.push({
        path: file.path,
        localPath: downloaded.localPath,
        size: downloaded.size,
        sha256: downloaded.sha256,
      });
    }
  }
  if (files.length === 0) {
    throw new DataError({
      code: "data_no_files",
      message: `${describeSpec(spec)} has no data file for ${spec.files === undefined ? `split "${spec.split ?? "train"}"` : `globs ${JSON.stringify(spec.files)}`}`,
      details: { source: describeSpec(spec) },
    });
  }
  if (spec.expect !== undefined) {
    assertNoDifferences({ spec, differences: compareFiles({ expected: spec.expect.files, actual: files }) });
  }
  return { spec, files };
}

function selectionOf(spec: DatasetSpec) {
  return { config: spec.config, split: spec.split, files: spec.files };
}

/** Row count of each file of a materialized source, summed. */
export async function countSourceRows(
  source: MaterializedSource,
): Promise<{ rows: number; perFile: number[] }> {
  const perFile: number[] = [];
  for (const file of source.files) perFile.push(await countRows({ path: file.localPath }));
  return { rows: perFile.reduce((sum, rows) => sum + rows, 0), perFile };
}

/**
 * Locks a spec: resolves a branch or tag (e.g. `main`, `refs/convert/parquet`) to its commit
 * SHA, downloads and hashes the selected files, counts rows, and returns the spec pinned to
 * the SHA with `expect` filled in. A spec that already has `expect` is checked against it.
 */
export async function lockSpec(params: {
  spec: DatasetSpec;
  hub?: HubOverrides;
  baseDirectory?: string;
}): Promise<{
  spec: DatasetSpec;
  source: MaterializedSource;
}> {
  let spec = params.spec;
  if (spec.kind === "hub" && !commitShaPattern.test(spec.revision)) {
    const { sha } = await resolveRevision({
      ...params.hub,
      repo: { type: "dataset", name: spec.repo },
      revision: spec.revision,
    });
    spec = { ...spec, revision: sha };
  }
  const source = await materializeSource({ ...params, spec });
  const { rows } = await countSourceRows(source);
  if (spec.expect !== undefined && spec.expect.rows !== rows) {
    assertNoDifferences({ spec, differences: [`${rows} rows, expected ${spec.expect.rows}`] });
  }
  const locked: DatasetSpec = {
    ...spec,
    expect: { rows, files: source.files.map(({ path, size, sha256 }) => ({ path, size, sha256 })) },
  };
  return { spec: locked, source: { ...source, spec: locked } };
}
