/**
 * Comparing eval results from a run done elsewhere with a recipe's expected table (seed rows:
 * the band derived from the recorded seeds; tolerance rows: value ± tolerance, an override):
 * `posttrain reproduce <recipe> --results DIR` (the main entry) and `posttrain compare-results
 * <recipe> --results DIR`, kept as an alias so existing scripts keep working. Both read
 * `results.json` (one stage: `--after`, default the last stage with expected rows) or one
 * `<stage>/results.json` per stage — or one `seed-<N>/` folder of either per seed (then the
 * mean over seeds is judged, and the recipe's claims get a paired test) — print the comparison
 * (`--json`: as JSON) and exit 1 when a number is not reproduced.
 */
import { PosttrainError } from "@posttrain/core";
import {
  compareResultsWithRecipe,
  formatResultsComparison,
  readResultsDirectory,
  readSeedResultsDirectories,
} from "@posttrain/export";
import type { LoadedRecipe } from "@posttrain/recipe";
import { loadRecipe } from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";

/**
 * Thrown after the comparison was printed when a number is not reproduced, so the command exits
 * 1 (`results_not_reproduced`). The bin sets the exit code from `main`'s return value, which
 * overrides a `process.exitCode` set inside an action.
 */
export class NotReproducedError extends PosttrainError {
  constructor(params: { message: string; details?: Record<string, unknown> }) {
    super({ code: "results_not_reproduced", ...params });
    this.name = "NotReproducedError";
  }
}

/** Reads `results`, compares it with the recipe's expected table and prints it; throws {@link NotReproducedError} when not reproduced. */
export async function printResultsComparison(params: {
  loaded: LoadedRecipe;
  results: string;
  after?: string;
  json?: boolean;
}): Promise<void> {
  const { recipe } = params.loaded;
  const where = {
    directory: params.results,
    recipe,
    ...(params.after === undefined ? {} : { after: params.after }),
  };
  // A folder of `seed-<N>/` results (a `--seeds` run elsewhere) is judged on the mean over seeds.
  const results = (await readSeedResultsDirectories(where)) ?? (await readResultsDirectory(where));
  const comparison = compareResultsWithRecipe({ recipe, results });
  output({ json: params.json, value: comparison, human: () => formatResultsComparison(comparison) });
  if (!comparison.passed)
    throw new NotReproducedError({
      message: `${params.loaded.recipe.name}: the results in ${params.results} do not reproduce the expected table`,
      details: {
        failed: comparison.rows.filter((row) => !row.passed).map((row) => `${row.after}/${row.task}`),
      },
    });
}

export function register(program: Command): void {
  program
    .command("compare-results")
    .description(
      "alias of `reproduce <recipe> --results DIR`: compare eval results from a run done elsewhere with a recipe's expected table; exit 1 when a number is not reproduced",
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
        await printResultsComparison({
          loaded,
          results: options.results,
          ...(options.after === undefined ? {} : { after: options.after }),
          ...(options.json === undefined ? {} : { json: options.json }),
        });
      },
    );
}
