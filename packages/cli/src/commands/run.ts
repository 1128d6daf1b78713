import { join } from "node:path";
import { interruptExitCodes, interruptSignal } from "@posttrain/core";
import {
  assertRunId,
  loadRecipe,
  parseSeedList,
  type RunSummary,
  resumeCommand,
  runRecipe,
  runSeeds,
  type SeedsSummary,
} from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";

/** `--seed N`: a non-negative integer, or a UsageError (exit 2). */
export async function parseRootSeed(text: string | undefined): Promise<number | undefined> {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text.trim())) {
    const { UsageError } = await import("../usage-error.js");
    throw new UsageError(`--seed ${JSON.stringify(text)}: give a non-negative integer`);
  }
  return Number(text.trim());
}

/** `--seeds 1,2,3` or `--seeds 5`; a UsageError (exit 2) when malformed or combined with --seed. */
export async function parseSeedsOption(params: {
  seeds: string | undefined;
  seed: string | undefined;
}): Promise<number[] | undefined> {
  if (params.seeds === undefined) return undefined;
  const { UsageError } = await import("../usage-error.js");
  if (params.seed !== undefined) throw new UsageError("give --seed or --seeds, not both");
  try {
    return parseSeedList(params.seeds);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The human lines of a multi-seed run. */
export function formatSeedsSummary(summary: SeedsSummary): string {
  const seedCell = (value: number | null) => (value === null ? "  —  " : value.toFixed(3));
  return [
    `${summary.status}: ${summary.runDirectory} (seeds ${summary.seeds.join(", ")})`,
    ...summary.rows.map(
      (row) =>
        `  ${row.after.padEnd(8)} ${row.task.padEnd(14)} ${row.metric.padEnd(10)} ${summary.seeds
          .map((seed) => seedCell(row.perSeed[String(seed)] ?? null))
          .join(" ")}  mean ${seedCell(row.mean)} sd ${seedCell(row.standardDeviation)}${
          row.verdict === null ? "" : `  ${row.verdict.passed ? "pass" : "FAIL"}: ${row.verdict.explanation}`
        }`,
    ),
    ...summary.claims.map((claim) => `  claim "${claim.statement}": ${claim.status} — ${claim.explanation}`),
    summary.expected === null
      ? "expected table: not checked"
      : `expected table: ${summary.expected.passed ? "PASS" : "FAIL"} (${summary.expected.rows - summary.expected.failed}/${summary.expected.rows})`,
    `report: ${join(summary.runDirectory, "report.html")}`,
  ].join("\n");
}

/** The human lines of a one-seed run. */
export function formatRunSummary(summary: RunSummary): string {
  return [
    `${summary.status}: ${summary.runDirectory} (root seed ${summary.seed.root})`,
    ...summary.stages.map(
      (stage) =>
        `  ${stage.name.padEnd(10)} ${stage.status.padEnd(11)} ${stage.wallSeconds === null ? "" : `${stage.wallSeconds.toFixed(1)} s`}`,
    ),
    ...summary.stages.flatMap((stage) =>
      (stage.comparison?.rows ?? []).map(
        (row) =>
          `  ${stage.name} ${row.task} ${row.metric}: ${row.passed ? "pass" : "FAIL"} — ${row.explanation}`,
      ),
    ),
    ...summary.claims.map((claim) => `  claim "${claim.statement}": ${claim.status} — ${claim.explanation}`),
    summary.status === "interrupted"
      ? `expected table: not judged — the run was interrupted${
          summary.expected === null
            ? ""
            : ` (${summary.expected.rows - summary.expected.failed}/${summary.expected.rows} rows of the finished stages within their bands)`
        }`
      : summary.expected === null
        ? "expected table: not checked"
        : `expected table: ${summary.expected.passed ? "PASS" : "FAIL"} (${summary.expected.rows - summary.expected.failed}/${summary.expected.rows})`,
    `report: ${join(summary.runDirectory, "report.html")}`,
  ].join("\n");
}

/**
 * An interrupted run: says so on stderr with the exact command that continues it, and exits
 * 130 (SIGINT) or 143 (SIGTERM), 128 + the signal's number as shells do (130 when the run
 * stopped for another reason, e.g. a library caller's abort).
 */
function reportInterrupted(params: {
  received: keyof typeof interruptExitCodes | null;
  command: string;
}): void {
  process.stderr.write(
    `posttrain: interrupted${params.received === null ? "" : ` (${params.received})`}: finished stages and checkpoints are kept; resume with:\n  ${params.command}\n`,
  );
  process.exitCode = interruptExitCodes[params.received ?? "SIGINT"];
}

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
      "continue the latest (or the named) run: skip finished stages and reuse their evals, resume from checkpoints; a named run must exist. An interrupted run (Ctrl-C/SIGTERM) prints this command and exits 130 (SIGINT) or 143 (SIGTERM)",
    )
    .option(
      "--seed <n>",
      "one root seed for every seed of the recipe (model init, data order, sampling, evals), by named streams",
    )
    .option(
      "--seeds <list>",
      "run several root seeds in turn (1,2,3, or 5 = seeds 1..5) and write one aggregate summary + report; with --resume, continue the latest multi-seed run",
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
          seed?: string;
          seeds?: string;
        },
      ) => {
        const seed = await parseRootSeed(options.seed);
        const seeds = await parseSeedsOption({ seeds: options.seeds, seed: options.seed });
        if (typeof options.resume === "string") {
          try {
            assertRunId(options.resume);
          } catch (error) {
            const { UsageError } = await import("../usage-error.js");
            throw new UsageError(`--resume: ${(error as Error).message}`);
          }
        }
        const variant = options.smoke === true ? "smoke" : options.variant;
        const loaded = await loadRecipe({ reference, ...(variant === undefined ? {} : { variant }) });
        const interrupt = interruptSignal();
        try {
          if (seeds !== undefined) {
            const aggregate = await runSeeds({
              loaded,
              seeds,
              runsDirectory: options.runs,
              signal: interrupt.signal,
              ...(options.relock === true ? { relock: true } : {}),
              ...(options.resume === undefined ? {} : { resume: true }),
              ...(typeof options.resume === "string" ? { runId: options.resume } : {}),
            });
            output({ json: options.json, value: aggregate, human: () => formatSeedsSummary(aggregate) });
            if (interrupt.signal.aborted || aggregate.status === "interrupted")
              return reportInterrupted({
                received: interrupt.received(),
                command: resumeCommand({
                  reference,
                  variant: loaded.variant,
                  runId: aggregate.runId,
                  runsDirectory: options.runs,
                  seeds: options.seeds as string,
                }),
              });
            if (aggregate.expected !== null && !aggregate.expected.passed) process.exitCode = 1;
            return;
          }
          const summary = await runRecipe({
            ...(seed === undefined ? {} : { seed }),
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
            human: () => formatRunSummary(summary),
          });
          if (summary.status === "interrupted")
            return reportInterrupted({
              received: interrupt.received(),
              command: resumeCommand({
                reference,
                variant: loaded.variant,
                runId: summary.runId,
                runsDirectory: options.runs,
                ...(options.seed === undefined ? {} : { seed: options.seed }),
              }),
            });
          if (summary.expected !== null && !summary.expected.passed) process.exitCode = 1;
        } finally {
          interrupt.dispose();
        }
      },
    );
}
