/**
 * Where the micro recipe's datasets are, as a path relative to this package's folder (the
 * base of every local path in a recipe, and what `recipe.lock.json` records).
 *
 * - `datasets` — beside the package. In the repository `recipes/micro/datasets` is a committed
 *   symbolic link to `../../datasets/micro` (where `generate.ts` writes); in a packed or
 *   published package it is a real copy (`prepack` materializes it, see
 *   `package-datasets.ts`). Both layouts lock to the same path, so the lock committed in the
 *   repository is the lock that ships.
 * - `../../datasets/micro` — the repository layout without the link (a copy of the package
 *   folder that sits in a checkout-shaped tree but has no `datasets` beside it).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The folder beside the package that holds (or links to) the datasets. */
export const packagedDataDirectory = "datasets";
/** The datasets' home in the repository, relative to `recipes/micro`. */
export const repositoryDataDirectory = "../../datasets/micro";

/** This package's folder: `src/` and `dist/` both sit one level below it. */
export const microPackageDirectory = fileURLToPath(new URL("..", import.meta.url));

/**
 * The datasets' path relative to `packageDirectory` (default: this package's folder):
 * `datasets` when it holds the `rlvr` config (a link or a copy), else `../../datasets/micro`.
 */
export function resolveMicroDataDirectory(params: { packageDirectory?: string } = {}): string {
  const packageDirectory = params.packageDirectory ?? microPackageDirectory;
  return existsSync(join(packageDirectory, packagedDataDirectory, "rlvr"))
    ? packagedDataDirectory
    : repositoryDataDirectory;
}
