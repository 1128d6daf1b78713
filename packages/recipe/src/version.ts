/**
 * One version: a recipe's version is its npm package's version. A recipe module reads it with
 * {@link packageVersionOf} (`version: packageVersionOf({ moduleUrl: import.meta.url })`), so a
 * changeset bump of package.json is the recipe's bump too; {@link loadRecipe} refuses a recipe
 * whose `version` differs from its package.json (`recipe_version_mismatch`).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { RecipeError } from "./errors.js";

const packageJsonSchema = z.looseObject({ name: z.string().optional(), version: z.string().optional() });

/** The nearest package.json at or above `directory`, or null. */
export function findPackageDirectory(directory: string): string | null {
  let current = directory;
  for (;;) {
    if (existsSync(join(current, "package.json"))) return current;
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

/** name and version of the package.json in `directory` (validated). */
export function readPackageJson(params: { directory: string }): {
  name?: string | undefined;
  version?: string | undefined;
} {
  const path = join(params.directory, "package.json");
  return parseWithSchema({
    schema: packageJsonSchema,
    value: JSON.parse(readFileSync(path, "utf8")),
    label: path,
  });
}

/** The version of the package that holds the module at `moduleUrl` (pass `import.meta.url`). */
export function packageVersionOf(params: { moduleUrl: string }): string {
  const start = dirname(fileURLToPath(params.moduleUrl));
  const directory = findPackageDirectory(start);
  const version = directory === null ? undefined : readPackageJson({ directory }).version;
  if (version === undefined)
    throw new RecipeError({
      code: "recipe_version_mismatch",
      message: `no package.json with a version at or above ${start}`,
      details: { moduleUrl: params.moduleUrl },
    });
  return version;
}
