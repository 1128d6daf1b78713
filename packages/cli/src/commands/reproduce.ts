import { join } from "node:path";
import { interruptSignal } from "@posttrain/core";
import { loadRecipe, runRecipe } from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";
import { NotReproducedError, printResultsComparison } from "./compare-results.js";

interface ReproduceOptions {
  smoke?: boolean;
  runs: string;
  json?: boolean;
  results?: string;
  after?: string;
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
      const { UsageError } = await import("../program.js");
      if (options.after !== undefined && options.results === undefined)
        throw new UsageError("--after needs --results");
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
      try {
        const summary = await runRecipe({ loaded, runsDirectory: options.runs, signal: interrupt.signal });
        output({
          json: options.json,
          value: summary,
          human: () =>
            [
              `${summary.status}: ${summary.runDirectory}`,
              ...summary.stages.flatMap((stage) =>
                (stage.comparison?.rows ?? []).map(
                  (row) =>
                    `  ${stage.name} ${row.task} ${row.metric}: ${row.passed ? "pass" : "FAIL"} — ${row.explanation}`,
                ),
              ),
              summary.expected === null
                ? "expected table: not checked"
                : `expected table: ${summary.expected.passed ? "PASS" : "FAIL"}`,
              `report: ${join(summary.runDirectory, "report.html")}`,
            ].join("\n"),
        });
        if (summary.expected !== null && !summary.expected.passed)
          throw new NotReproducedError({
            message: `${summary.runDirectory}: the run does not reproduce the expected table`,
          });
      } finally {
        interrupt.dispose();
      }
    });
}
