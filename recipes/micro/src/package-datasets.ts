/**
 * Making the published package self-contained. In the repository `recipes/micro/datasets` is
 * a committed symbolic link to `../../datasets/micro`; npm and pnpm leave links out of a
 * tarball, so the package's `prepack` replaces the link by a real copy of the data and
 * `postpack` puts the link back:
 *
 *   node dist/package-datasets.js materialize   # prepack
 *   node dist/package-datasets.js link          # postpack
 *
 * The recipe names its data as `datasets` (relative to the package) in both layouts, so the
 * committed `recipe.lock.json` is valid for the installed package as it is. A pack that
 * fails between the two steps leaves the copy in place (`git status` shows a type change);
 * running `link` again restores the link, and refuses when the copy no longer matches the
 * repository's data.
 */
import { cp, lstat, mkdir, readdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hashFile, PosttrainError } from "@posttrain/core";
import { microPackageDirectory, packagedDataDirectory, repositoryDataDirectory } from "./data-location.js";

export type MicroPackagingErrorCode =
  /** The repository's datasets folder (the link's target) does not exist. */
  | "micro_datasets_missing"
  /** The copy beside the package differs from the repository's data (it is not replaced by the link). */
  | "micro_datasets_diverged"
  /** `datasets` beside the package is neither a link, a folder nor absent. */
  | "micro_datasets_unexpected";

export class MicroPackagingError extends PosttrainError {
  override readonly code: MicroPackagingErrorCode;
  constructor(params: {
    code: MicroPackagingErrorCode;
    message: string;
    cause?: unknown;
    details?: Record<string, unknown>;
  }) {
    super(params);
    this.code = params.code;
    this.name = "MicroPackagingError";
  }
}

/** What is at `<package>/datasets` now. */
export type DatasetsState = "link" | "copy" | "absent";

async function stateOf(path: string): Promise<DatasetsState> {
  try {
    const stats = await lstat(path);
    if (stats.isSymbolicLink()) return "link";
    if (stats.isDirectory()) return "copy";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw error;
  }
  throw new MicroPackagingError({
    code: "micro_datasets_unexpected",
    message: `${path} is neither a symbolic link nor a folder`,
    details: { path },
  });
}

async function requireDirectory(path: string): Promise<void> {
  const exists = await lstat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!exists) {
    throw new MicroPackagingError({
      code: "micro_datasets_missing",
      message: `${path} does not exist (generate the data first: pnpm --filter @posttrain-recipes/micro generate)`,
      details: { path },
    });
  }
}

/** Every file under `directory` (relative paths, sorted) with its sha256. */
async function listing(directory: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(directory, path), (await hashFile(path)).sha256);
  }
  return new Map([...files.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * prepack: makes `<package>/datasets` a real folder holding a copy of the repository's data
 * (from the link's target, or `../../datasets/micro` when there is no link). A copy that is
 * already there is refreshed from the repository's data when that exists, else kept.
 */
export async function materializeDatasets(params: { packageDirectory?: string } = {}): Promise<{
  path: string;
  before: DatasetsState;
  files: number;
}> {
  const packageDirectory = params.packageDirectory ?? microPackageDirectory;
  const path = join(packageDirectory, packagedDataDirectory);
  const before = await stateOf(path);
  const source =
    before === "link"
      ? resolve(packageDirectory, await readlink(path))
      : join(packageDirectory, repositoryDataDirectory);
  if (before === "copy") {
    const sourceExists = await lstat(source).then(
      () => true,
      () => false,
    );
    if (!sourceExists) return { path, before, files: (await listing(path)).size };
  }
  await requireDirectory(source);
  // Copy beside, then swap, so the folder is never half-written under its final name.
  const staging = `${path}.packing-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await cp(source, staging, { recursive: true, dereference: true });
  await rm(path, { recursive: true, force: true });
  await rename(staging, path);
  return { path, before, files: (await listing(path)).size };
}

/**
 * postpack: puts the link `<package>/datasets` → `../../datasets/micro` back. A copy is removed
 * only when every file matches the repository's data (else `micro_datasets_diverged`, and the
 * copy stays).
 */
export async function linkDatasets(params: { packageDirectory?: string } = {}): Promise<{
  path: string;
  before: DatasetsState;
}> {
  const packageDirectory = params.packageDirectory ?? microPackageDirectory;
  const path = join(packageDirectory, packagedDataDirectory);
  const target = join(packageDirectory, repositoryDataDirectory);
  const before = await stateOf(path);
  if (before === "link") return { path, before };
  await requireDirectory(target);
  if (before === "copy") {
    const [copy, original] = await Promise.all([listing(path), listing(target)]);
    const differing = [...new Set([...copy.keys(), ...original.keys()])].filter(
      (file) => copy.get(file) !== original.get(file),
    );
    if (differing.length > 0) {
      throw new MicroPackagingError({
        code: "micro_datasets_diverged",
        message: `${path} differs from ${target} in ${differing.join(", ")}; left in place (move the changes to ${repositoryDataDirectory}, then rerun)`,
        details: { path, differing },
      });
    }
    await rm(path, { recursive: true });
  }
  await symlink(repositoryDataDirectory, path, "dir");
  return { path, before };
}

async function main(command: string | undefined): Promise<void> {
  if (command === "materialize") {
    const { path, before, files } = await materializeDatasets();
    process.stderr.write(`[micro] ${path}: ${before} → copy (${files} files)\n`);
  } else if (command === "link") {
    const { path, before } = await linkDatasets();
    process.stderr.write(`[micro] ${path}: ${before} → link to ${repositoryDataDirectory}\n`);
  } else {
    process.stderr.write("usage: node dist/package-datasets.js materialize|link\n");
    process.exitCode = 2;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv[2]).catch((error: unknown) => {
    process.stderr.write(
      `${PosttrainError.isInstance(error) ? `${error.code}: ` : ""}${(error as Error).message}\n`,
    );
    process.exitCode = 1;
  });
}
