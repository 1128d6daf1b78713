import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { interruptSignal, parseWithSchema } from "@posttrain/core";
import {
  describeEnvironment,
  describeProvenance,
  differencesFromRecipe,
  formatProvenanceDifferences,
  type LoadedRecipe,
  loadRecipe,
  type RecipeLock,
  recipeLockSchema,
  runRecipe,
  runSeeds,
} from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";
import { NotReproducedError, printResultsComparison } from "./compare-results.js";
import { formatRunSummary, formatSeedsSummary, parseRootSeed, parseSeedsOption } from "./run.js";

/**
 * Prints (stderr) how this machine and code differ from what the recipe recorded: the lock's
 * package versions and the machines that recorded its expected rows. Reported, never fatal.
 */
export function reportProvenanceDifferences(params: {
  loaded: LoadedRecipe;
  lock: RecipeLock;
  seed: number;
}): void {
  const differences = differencesFromRecipe({
    recipe: params.loaded.recipe,
    lockPackages: params.lock.packages,
    provenance: describeProvenance({ seed: params.seed }),
    environment: describeEnvironment(),
  });
  process.stderr.write(
    differences.length === 0
      ? "provenance: the same package and onnxruntime-node versions as the lock, on a machine the expected rows were recorded on (or none recorded)\n"
      : `provenance differences from what the recipe recorded (reported, not fatal; numbers may move within the band):\n${formatProvenanceDifferences(
          differences,
        )
          .map((line) => `  ${line}`)
          .join("\n")}\n`,
  );
}

interface ReproduceOptions {
  smoke?: boolean;
  runs: string;
  json?: boolean;
  results?: string;
  after?: string;
  seed?: string;
  seeds?: string;
  resume?: boolean | string;
}

export function register(program: Command): void {
  program
    .command("reproduce")
    .description(
      "run an installed recipe package (e.g. @posttrain-recipes/micro@0.1.0) from its pinned lock and compare with its expected table; with --results, compare the eval results of a run done elsewhere instead of running",
    )
    .argument(
      "<package>",
      "an installed recipe package name (an @version suffix is checked against the installed one), or a recipe folder",
    )
    .option("--smoke", "run the smoke variant")
    .option("--seed <n>", "one root seed for every seed of the recipe (see `posttrain run --seed`)")
    .option(
      "--seeds <list>",
      "run several root seeds (1,2,3, or 5 = seeds 1..5) and judge the table on their mean (aggregate summary + report)",
    )
    .option(
      "--resume [run-id]",
      "continue the latest (or the named) run; with --seeds, the latest multi-seed run",
    )
    .option("--runs <directory>", "where run folders go", "runs")
    .option(
      "--results <directory>",
      "do not run: compare results.json (or one <stage>/results.json per stage) from a run done elsewhere",
    )
    .option(
      "--after <stage>",
      "with --results: the stage a single results.json belongs to (default: the last stage with expected rows)",
    )
    .option("--json", "print summary.json (with --results: the comparison)")
    .action(async (reference: string, options: ReproduceOptions) => {
      const { UsageError } = await import("../usage-error.js");
      if (options.after !== undefined && options.results === undefined)
        throw new UsageError("--after needs --results");
      if (options.results !== undefined && (options.seed !== undefined || options.seeds !== undefined))
        throw new UsageError("--results compares results already made: --seed/--seeds do not apply");
      const seed = await parseRootSeed(options.seed);
      const seeds = await parseSeedsOption({ seeds: options.seeds, seed: options.seed });
      const loaded = await loadRecipe({ reference, ...(options.smoke === true ? { variant: "smoke" } : {}) });
      const requested = /^(@?[^@]+)@([^@/]+)$/.exec(reference)?.[2];
      if (requested !== undefined && loaded.packageVersion !== requested) {
        throw new UsageError(`${reference}: the installed version is ${loaded.packageVersion ?? "unknown"}`);
      }
      if (options.results !== undefined) {
        await printResultsComparison({
          loaded,
          results: options.results,
          ...(options.after === undefined ? {} : { after: options.after }),
          ...(options.json === undefined ? {} : { json: options.json }),
        });
        return;
      }
      const interrupt = interruptSignal();
      const resume = {
        ...(options.resume === undefined ? {} : { resume: true }),
        ...(typeof options.resume === "string" ? { runId: options.resume } : {}),
      };
      try {
        if (seeds !== undefined) {
          const aggregate = await runSeeds({
            loaded,
            seeds,
            runsDirectory: options.runs,
            signal: interrupt.signal,
            ...resume,
          });
          output({ json: options.json, value: aggregate, human: () => formatSeedsSummary(aggregate) });
          const first = aggregate.runs[0];
          if (first !== undefined)
            reportProvenanceDifferences({ loaded, lock: await lockOf(first.runDirectory), seed: first.seed });
          if (aggregate.expected !== null && !aggregate.expected.passed)
            throw new NotReproducedError({
              message: `${aggregate.runDirectory}: the mean of seeds ${aggregate.seeds.join(",")} does not reproduce the expected table`,
            });
          return;
        }
        const summary = await runRecipe({
          loaded,
          runsDirectory: options.runs,
          signal: interrupt.signal,
          ...(seed === undefined ? {} : { seed }),
          ...resume,
        });
        output({ json: options.json, value: summary, human: () => formatRunSummary(summary) });
        reportProvenanceDifferences({ loaded, lock: summary.lock, seed: summary.seed.root });
        if (summary.expected !== null && !summary.expected.passed)
          throw new NotReproducedError({
            message: `${summary.runDirectory}: the run does not reproduce the expected table`,
          });
      } finally {
        interrupt.dispose();
      }
    });
}

/** The lock a run used (its recipe.lock.json copy), validated. */
async function lockOf(runDirectory: string): Promise<RecipeLock> {
  const path = join(runDirectory, "recipe.lock.json");
  return parseWithSchema({
    schema: recipeLockSchema,
    value: JSON.parse(await readFile(path, "utf8")),
    label: path,
  });
}
