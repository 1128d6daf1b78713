/**
 * Finding and loading a recipe: a recipe package folder (its built `dist/recipe.js`), a
 * module file, or an installed package name (`@posttrain-recipes/micro`) resolved from a
 * folder. The module exports the recipe as `recipe` (or default); it is validated again here,
 * so a hand-written object that skipped `defineRecipe` is checked too.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { RecipeError } from "./errors.js";
import { applyVariant, parseRecipe, type Recipe } from "./schema.js";
import { findPackageDirectory, readPackageJson } from "./version.js";
import { findWorkspacePackage } from "./workspace.js";

export interface LoadedRecipe {
  recipe: Recipe;
  /** The recipe package's root (holds package.json and `recipe.lock.json`); local paths are relative to it. */
  packageDirectory: string;
  /** The module the recipe came from. */
  modulePath: string;
  /** package.json name and version (null when the module is not in a package). */
  packageName: string | null;
  packageVersion: string | null;
  /** The applied variant, if any. */
  variant: string | null;
}

/** The lockfile's path for a loaded recipe (variants share the base recipe's folder but not its lock). */
export function lockPathOf(params: { loaded: LoadedRecipe }): string {
  const suffix = params.loaded.variant === null ? "" : `.${params.loaded.variant}`;
  return join(params.loaded.packageDirectory, `recipe${suffix}.lock.json`);
}

/** Candidate module files inside a recipe package folder, in order of preference. */
const moduleCandidates = ["dist/recipe.js", "recipe.js", "dist/index.js"];

/** The edit distance between two names (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1)
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * Names in the nearest existing folder above `path` close to the missing part (edit distance
 * at most a third of its length, or a prefix either way), closest first; at most three, shown
 * as paths the user can paste.
 */
export function closeRecipePaths(params: { path: string; reference: string }): string[] {
  let missing = params.path;
  let parent = dirname(missing);
  while (!existsSync(parent) && parent !== dirname(parent)) {
    missing = parent;
    parent = dirname(parent);
  }
  if (!existsSync(parent) || !statSync(parent).isDirectory()) return [];
  const wanted = basename(missing).toLowerCase();
  const bound = Math.max(1, Math.floor(wanted.length / 3));
  // When only the last part is wrong, suggest paths written like the user's reference.
  const referenceParent = relative(parent, dirname(params.path)) === "" ? dirname(params.reference) : null;
  return readdirSync(parent, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() || entry.name.endsWith(".js"))
    .map((entry) => ({ name: entry.name, distance: editDistance(wanted, entry.name.toLowerCase()) }))
    .filter(
      ({ name, distance }) =>
        distance <= bound ||
        (wanted.length >= 3 &&
          (name.toLowerCase().startsWith(wanted) || wanted.startsWith(name.toLowerCase()))),
    )
    .sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name))
    .slice(0, 3)
    .map(({ name }) => (referenceParent !== null ? join(referenceParent, name) : join(parent, name)));
}

/** Whether a reference is written as a path (not a package name). */
const looksLikePath = (reference: string) =>
  reference.startsWith(".") ||
  reference.startsWith("/") ||
  (!reference.startsWith("@") && reference.includes("/"));

function resolveModulePath(params: { reference: string; from: string }): string {
  const { reference, from } = params;
  const asPath = resolve(from, reference);
  if (existsSync(asPath)) {
    if (!statSync(asPath).isDirectory()) return asPath;
    for (const candidate of moduleCandidates) {
      const path = join(asPath, candidate);
      if (existsSync(path)) return path;
    }
    throw new RecipeError({
      code: "recipe_not_built",
      message: `${asPath} has none of ${moduleCandidates.join(", ")}: build the recipe package first (\`npx tsc -b ${reference}\`, or \`pnpm --filter <package> build\`)`,
      details: { reference, directory: asPath },
    });
  }
  if (looksLikePath(reference)) {
    const suggestions = closeRecipePaths({ path: asPath, reference });
    throw new RecipeError({
      code: "recipe_path_not_found",
      message: `no recipe at ${asPath}${suggestions.length === 0 ? "" : ` — did you mean ${suggestions.join(", ")}?`}`,
      details: { reference, path: asPath, suggestions },
    });
  }
  const name = reference.replace(/^(@?[^@]+)@[^@/]+$/, "$1");
  // Inside a checkout, a workspace recipe package answers to its name (see workspace.ts).
  const workspaceFolder = findWorkspacePackage({ name, from });
  if (workspaceFolder !== null) return resolveModulePath({ reference: workspaceFolder, from });
  try {
    const require = createRequire(join(from, "package.json"));
    const packageDirectory = dirname(require.resolve(`${name}/package.json`));
    return resolveModulePath({ reference: packageDirectory, from });
  } catch (error) {
    if (RecipeError.isInstance(error)) throw error;
    const local = closeRecipePaths({
      path: resolve(from, "recipes", name.replace(/^@[^/]+\//, "")),
      reference,
    });
    throw new RecipeError({
      code: "recipe_not_found",
      message: `no recipe "${reference}": not a path, and no installed package "${name}" from ${from}${
        local.length === 0 ? "" : ` — did you mean ${local.join(", ")}?`
      }`,
      cause: error,
      details: { reference, suggestions: local },
    });
  }
}

/** Loads and validates a recipe; with `variant`, applies that variant (e.g. `smoke`). */
export async function loadRecipe(params: {
  reference: string;
  /** Folder paths and package names resolve from (default: the working directory). */
  from?: string;
  variant?: string;
}): Promise<LoadedRecipe> {
  const from = params.from ?? process.cwd();
  const modulePath = resolveModulePath({ reference: params.reference, from });
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (error) {
    throw new RecipeError({
      code: "recipe_import_failed",
      message: `could not import ${modulePath}: ${(error as Error).message}`,
      cause: error,
      details: { modulePath },
    });
  }
  const exported = module["recipe"] ?? module["default"];
  if (exported === undefined) {
    throw new RecipeError({
      code: "recipe_no_export",
      message: `${modulePath} exports no \`recipe\` (or default export)`,
      details: { modulePath },
    });
  }
  let recipe = parseRecipe({ value: exported, label: `recipe (${modulePath})` });
  if (params.variant !== undefined) recipe = applyVariant({ recipe, variant: params.variant });
  const packageDirectory = findPackageDirectory(dirname(modulePath)) ?? dirname(modulePath);
  const packageJson = existsSync(join(packageDirectory, "package.json"))
    ? readPackageJson({ directory: packageDirectory })
    : {};
  // One version: the recipe's is its package's (a package without a version is not published).
  if (packageJson.version !== undefined && packageJson.version !== recipe.version)
    throw new RecipeError({
      code: "recipe_version_mismatch",
      message: `recipe ${recipe.name} says version ${recipe.version} but ${join(packageDirectory, "package.json")} says ${packageJson.version}: read it with packageVersionOf({ moduleUrl: import.meta.url })`,
      details: { recipeVersion: recipe.version, packageVersion: packageJson.version, packageDirectory },
    });
  return {
    recipe,
    packageDirectory,
    modulePath,
    packageName: packageJson.name ?? null,
    packageVersion: packageJson.version ?? null,
    variant: params.variant ?? null,
  };
}
