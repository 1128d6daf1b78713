import { compareResultsWithRecipe, formatResultsComparison, readResultsDirectory } from "@posttrain/export";
import { loadRecipe } from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";

export function register(program: Command): void {
  program
    .command("compare-results")
    .description(
      "compare eval results from a run done elsewhere (results.json, or <stage>/results.json) with a recipe's expected table; exit 1 when a number is not reproduced",
    )
    .argument("<recipe>", "recipe package folder, module file or installed package name")
    .requiredOption("--results <directory>", "folder with results.json or one <stage>/results.json per stage")
    .option(
      "--after <stage>",
      "the stage a single results.json belongs to (default: the last stage with expected rows)",
    )
    .option("--variant <name>", "a recipe variant")
    .option("--json", "print the comparison as JSON")
    .action(
      async (
        reference: string,
        options: { results: string; after?: string; variant?: string; json?: boolean },
      ) => {
        const loaded = await loadRecipe({
          reference,
          ...(options.variant === undefined ? {} : { variant: options.variant }),
        });
        const results = await readResultsDirectory({
          directory: options.results,
          recipe: loaded.recipe,
          ...(options.after === undefined ? {} : { after: options.after }),
        });
        const comparison = compareResultsWithRecipe({ recipe: loaded.recipe, results });
        output({ json: options.json, value: comparison, human: () => formatResultsComparison(comparison) });
        if (!comparison.passed) process.exitCode = 1;
      },
    );
}
