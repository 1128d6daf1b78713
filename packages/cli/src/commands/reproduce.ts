import { join } from "node:path";
import { interruptSignal } from "@posttrain/core";
import { loadRecipe, runRecipe } from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";

export function register(program: Command): void {
  program
    .command("reproduce")
    .description(
      "run an installed recipe package (e.g. @posttrain-recipes/micro@0.1.0) from its pinned lock and compare with its expected table",
    )
    .argument(
      "<package>",
      "an installed recipe package name (an @version suffix is checked against the installed one)",
    )
    .option("--smoke", "run the smoke variant")
    .option("--runs <directory>", "where run folders go", "runs")
    .option("--json", "print summary.json")
    .action(async (reference: string, options: { smoke?: boolean; runs: string; json?: boolean }) => {
      const loaded = await loadRecipe({ reference, ...(options.smoke === true ? { variant: "smoke" } : {}) });
      const requested = /^(@?[^@]+)@([^@/]+)$/.exec(reference)?.[2];
      if (requested !== undefined && loaded.packageVersion !== requested) {
        const { UsageError } = await import("../program.js");
        throw new UsageError(`${reference}: the installed version is ${loaded.packageVersion ?? "unknown"}`);
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
                    `  ${stage.name} ${row.task} ${row.metric}: ${row.actual ?? "missing"} vs ${row.value} ± ${row.tolerance} ${row.passed ? "pass" : "FAIL"}`,
                ),
              ),
              summary.expected === null
                ? "expected table: not checked"
                : `expected table: ${summary.expected.passed ? "PASS" : "FAIL"}`,
              `report: ${join(summary.runDirectory, "report.html")}`,
            ].join("\n"),
        });
        if (summary.expected !== null && !summary.expected.passed) process.exitCode = 1;
      } finally {
        interrupt.dispose();
      }
    });
}
