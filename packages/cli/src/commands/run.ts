import { join } from "node:path";
import { interruptSignal } from "@posttrain/core";
import { loadRecipe, runRecipe } from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";

export function register(program: Command): void {
  program
    .command("run")
    .description(
      "run a recipe (stages in order, evals after each, summary.json + report.html/md); refuses data that no longer matches recipe.lock.json",
    )
    .argument("<recipe>", "recipe package folder, module file or installed package name")
    .option("--variant <name>", "run a variant (e.g. smoke)")
    .option("--smoke", "the same as --variant smoke")
    .option("--relock", "accept changed data: recompute and rewrite the lock before running")
    .option(
      "--resume [run-id]",
      "continue the latest (or the named) run: skip finished stages, resume from checkpoints",
    )
    .option("--runs <directory>", "where run folders go", "runs")
    .option("--json", "print summary.json")
    .action(
      async (
        reference: string,
        options: {
          variant?: string;
          smoke?: boolean;
          relock?: boolean;
          resume?: boolean | string;
          runs: string;
          json?: boolean;
        },
      ) => {
        const variant = options.smoke === true ? "smoke" : options.variant;
        const loaded = await loadRecipe({ reference, ...(variant === undefined ? {} : { variant }) });
        const interrupt = interruptSignal();
        try {
          const summary = await runRecipe({
            loaded,
            runsDirectory: options.runs,
            signal: interrupt.signal,
            ...(options.relock === true ? { relock: true } : {}),
            ...(options.resume === undefined ? {} : { resume: true }),
            ...(typeof options.resume === "string" ? { runId: options.resume } : {}),
          });
          output({
            json: options.json,
            value: summary,
            human: () =>
              [
                `${summary.status}: ${summary.runDirectory}`,
                ...summary.stages.map(
                  (stage) =>
                    `  ${stage.name.padEnd(10)} ${stage.status.padEnd(11)} ${stage.wallSeconds === null ? "" : `${stage.wallSeconds.toFixed(1)} s`}`,
                ),
                summary.expected === null
                  ? "expected table: not checked"
                  : `expected table: ${summary.expected.passed ? "PASS" : "FAIL"} (${summary.expected.rows - summary.expected.failed}/${summary.expected.rows})`,
                `report: ${join(summary.runDirectory, "report.html")}`,
              ].join("\n"),
          });
          if (summary.expected !== null && !summary.expected.passed) process.exitCode = 1;
        } finally {
          interrupt.dispose();
        }
      },
    );
}
