import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createProgress, PosttrainError, writeFileAtomic } from "@posttrain/core";
import { loadTokenizer } from "@posttrain/data";
import {
  formatProbeReport,
  getVerifier,
  type ProbeReport,
  runProbes,
  type VerifyRow,
  type VerifySummary,
  verifierRegistry,
  verify,
} from "@posttrain/verifiers";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

/** A rows file that is not valid JSONL (`invalid_rows_file`), naming the line. */
export class InvalidRowsFileError extends PosttrainError {
  constructor(params: { path: string; line: number; reason: string }) {
    super({
      code: "invalid_rows_file",
      message: `${params.path}:${params.line}: ${params.reason}`,
      details: { path: params.path, line: params.line },
    });
    this.name = "InvalidRowsFileError";
  }
}

interface VerifyOptions {
  verifier?: string;
  input?: string;
  output?: string;
  workers?: string;
  timeout?: string;
  remap?: string[];
  stripReasoning: boolean;
  probe?: boolean;
  probes?: boolean;
  tokenizer?: string;
  json?: boolean;
}

/**
 * The policy's tokenizer (`--tokenizer <directory>`) as a token counter for the length
 * verifiers: every token of the whole response, no special tokens added (open-instruct counts
 * the generated ids).
 */
async function tokenCounter(directory: string | undefined): Promise<((text: string) => number) | undefined> {
  if (directory === undefined) return undefined;
  if (!existsSync(directory)) throw new UsageError(`--tokenizer ${directory} does not exist`);
  // Only encode() is used: a fixed built-in chat template spares folders without their own.
  const tokenizer = await loadTokenizer({ directory, chatTemplate: "chatml" });
  return (text: string) => tokenizer.encode(text, { addSpecialTokens: false }).length;
}

function nonNegativeInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0)
    throw new UsageError(`${name} must be a non-negative integer, got ${value}`);
  return number;
}

/** Reads JSONL rows; blank lines are skipped, anything else must be a JSON object. */
async function readRows(path: string): Promise<VerifyRow[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read --input ${path}: ${(error as Error).message}`);
  }
  const rows: VerifyRow[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InvalidRowsFileError({
        path,
        line: index + 1,
        reason: `not JSON: ${(error as Error).message}`,
      });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new InvalidRowsFileError({ path, line: index + 1, reason: "a row must be a JSON object" });
    }
    rows.push(value as VerifyRow);
  }
  return rows;
}

function humanSummary(summary: VerifySummary, outputPath: string | undefined): string {
  return [
    `verifier   ${summary.verifier} ${summary.version}`,
    `rows       ${summary.count}`,
    `mean score ${summary.meanScore.toFixed(4)}`,
    `errors     ${summary.errors}`,
    `timeouts   ${summary.timeouts} (bound ${summary.timeoutMilliseconds} ms, ${summary.workers} workers)`,
    ...(outputPath === undefined ? [] : [`written    ${outputPath}`]),
  ].join("\n");
}

async function probe(options: VerifyOptions): Promise<void> {
  const verifiers = options.verifier === undefined ? undefined : [options.verifier];
  const workers = nonNegativeInteger("--workers", options.workers);
  const timeoutMilliseconds = nonNegativeInteger("--timeout", options.timeout);
  const countTokens = await tokenCounter(options.tokenizer);
  const report: ProbeReport = await runProbes({
    ...(countTokens === undefined ? {} : { countTokens }),
    ...(verifiers === undefined ? {} : { verifiers }),
    ...(workers === undefined ? {} : { workers }),
    ...(timeoutMilliseconds === undefined ? {} : { timeoutMilliseconds }),
  });
  output({ json: options.json, value: report, human: () => formatProbeReport({ report }) });
  if (report.failed > 0) {
    throw new PosttrainError({
      code: "probes_failed",
      message: `${report.failed} verifier probe(s) failed`,
      details: { failed: report.failed },
    });
  }
}

async function run(options: VerifyOptions): Promise<void> {
  if (options.probe === true || options.probes === true) return probe(options);
  if (options.verifier === undefined) {
    throw new UsageError(`--verifier is required (one of: ${[...verifierRegistry.keys()].join(", ")})`);
  }
  if (options.input === undefined) throw new UsageError("--input rows.jsonl is required");
  const verifier = getVerifier({
    name: options.verifier,
    ...(options.remap === undefined ? {} : { remap: options.remap }),
  });
  const countTokens = await tokenCounter(options.tokenizer);
  if (verifier.countsResponseTokens === true && countTokens === undefined)
    throw new UsageError(
      `--tokenizer <directory> is required for ${verifier.name}: it counts the whole response in tokens of the policy's tokenizer (no word-count fallback)`,
    );
  const workers = nonNegativeInteger("--workers", options.workers);
  const timeoutMilliseconds = nonNegativeInteger("--timeout", options.timeout);
  if (timeoutMilliseconds === 0) throw new UsageError("--timeout must be positive");
  const rows = await readRows(options.input);
  const progress = createProgress({ label: `verify ${options.verifier}`, total: rows.length, unit: "rows" });
  let result: Awaited<ReturnType<typeof verify>>;
  try {
    result = await verify({
      verifier: options.verifier,
      rows,
      stripReasoning: options.stripReasoning,
      ...(countTokens === undefined ? {} : { countTokens }),
      ...(options.remap === undefined ? {} : { remap: options.remap }),
      ...(workers === undefined ? {} : { workers }),
      ...(timeoutMilliseconds === undefined ? {} : { timeoutMilliseconds }),
      onProgress: ({ done }) => progress.update({ completed: done }),
    });
  } finally {
    progress.stop();
  }
  const lines = result.rows.map((row) => `${JSON.stringify(row)}\n`).join("");
  if (options.output !== undefined) {
    await writeFileAtomic({ path: options.output, content: lines });
    output({
      json: options.json,
      value: result.summary,
      human: () => humanSummary(result.summary, options.output),
    });
    return;
  }
  if (options.json) {
    output({ json: true, value: { summary: result.summary, rows: result.rows }, human: () => "" });
    return;
  }
  process.stdout.write(lines);
  process.stderr.write(`${humanSummary(result.summary, undefined)}\n`);
}

export function register(program: Command): void {
  program
    .command("verify")
    .description(
      "score responses with a verifier (rows.jsonl: {response, ground_truth, ...}), or run the probe suite",
    )
    .option("--verifier <name>", "registered verifier name (gsm8k, math, strict_math, ifeval, code, ...)")
    .option("--input <path>", "JSONL rows with response and ground_truth")
    .option("--output <path>", "write the rows with score and details here (default: stdout)")
    .option("--workers <n>", "worker threads (0 = in-process, no hard time bound)")
    .option("--timeout <ms>", "hard time bound per check in milliseconds (default 5000)")
    .option("--remap <alias=name...>", "verifier name remaps, e.g. gsm8k_v2=gsm8k")
    .option("--no-strip-reasoning", "judge the <think>…</think> block too")
    .option("--probe", "run the reward-hacking probe suite (all verifiers, or --verifier)")
    .option("--probes", "the same as --probe (the code sandbox's attack probes H1–H9, E1–E8 included)")
    .option(
      "--tokenizer <directory>",
      "the policy's tokenizer folder, for max_length / up_to_max_length (required there; probes default to one token per UTF-8 byte)",
    )
    .option("--json", "print JSON")
    .action(async (options: VerifyOptions) => run(options));
}
