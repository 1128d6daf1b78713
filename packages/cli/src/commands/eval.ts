/**
 * `posttrain eval`: run a pinned task or suite against a model and print a metrics table.
 *
 *   posttrain eval (--suite NAME | --task NAME) (--model DIR | --endpoint URL) [--limit N] [--samples N] [--json]
 *   posttrain eval --task NAME --responses FILE        (score pre-generated responses)
 *   posttrain eval --task NAME --model DIR --tools calculator,python [--tool-format tags|chat_template]
 *                                                      (accuracy without and with tools: two rows)
 *
 * Results go to `--output` (default `eval-results/<suite|task>`): results.json, per-task
 * predictions JSONL and OLMES-style files. HTTP responses are cached under
 * `<output>/response-cache` (or `--cache`), so an interrupted run resumes where it stopped.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createProgress, type GenerationBackend } from "@posttrain/core";
import { loadTokenizer } from "@posttrain/data";
import {
  type Comparison,
  compareWithExpected,
  createEmbeddedBackend,
  createEmbeddedToolBackend,
  createOpenAiBackend,
  defineTask,
  type EvalResults,
  EvaluationError,
  getSuite,
  getTask,
  listServedModels,
  readResponseRecords,
  runEval,
  scoreResponses,
} from "@posttrain/evals";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

interface EvalOptions {
  suite?: string;
  task?: string;
  model?: string;
  endpoint?: string;
  servedModel?: string;
  apiKey?: string;
  api?: string;
  tokenizer?: string;
  responses?: string;
  data?: string;
  limit?: string;
  samples?: string;
  output?: string;
  cache?: string;
  concurrency?: string;
  timeout?: string;
  retries?: string;
  seed?: string;
  threads?: string;
  expected?: string;
  json?: boolean;
  tools?: string;
  toolFormat?: string;
  maxToolCalls?: string;
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1)
    throw new UsageError(`${name} must be a positive integer, got ${value}`);
  return number;
}

function nonNegativeInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0)
    throw new UsageError(`${name} must be a non-negative integer, got ${value}`);
  return number;
}

/**
 * Builds the generation backend for `--model` (the engine, in-process, through
 * `createEmbeddedBackend` in @posttrain/evals) or `--endpoint` (OpenAI-compatible HTTP).
 */
export async function createBackend(
  options: EvalOptions,
  cacheDirectory: string,
): Promise<GenerationBackend> {
  if (options.model !== undefined) {
    const threads = positiveInteger("--threads", options.threads);
    return createEmbeddedBackend({
      modelDirectory: options.model,
      ...(threads === undefined ? {} : { threads }),
    });
  }
  const endpoint = options.endpoint as string;
  const apiKey = options.apiKey ?? process.env["OPENAI_API_KEY"];
  let servedModel = options.servedModel;
  if (servedModel === undefined) {
    const models = await listServedModels({ endpoint, ...(apiKey === undefined ? {} : { apiKey }) });
    if (models.length !== 1) {
      throw new UsageError(
        `${endpoint} serves ${models.length === 0 ? "no model" : `${models.length} models (${models.join(", ")})`}: name one with --served-model`,
      );
    }
    servedModel = models[0] as string;
  }
  const api = options.api ?? "auto";
  if (!["auto", "chat", "completions"].includes(api))
    throw new UsageError(`--api must be auto, chat or completions, got ${api}`);
  const tokenizer =
    options.tokenizer === undefined ? undefined : await loadTokenizer({ directory: options.tokenizer });
  const concurrency = positiveInteger("--concurrency", options.concurrency);
  const timeoutSeconds = positiveInteger("--timeout", options.timeout);
  const retries = nonNegativeInteger("--retries", options.retries);
  return createOpenAiBackend({
    endpoint,
    model: servedModel,
    cacheDirectory,
    api: api as "auto" | "chat" | "completions",
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(tokenizer === undefined ? {} : { tokenizer }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(timeoutSeconds === undefined ? {} : { timeoutMilliseconds: timeoutSeconds * 1000 }),
    ...(retries === undefined ? {} : { retries }),
  });
}

const format = (value: number) => (Number.isFinite(value) ? value.toFixed(4) : "n/a");

/** The human table: one row per task and metric, primary metric first. */
export function formatResultsTable(results: EvalResults): string {
  const rows: string[][] = [["task", "version", "metric", "value", "± s.e.", "95% CI", "n"]];
  for (const task of results.tasks) {
    const names = Object.keys(task.metrics).sort((a, b) =>
      a === task.task.primaryMetric ? -1 : b === task.task.primaryMetric ? 1 : a < b ? -1 : 1,
    );
    for (const name of names) {
      const estimate = task.metrics[name];
      if (estimate === undefined) continue;
      rows.push([
        task.task.name,
        task.task.version,
        name === task.task.primaryMetric ? `${name} *` : name,
        format(estimate.value),
        estimate.standardError === null ? "-" : format(estimate.standardError),
        estimate.confidenceInterval === undefined
          ? "-"
          : `[${format(estimate.confidenceInterval.lower)}, ${format(estimate.confidenceInterval.upper)}]`,
        String(estimate.count),
      ]);
    }
  }
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  const lines = rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  for (const task of results.tasks) {
    const use = task.toolUse;
    if (use === undefined) continue;
    lines.push(
      `tool use (${task.task.name}, ${use.format}: ${use.allow.join(", ")}): ${use.toolCallsPerRollout.toFixed(2)} calls/rollout, error rate ${use.toolErrorRate.toFixed(3)}, tool time share ${use.toolTimeShare.toFixed(3)}, ${use.rolloutsWithToolUse}/${use.rollouts} rollouts used a tool`,
    );
  }
  lines.push(
    `model: ${results.model.model}${results.suite === null ? "" : `   suite: ${results.suite.name} ${results.suite.version}`}   (* = primary)`,
  );
  return lines.join("\n");
}

function formatComparison(comparison: Comparison): string {
  return [
    `expected results: ${comparison.passed ? "PASS" : "FAIL"}`,
    ...comparison.rows.map(
      (row) =>
        `  ${row.passed ? "ok  " : "FAIL"} ${row.task}.${row.metric}: ${row.actual === null ? row.reason : format(row.actual)} (expected ${row.value} ± ${row.tolerance})`,
    ),
  ].join("\n");
}

async function readExpected(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read --expected ${path}: ${(error as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? value : (value as { expected?: unknown }).expected;
  } catch (error) {
    throw new UsageError(`--expected ${path} is not JSON: ${(error as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command("eval")
    .description(
      "evaluate a model on a pinned task or suite (OLMES settings), or score pre-generated responses",
    )
    .option("--suite <name>", "a registered suite (tulu3_dev, math, micro)")
    .option(
      "--task <name>",
      "a registered task (gsm8k, minerva_math, math500, ifeval, humaneval, micro_gsm, micro_gsm_sampled, micro_ifeval, micro_preference)",
    )
    .option(
      "--model <dir>",
      "a Hugging Face model folder, generated in-process by the engine (greedy/sampled as the task says)",
    )
    .option("--threads <n>", "intra-op threads for --model (default: all cores)")
    .option("--endpoint <url>", "an OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama)")
    .option("--served-model <name>", "the model id at --endpoint (default: the only one /v1/models lists)")
    .option("--api-key <key>", "bearer token for --endpoint (default: $OPENAI_API_KEY)")
    .option(
      "--api <api>",
      "auto | chat | completions (auto: completions when --tokenizer is given, else chat)",
    )
    .option(
      "--tokenizer <dir>",
      "render chat prompts locally with this tokenizer's chat template (byte-exact OLMES prompts)",
    )
    .option(
      "--responses <file>",
      "JSONL of pre-generated responses ({doc_id|native_id, response|responses}) to score",
    )
    .option(
      "--data <path>",
      "local data instead of the pinned Hub dataset: a file or a folder (e.g. ../shared/data/benchmarks)",
    )
    .option("--limit <n>", "only the first N items of each task")
    .option("--samples <n>", "samples per item (overrides the task's)")
    .option("--output <dir>", "results folder (default eval-results/<suite|task>)")
    .option("--cache <dir>", "response cache folder (default <output>/response-cache)")
    .option("--concurrency <n>", "HTTP requests in flight (default 8)")
    .option("--timeout <seconds>", "per-request timeout (default 600)")
    .option("--retries <n>", "retries per request (default 5)")
    .option("--seed <n>", "bootstrap seed (default 0)")
    .option(
      "--expected <file>",
      "expected-results table (JSON [{task, metric, value, tolerance}]): fail when outside",
    )
    .option("--json", "print the results as JSON")
    .option(
      "--tools <names>",
      "allow these tools (comma-separated: calculator, python) for --task with --model: reports the task without and with tools (a <task>+tools row)",
    )
    .option(
      "--tool-format <format>",
      "tags (open-instruct <name>…</name>, default) or chat_template (the model's own)",
    )
    .option("--max-tool-calls <n>", "tool calls per rollout (default 5)")
    .action(async (options: EvalOptions) => {
      if ((options.suite === undefined) === (options.task === undefined))
        throw new UsageError("give exactly one of --suite and --task");
      const limit = positiveInteger("--limit", options.limit);
      const samples = positiveInteger("--samples", options.samples);
      const seed = nonNegativeInteger("--seed", options.seed);
      const name = options.suite ?? (options.task as string);
      try {
        if (options.suite !== undefined) getSuite({ name: options.suite });
        else getTask({ name });
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const outputDirectory = options.output ?? join("eval-results", name);
      let results: EvalResults;
      if (options.responses !== undefined) {
        if (options.task === undefined) throw new UsageError("--responses scores one task: use --task");
        if (options.model !== undefined || options.endpoint !== undefined)
          throw new UsageError("--responses needs no --model or --endpoint");
        results = await scoreResponses({
          task: options.task,
          responses: await readResponseRecords({ path: options.responses }),
          model: options.responses,
          outputDirectory,
          ...(options.data === undefined ? {} : { dataPath: options.data }),
          ...(limit === undefined ? {} : { limit }),
          ...(seed === undefined ? {} : { seed }),
        });
      } else {
        if ((options.model === undefined) === (options.endpoint === undefined))
          throw new UsageError("give exactly one of --model and --endpoint (or --responses)");
        let task: string | ReturnType<typeof defineTask> = name;
        if (options.tools !== undefined) {
          if (options.task === undefined) throw new UsageError("--tools applies to one task: use --task");
          if (options.model === undefined)
            throw new UsageError("--tools needs --model (the embedded engine runs tool use)");
          const format = options.toolFormat ?? "tags";
          if (format !== "tags" && format !== "chat_template")
            throw new UsageError(`--tool-format must be tags or chat_template, got ${format}`);
          const maxToolCalls = positiveInteger("--max-tool-calls", options.maxToolCalls);
          try {
            task = defineTask({
              spec: {
                ...getTask({ name }),
                tools: {
                  allow: options.tools
                    .split(",")
                    .map((tool) => tool.trim())
                    .filter((tool) => tool !== ""),
                  format,
                  ...(maxToolCalls === undefined ? {} : { maxToolCalls }),
                },
              },
            });
          } catch (error) {
            throw new UsageError((error as Error).message);
          }
        }
        const threads = positiveInteger("--threads", options.threads);
        const modelDirectory = options.model;
        const backend = await createBackend(
          options,
          options.cache ?? join(outputDirectory, "response-cache"),
        );
        let progress: ReturnType<typeof createProgress> | undefined;
        let progressTask = "";
        try {
          results = await runEval({
            ...(options.suite === undefined ? { task } : { suite: options.suite }),
            backend,
            ...(modelDirectory === undefined
              ? {}
              : {
                  toolBackend: () =>
                    createEmbeddedToolBackend({
                      modelDirectory,
                      ...(threads === undefined ? {} : { threads }),
                    }),
                }),
            outputDirectory,
            ...(options.data === undefined ? {} : { dataPath: options.data }),
            ...(limit === undefined ? {} : { limit }),
            ...(samples === undefined ? {} : { samples }),
            ...(seed === undefined ? {} : { seed }),
            onProgress: (update) => {
              if (update.task !== progressTask) {
                progress?.stop();
                progressTask = update.task;
                progress = createProgress({
                  label: `eval ${update.task}`,
                  total: update.totalRequests,
                  unit: "prompts",
                });
              }
              progress?.update({ completed: update.completedRequests });
            },
          });
        } finally {
          progress?.stop();
          await backend.close?.();
        }
      }
      const comparison =
        options.expected === undefined
          ? undefined
          : compareWithExpected({ results, expected: await readExpected(options.expected) });
      output({
        json: options.json,
        value: comparison === undefined ? results : { ...results, comparison },
        human: () =>
          [
            formatResultsTable(results),
            ...(comparison === undefined ? [] : [formatComparison(comparison)]),
            `results: ${outputDirectory}`,
          ].join("\n"),
      });
      if (comparison !== undefined && !comparison.passed) {
        throw new EvaluationError({
          code: "eval_expected_results_mismatch",
          message: `${comparison.rows.filter((row) => !row.passed).length} expected result(s) not met`,
          details: { rows: comparison.rows },
        });
      }
    });
}
