/**
 * Finding and loading a recipe: a recipe package folder (its built `dist/recipe.js`), a
 * module file, or an installed package name (`@posttrain-recipes/micro`) resolved from a
 * folder. The module exports the recipe as `recipe` (or default); it is validated again here,
 * so a hand-written object that skipped `defineRecipe` is checked too.
 */
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
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
      code: "recipe_not_found",
      message: `${asPath} has none of ${moduleCandidates.join(", ")} (build the recipe package first: tsc -b)`,
      details: { reference },
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
    throw new RecipeError({
      code: "recipe_not_found",
      message: `no recipe "${reference}": not a path, and no installed package "${name}" from ${from}`,
      cause: error,
      details: { reference },
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
      code: "recipe_not_found",
      message: `could not import ${modulePath}: ${(error as Error).message}`,
      cause: error,
      details: { modulePath },
    });
  }
  const exported = module["recipe"] ?? module["default"];
  if (exported === undefined) {
    throw new RecipeError({
      code: "recipe_not_found",
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
