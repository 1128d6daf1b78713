#!/usr/bin/env node
// Relocks every recipe that has a lock (recipes/<name>/recipe.lock.json and
// recipe.<variant>.lock.json), from the built packages. `pnpm version-packages` runs it right
// after `changeset version`: the lock records the @posttrain package versions, so a version
// bump and its lock land in the same commit.
//
// Unlike `posttrain lock` (which re-resolves every Hub branch), it keeps the stored lock's
// commit SHAs, and it refuses (exit 1, nothing written) when the model, tokenizer or data no
// longer match the stored lock: a version bump must not accept changed data silently (relock
// such a recipe deliberately with `posttrain lock`), and when the expected table may not be
// published (docs/recipe-format.md#claims). Prints one JSON line per lock.
//
//   node scripts/relock-recipes.mjs [--root <folder holding recipes/>]
//
// The recipes come from `<root>/recipes` (default: this checkout); @posttrain/recipe always
// comes from this checkout's build.
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { root: { type: "string" } } });
const checkout = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(values.root ?? checkout);
const recipeModule = join(checkout, "packages", "recipe", "dist", "index.js");
if (!existsSync(recipeModule)) {
  console.error(`[relock] ${recipeModule} is missing: build first (turbo run build)`);
  process.exit(1);
}
const { compareLocks, computeLock, loadRecipe, publishProblems, readLock, writeLock } = await import(
  pathToFileURL(recipeModule).href
);

/** Every lock of every recipe package: the package folder and the variant (null: the base lock). */
function findLocks() {
  const recipes = join(root, "recipes");
  const locks = [];
  for (const entry of readdirSync(recipes, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (!entry.isDirectory()) continue;
    for (const file of readdirSync(join(recipes, entry.name)).sort()) {
      const match = /^recipe(?:\.([a-z0-9-]+))?\.lock\.json$/.exec(file);
      if (match !== null) locks.push({ directory: join(recipes, entry.name), variant: match[1] ?? null });
    }
  }
  return locks;
}

let failed = false;
for (const { directory, variant } of findLocks()) {
  const loaded = await loadRecipe({ reference: directory, ...(variant === null ? {} : { variant }) });
  // A lock publishes the expected table: refuse one that may not be (too few seeds, a claim
  // reversed on a recorded seed), whether or not the lock itself changed.
  const problems = publishProblems({ recipe: loaded.recipe });
  if (problems.length > 0) {
    failed = true;
    console.error(
      `[relock] ${relative(root, directory)}${variant === null ? "" : ` (${variant})`}: the expected table may not be published:\n${problems
        .map((problem) => `  ${problem.path}: ${problem.message}`)
        .join("\n")}`,
    );
    continue;
  }
  const stored = await readLock({ loaded });
  const current = await computeLock({ loaded, previous: stored });
  const { blocking, notes } = compareLocks({ locked: stored, current });
  const name = `${relative(root, directory)}${variant === null ? "" : ` (${variant})`}`;
  if (blocking.length > 0) {
    failed = true;
    console.error(
      `[relock] ${name}: the model, tokenizer or data differ from the stored lock; not relocked (run \`posttrain lock\` deliberately):\n${blocking
        .map((difference) => `  ${difference.path}`)
        .join("\n")}`,
    );
    continue;
  }
  if (notes.length > 0) await writeLock({ loaded, lock: current });
  console.log(
    JSON.stringify({
      lock: relative(root, join(directory, `recipe${variant === null ? "" : `.${variant}`}.lock.json`)),
      written: notes.length > 0,
      changed: notes.map((difference) => difference.path),
    }),
  );
}
process.exit(failed ? 1 : 0);
