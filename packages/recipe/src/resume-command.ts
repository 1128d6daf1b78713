/**
 * The one command that continues an interrupted or failed run, as `posttrain run` prints it on
 * an interrupt and the report shows it: the recipe reference, its variant (`--smoke` for the
 * smoke variant), the run id, the seed options the run was started with, and the runs folder.
 * Every argument is quoted for a POSIX shell when it needs to be.
 */
import { basename, dirname } from "node:path";
import type { RunSummary } from "./summary.js";

/** `text` as one POSIX shell word: unchanged when it is plain, else single-quoted. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * `posttrain run <reference> [--smoke | --variant <name>] --resume <run-id> [--seeds <list> |
 * --seed <n>] [--runs <folder>]`; `--runs` is left out for the default `runs`.
 */
export function resumeCommand(params: {
  reference: string;
  variant: string | null;
  runId: string;
  runsDirectory: string;
  /** `--seeds` as given (a multi-seed run). */
  seeds?: string;
  /** `--seed` as given (a run with an overridden root seed). */
  seed?: string | number;
}): string {
  const variant =
    params.variant === null
      ? []
      : params.variant === "smoke"
        ? ["--smoke"]
        : ["--variant", shellQuote(params.variant)];
  return [
    "posttrain run",
    shellQuote(params.reference),
    ...variant,
    "--resume",
    shellQuote(params.runId),
    ...(params.seeds === undefined ? [] : ["--seeds", shellQuote(params.seeds)]),
    ...(params.seed === undefined ? [] : ["--seed", shellQuote(String(params.seed))]),
    ...(params.runsDirectory === "runs" ? [] : ["--runs", shellQuote(params.runsDirectory)]),
  ].join(" ");
}

/**
 * The resume command of a run from its summary: the recipe's package name (else its name), the
 * runs folder two levels above the run folder (`<runs>/<recipe>-<version>[-<variant>]/<run-id>`),
 * and `--seed` when the run's root seed was overridden.
 */
export function resumeCommandOf(
  summary: Pick<RunSummary, "recipe" | "runDirectory"> & {
    seed?: RunSummary["seed"];
  },
): string {
  return resumeCommand({
    reference: summary.recipe.packageName ?? summary.recipe.name,
    variant: summary.recipe.variant,
    runId: basename(summary.runDirectory),
    runsDirectory: dirname(dirname(summary.runDirectory)),
    ...(summary.seed?.overridden === true ? { seed: summary.seed.root } : {}),
  });
}
