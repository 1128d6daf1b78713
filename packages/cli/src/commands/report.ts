/**
 * `posttrain report <run>`: regenerates report.md and report.html from a run folder (a single
 * run, or a multi-seed run: its aggregate report and every seed's), e.g. after an upgrade that
 * changed the report, or on a run folder copied from another machine.
 */
import { regenerateReports } from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";

export function register(program: Command): void {
  program
    .command("report")
    .description(
      "regenerate report.md and report.html from a run folder (single or multi-seed); the verdict comes first",
    )
    .argument("<run>", "a run folder (runs/<recipe>-<version>/<run-id>), or a multi-seed run folder")
    .option("--json", "print the files written as JSON")
    .action(async (run: string, options: { json?: boolean }) => {
      const files = await regenerateReports({ directory: run });
      output({
        json: options.json,
        value: { files },
        human: () => [`wrote ${files.length} files:`, ...files.map((file) => `  ${file}`)].join("\n"),
      });
    });
}
