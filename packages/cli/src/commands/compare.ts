/**
 * `posttrain compare <run> <run>…`: runs side by side — every evaluated number with its 95%
 * interval, item count and expected-row verdict, each run's status and expected-table verdict,
 * multi-seed runs as their mean and each seed, and how each run's code and machine differ from
 * the first run's (provenance). `--json` prints the comparison object.
 */
import { compareRuns, formatRunComparison } from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";

export function register(program: Command): void {
  program
    .command("compare")
    .description(
      "put runs (and the seeds of multi-seed runs) side by side: evals with CIs and item counts, verdicts, provenance differences",
    )
    .argument("<runs...>", "run folders (single or multi-seed); the first is the reference for provenance")
    .option("--json", "print the comparison as JSON")
    .action(async (runs: string[], options: { json?: boolean }) => {
      const comparison = await compareRuns({ directories: runs });
      output({ json: options.json, value: comparison, human: () => formatRunComparison(comparison) });
    });
}
