import {
  computeLock,
  loadRecipe,
  lockPathOf,
  publishProblems,
  RecipeError,
  readLock,
  writeLock,
} from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";

export function register(program: Command): void {
  program
    .command("lock")
    .description(
      "resolve a recipe's model, tokenizer and datasets to commit SHAs, hash every file and write recipe.lock.json beside it; refuses an expected table that may not be published (seed rows with < 5 seeds, a claim reversed on a recorded seed)",
    )
    .argument("<recipe>", "recipe package folder, module file or installed package name")
    .option("--variant <name>", "lock a variant (e.g. smoke) into recipe.<variant>.lock.json")
    .option("--json", "print the lock as JSON")
    .action(async (reference: string, options: { variant?: string; json?: boolean }) => {
      const loaded = await loadRecipe({
        reference,
        ...(options.variant === undefined ? {} : { variant: options.variant }),
      });
      // A lock publishes the expected table: refuse before hashing any data when it may not be.
      const problems = publishProblems({ recipe: loaded.recipe });
      if (problems.length > 0)
        throw new RecipeError({
          code: "recipe_not_publishable",
          message: `recipe ${loaded.recipe.name}: the expected table may not be published:\n${problems
            .map((problem) => `  ${problem.path}: ${problem.message}`)
            .join("\n")}`,
          details: { problems },
        });
      const previous = await readLock({ loaded });
      const lock = await computeLock({
        loaded,
        previous: null,
        onDataset: (key) => process.stderr.write(`locking ${key}\n`),
      });
      const path = await writeLock({ loaded, lock });
      output({
        json: options.json,
        value: { path: lockPathOf({ loaded }), replaced: previous !== null, lock },
        human: () =>
          [
            `wrote ${path}`,
            ...Object.entries(lock.datasets).map(
              ([key, spec]) =>
                `  ${key.padEnd(24)} ${spec.kind === "hub" ? `${spec.repo}@${spec.revision.slice(0, 12)}` : spec.directory} ${spec.expect?.rows ?? "?"} rows`,
            ),
          ].join("\n"),
      });
    });
}
