/**
 * Running tasks: items → prompts → backend → stop-cut responses → scorer → metrics with
 * uncertainty → results (and files). `scoreResponses` does the same from pre-generated
 * responses. Everything is deterministic given the responses: the bootstrap is seeded.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type GenerationBackend,
  type GenerationBackendDescription,
  type GenerationPrompt,
  type GenerationRequest,
  writeFileAtomic,
  writeJsonAtomic,
} from "@posttrain/core";
import { z } from "zod";
import { type DatasetSource, loadTaskItems } from "./dataset.js";
import { EvaluationError } from "./errors.js";
import type { EvalItem } from "./items.js";
import { estimateMacroMetric, estimateMetric, type MetricEstimate } from "./metrics.js";
import { writeOlmesFiles } from "./olmes-files.js";
import { describePrompt, renderPrompt } from "./prompt.js";
import { getSuite, getTask } from "./registry.js";
import { cutAtStop, type ItemScore, scoreItem, scorePreferenceItem } from "./scoring.js";
import { type GenerationSpec, type TaskSpec, taskHash } from "./task-spec.js";
import { generateWithTools, type ToolGenerationBackend, type ToolUseReport } from "./tool-eval.js";

/** The results of one task. */
export interface TaskResult {
  task: {
    name: string;
    version: string;
    olmes: TaskSpec["olmes"];
    /** sha256 of the task spec's canonical JSON. */
    hash: string;
    primaryMetric: string;
  };
  dataset: DatasetSource;
  generation: GenerationSpec;
  /** Items scored (after `limit`). */
  count: number;
  limit: number | null;
  metrics: Record<string, MetricEstimate>;
  /** The primary metric's value. */
  primaryScore: number;
  /** Per-group metrics (MATH subjects), when the items have groups. */
  groups?: Record<string, Record<string, MetricEstimate>>;
  /** Completions cut by the token limit. */
  truncatedResponses: number;
  /** The with-tools row of a task that allows tools (`<name>+tools`): how tools were used. */
  toolUse?: ToolUseReport;
}

/** A whole run: model, suite, tasks. */
export interface EvalResults {
  schemaVersion: 1;
  model: GenerationBackendDescription;
  suite: { name: string; version: string } | null;
  /** Seed of every bootstrap interval. */
  seed: number;
  tasks: TaskResult[];
}

/** One line of `<task>-predictions.jsonl`. */
export interface PredictionRow {
  doc_id: number;
  native_id: string;
  prompt: string;
  label: unknown;
  responses: string[];
  extracted: Array<string | null>;
  /** Item-level metric values (mean over the item's units). */
  metrics: Record<string, number>;
  samples: Array<{ score: number; metrics: Record<string, number>; details: Record<string, unknown> }>;
}

export interface RunEvalParams {
  /** A task name or spec; exactly one of `task` and `suite`. */
  task?: string | TaskSpec;
  suite?: string;
  backend: GenerationBackend;
  /** At most this many items per task (the first ones, in dataset order). */
  limit?: number;
  /** Samples per item, overriding the task's. */
  samples?: number;
  /** Writes results.json, predictions and OLMES-style files here when given. */
  outputDirectory?: string;
  /** Local data override (file or folder) for every task. */
  dataPath?: string;
  /** Base folder for relative local dataset folders (default: the working directory). */
  baseDirectory?: string;
  /** Bootstrap seed (default 0) and resamples (default 1,000). */
  seed?: number;
  bootstrapResamples?: number;
  signal?: AbortSignal;
  onProgress?: (progress: { task: string; completedRequests: number; totalRequests: number }) => void;
  /**
   * Multi-turn generation for tasks that allow tools (created once, when the first such task
   * runs). Without it, such a task fails with `eval_tools_unsupported`.
   */
  toolBackend?: () => Promise<ToolGenerationBackend>;
}

const mean = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;

async function mapLimited<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** The task specs a run covers. */
export function resolveTasks(params: { task?: string | TaskSpec; suite?: string }): {
  tasks: TaskSpec[];
  suite: { name: string; version: string } | null;
} {
  if ((params.task === undefined) === (params.suite === undefined)) {
    throw new EvaluationError({
      code: "eval_invalid_argument",
      message: "give exactly one of task and suite",
    });
  }
  if (params.suite !== undefined) {
    const suite = getSuite({ name: params.suite });
    return {
      tasks: suite.tasks.map((name) => getTask({ name })),
      suite: { name: suite.name, version: suite.version },
    };
  }
  const task = typeof params.task === "string" ? getTask({ name: params.task }) : (params.task as TaskSpec);
  return { tasks: [task], suite: null };
}

/** Generation requests of a task's items. */
export function buildRequests(params: {
  task: TaskSpec;
  items: readonly EvalItem[];
  samples?: number;
}): GenerationRequest[] {
  const { task } = params;
  const samples = params.samples ?? task.generation.samples;
  return params.items.map((item) => ({
    prompt: renderPrompt({ prompt: task.prompt, item }),
    sampling: {
      temperature: task.generation.temperature,
      ...(task.generation.topP === undefined ? {} : { topP: task.generation.topP }),
      maxNewTokens: task.generation.maxNewTokens,
      stop: task.generation.stop,
      seed: task.generation.seed,
    },
    samples,
  }));
}

/** Scores one task's responses (`responses[i]` = the samples of item i) into a result and predictions. */
export async function scoreTask(params: {
  task: TaskSpec;
  items: readonly EvalItem[];
  prompts: readonly GenerationPrompt[];
  responses: ReadonlyArray<readonly string[]>;
  source: DatasetSource;
  limit: number | null;
  samples: number;
  truncatedResponses?: number;
  seed?: number;
  bootstrapResamples?: number;
  /** Item scores computed elsewhere (preference tasks, from log-likelihoods); else scored from `responses`. */
  scores?: readonly ItemScore[];
}): Promise<{ result: TaskResult; predictions: PredictionRow[] }> {
  const { task, items } = params;
  const seed = params.seed ?? 0;
  const scores: readonly ItemScore[] =
    params.scores ??
    (await mapLimited(items, 4, (item, index) =>
      scoreItem({ scoring: task.scoring, item, responses: params.responses[index] ?? [] }),
    ));
  const metricNames = [...new Set(scores.flatMap((score) => Object.keys(score.values)))].sort();
  const metrics: Record<string, MetricEstimate> = {};
  const macro = task.scoring.kind === "minerva_math" && task.scoring.macroOverSubjects;
  const hasGroups = items.some((item) => item.group !== undefined);
  const groupsOf = (name: string) => {
    const groups = new Map<string, number[]>();
    scores.forEach((score, index) => {
      const group = items[index]?.group ?? "(none)";
      const list = groups.get(group) ?? [];
      list.push(...(score.values[name] ?? []));
      groups.set(group, list);
    });
    return groups;
  };
  for (const name of metricNames) {
    const options = {
      seed,
      ...(params.bootstrapResamples === undefined ? {} : { resamples: params.bootstrapResamples }),
    };
    metrics[name] = macro
      ? estimateMacroMetric({ groups: groupsOf(name), ...options })
      : estimateMetric({ values: scores.flatMap((score) => score.values[name] ?? []), ...options });
  }
  let groups: Record<string, Record<string, MetricEstimate>> | undefined;
  if (hasGroups) {
    groups = {};
    for (const name of metricNames) {
      for (const [group, values] of groupsOf(name)) {
        groups[group] ??= {};
        (groups[group] as Record<string, MetricEstimate>)[name] = estimateMetric({
          values,
          seed,
          resamples: params.bootstrapResamples ?? 1000,
        });
      }
    }
  }
  const primary = metrics[task.primaryMetric];
  const predictions: PredictionRow[] = items.map((item, index) => {
    const score = scores[index] as ItemScore;
    return {
      doc_id: item.index,
      native_id: item.nativeId,
      prompt: describePrompt({ prompt: params.prompts[index] as GenerationPrompt }),
      label: item.label,
      responses: score.samples.map((sample) => sample.response),
      extracted: score.samples.map((sample) => sample.extracted),
      metrics: Object.fromEntries(Object.entries(score.values).map(([name, values]) => [name, mean(values)])),
      samples: score.samples.map((sample) => ({
        score: sample.score,
        metrics: sample.metrics,
        details: sample.details,
      })),
    };
  });
  return {
    result: {
      task: {
        name: task.name,
        version: task.version,
        olmes: task.olmes,
        hash: taskHash({ spec: task }),
        primaryMetric: task.primaryMetric,
      },
      dataset: params.source,
      generation: { ...task.generation, samples: params.samples },
      count: items.length,
      limit: params.limit,
      metrics,
      primaryScore: primary?.value ?? Number.NaN,
      ...(groups === undefined ? {} : { groups }),
      truncatedResponses: params.truncatedResponses ?? 0,
    },
    predictions,
  };
}

/** Writes results.json, `<task>-predictions.jsonl` per task, and the OLMES-style files. */
export async function writeResults(params: {
  outputDirectory: string;
  results: EvalResults;
  predictions: ReadonlyArray<readonly PredictionRow[]>;
}): Promise<void> {
  const { outputDirectory, results } = params;
  for (const [index, task] of results.tasks.entries()) {
    const rows = params.predictions[index] ?? [];
    await writeFileAtomic({
      path: join(outputDirectory, `${task.task.name}-predictions.jsonl`),
      content: rows.map((row) => `${JSON.stringify(row)}\n`).join(""),
    });
  }
  await writeOlmesFiles({ outputDirectory, results, predictions: params.predictions });
  await writeJsonAtomic({ path: join(outputDirectory, "results.json"), value: results });
}

/**
 * Runs a task or a suite with a backend. Returns the results (and writes them when
 * `outputDirectory` is given). Resumes for free when the backend caches responses.
 */
export async function runEval(params: RunEvalParams): Promise<EvalResults> {
  const { tasks, suite } = resolveTasks(params);
  const scoredTasks = tasks.filter((task) => task.scoring.kind === "preference").map((task) => task.name);
  const scoreContinuations = params.backend.scoreContinuations?.bind(params.backend);
  if (scoredTasks.length > 0 && scoreContinuations === undefined) {
    // Before any generation: a suite should not spend an hour and then fail on its last task.
    throw new EvaluationError({
      code: "eval_backend_cannot_score",
      message: `${scoredTasks.join(", ")} compare${scoredTasks.length === 1 ? "s" : ""} the log-likelihoods of two replies, and this backend (${params.backend.describe().kind}) cannot score text it did not generate: evaluate with --model (the embedded engine), or run the other tasks one by one with --task`,
      details: { tasks: scoredTasks },
    });
  }
  const seed = params.seed ?? 0;
  const taskResults: TaskResult[] = [];
  const allPredictions: PredictionRow[][] = [];
  let toolBackend: ToolGenerationBackend | undefined;
  for (const task of tasks) {
    const { items, source } = await loadTaskItems({
      task,
      ...(params.dataPath === undefined ? {} : { dataPath: params.dataPath }),
      ...(params.limit === undefined ? {} : { limit: params.limit }),
      ...(params.baseDirectory === undefined ? {} : { baseDirectory: params.baseDirectory }),
    });
    // A preference task without a scorer was refused above, before any generation.
    if (task.scoring.kind === "preference" && scoreContinuations !== undefined) {
      const { result, predictions } = await runPreferenceTask({
        params,
        scoreContinuations,
        task,
        items,
        source,
        seed,
      });
      taskResults.push(result);
      allPredictions.push(predictions);
      continue;
    }
    const samples = params.samples ?? task.generation.samples;
    const requests = buildRequests({ task, items, samples });
    const completions = await params.backend.generate({
      requests,
      ...(params.signal === undefined ? {} : { signal: params.signal }),
      onProgress: (progress) =>
        params.onProgress?.({
          task: task.name,
          completedRequests: progress.completedRequests,
          totalRequests: progress.totalRequests,
        }),
    });
    if (completions.length !== requests.length || completions.some((list) => list.length !== samples)) {
      throw new EvaluationError({
        code: "eval_backend_mismatch",
        message: `backend returned ${completions.length} completion lists for ${requests.length} requests (expected ${samples} samples each)`,
      });
    }
    const responses = completions.map((list) =>
      list.map((completion) => cutAtStop({ text: completion.text, stop: task.generation.stop })),
    );
    const truncatedResponses = completions
      .flat()
      .filter((completion) => completion.finishReason === "length").length;
    const { result, predictions } = await scoreTask({
      task,
      items,
      prompts: requests.map((request) => request.prompt),
      responses,
      source,
      limit: params.limit ?? null,
      samples,
      truncatedResponses,
      seed,
      ...(params.bootstrapResamples === undefined ? {} : { bootstrapResamples: params.bootstrapResamples }),
    });
    taskResults.push(result);
    allPredictions.push(predictions);
    if (task.tools !== undefined) {
      if (params.toolBackend === undefined)
        throw new EvaluationError({
          code: "eval_tools_unsupported",
          message: `task ${task.name} allows tools (${task.tools.allow.join(", ")}): only the embedded backend (--model) runs tool use`,
        });
      toolBackend ??= await params.toolBackend();
      const withTools = await generateWithTools({
        task,
        prompts: requests.map((request) => request.prompt),
        samples,
        backend: toolBackend,
        ...(params.signal === undefined ? {} : { signal: params.signal }),
      });
      const scored = await scoreTask({
        task,
        items,
        prompts: requests.map((request) => request.prompt),
        responses: withTools.responses,
        source,
        limit: params.limit ?? null,
        samples,
        truncatedResponses: withTools.truncatedResponses,
        seed,
        ...(params.bootstrapResamples === undefined ? {} : { bootstrapResamples: params.bootstrapResamples }),
      });
      taskResults.push({
        ...scored.result,
        task: { ...scored.result.task, name: `${task.name}+tools` },
        toolUse: withTools.report,
      });
      allPredictions.push(scored.predictions);
    }
  }
  const results: EvalResults = {
    schemaVersion: 1,
    model: params.backend.describe(),
    suite,
    seed,
    tasks: taskResults,
  };
  if (params.outputDirectory !== undefined) {
    await writeResults({ outputDirectory: params.outputDirectory, results, predictions: allPredictions });
  }
  return results;
}

/**
 * A `preference` task: each item's chosen and rejected replies scored by the backend's
 * log-likelihood (no generation), then pooled like any task (item-level bootstrap).
 */
async function runPreferenceTask(context: {
  params: RunEvalParams;
  scoreContinuations: NonNullable<GenerationBackend["scoreContinuations"]>;
  task: TaskSpec;
  items: readonly EvalItem[];
  source: DatasetSource;
  seed: number;
}): Promise<{ result: TaskResult; predictions: PredictionRow[] }> {
  const { params, task, items } = context;
  const prompts: GenerationPrompt[] = items.map((item) => ({ kind: "chat", messages: item.messages ?? [] }));
  const requests = items.flatMap((item, index) => {
    const label = item.label as { chosen: string; rejected: string };
    return [
      { prompt: prompts[index]!, continuation: { kind: "assistant" as const, content: label.chosen } },
      { prompt: prompts[index]!, continuation: { kind: "assistant" as const, content: label.rejected } },
    ];
  });
  const scored = await context.scoreContinuations({
    requests,
    ...(params.signal === undefined ? {} : { signal: params.signal }),
  });
  if (scored.length !== requests.length) {
    throw new EvaluationError({
      code: "eval_backend_mismatch",
      message: `backend returned ${scored.length} scores for ${requests.length} continuations`,
    });
  }
  params.onProgress?.({ task: task.name, completedRequests: items.length, totalRequests: items.length });
  const scores = items.map((item, index) =>
    scorePreferenceItem({ item, chosen: scored[2 * index]!, rejected: scored[2 * index + 1]! }),
  );
  return scoreTask({
    task,
    items,
    prompts,
    responses: scores.map((score) => score.samples.map((sample) => sample.response)),
    source: context.source,
    limit: params.limit ?? null,
    samples: 1,
    seed: context.seed,
    scores,
    ...(params.bootstrapResamples === undefined ? {} : { bootstrapResamples: params.bootstrapResamples }),
  });
}

/** One pre-generated response record (JSONL line of a `--responses` file). */
export const responseRecordSchema = z
  .looseObject({
    doc_id: z.number().int().nonnegative().optional(),
    native_id: z.union([z.string(), z.number()]).optional(),
    response: z.string().optional(),
    responses: z.array(z.string()).min(1).optional(),
  })
  .refine((record) => (record.response === undefined) !== (record.responses === undefined), {
    message: "give exactly one of response and responses",
  });
export type ResponseRecord = z.infer<typeof responseRecordSchema>;

/** Reads a `--responses` JSONL file. */
export async function readResponseRecords(params: { path: string }): Promise<ResponseRecord[]> {
  const text = await readFile(params.path, "utf8");
  const records: ResponseRecord[] = [];
  text.split("\n").forEach((line, lineIndex) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new EvaluationError({
        code: "eval_responses_invalid",
        message: `${params.path}:${lineIndex + 1} is not JSON`,
        cause: error,
      });
    }
    const parsed = responseRecordSchema.safeParse(value);
    if (!parsed.success) {
      throw new EvaluationError({
        code: "eval_responses_invalid",
        message: `${params.path}:${lineIndex + 1}: ${parsed.error.issues.map((issue) => `${issue.path.join(".") || "(record)"}: ${issue.message}`).join("; ")}`,
      });
    }
    records.push(parsed.data);
  });
  return records;
}

/**
 * Scores pre-generated responses for one task. Records match items by `doc_id`, else by
 * `native_id`, else by position; every item (after `limit`) needs exactly one record.
 */
export async function scoreResponses(params: {
  task: string | TaskSpec;
  responses: readonly ResponseRecord[];
  dataPath?: string;
  limit?: number;
  baseDirectory?: string;
  outputDirectory?: string;
  /** Recorded as the model (e.g. the responses file). */
  model?: string;
  seed?: number;
  bootstrapResamples?: number;
}): Promise<EvalResults> {
  const task = typeof params.task === "string" ? getTask({ name: params.task }) : params.task;
  if (task.scoring.kind === "preference") {
    throw new EvaluationError({
      code: "eval_invalid_argument",
      message: `task ${task.name} is scored from log-likelihoods, not responses: evaluate a model with --model instead of --responses`,
    });
  }
  const { items, source } = await loadTaskItems({
    task,
    ...(params.dataPath === undefined ? {} : { dataPath: params.dataPath }),
    ...(params.limit === undefined ? {} : { limit: params.limit }),
    ...(params.baseDirectory === undefined ? {} : { baseDirectory: params.baseDirectory }),
  });
  const byDocId = new Map<number, string[]>();
  const byNativeId = new Map<string, string[]>();
  params.responses.forEach((record, position) => {
    const texts = record.responses ?? [record.response as string];
    if (record.doc_id !== undefined) byDocId.set(record.doc_id, texts);
    else if (record.native_id !== undefined) byNativeId.set(String(record.native_id), texts);
    else byDocId.set(position, texts);
  });
  const missing: string[] = [];
  const responses = items.map((item) => {
    const texts = byDocId.get(item.index) ?? byNativeId.get(item.nativeId);
    if (texts === undefined) missing.push(item.nativeId);
    return (texts ?? []).map((text) => cutAtStop({ text, stop: task.generation.stop }));
  });
  if (missing.length > 0) {
    throw new EvaluationError({
      code: "eval_responses_invalid",
      message: `${missing.length} of ${items.length} items have no response (first: ${missing.slice(0, 5).join(", ")}); use --limit to score a prefix`,
      details: { missing: missing.slice(0, 50) },
    });
  }
  const samples = Math.max(...responses.map((list) => list.length));
  const { result, predictions } = await scoreTask({
    task,
    items,
    prompts: items.map((item) => renderPrompt({ prompt: task.prompt, item })),
    responses,
    source,
    limit: params.limit ?? null,
    samples,
    seed: params.seed ?? 0,
    ...(params.bootstrapResamples === undefined ? {} : { bootstrapResamples: params.bootstrapResamples }),
  });
  const results: EvalResults = {
    schemaVersion: 1,
    model: { kind: "responses", model: params.model ?? "pre-generated responses" },
    suite: null,
    seed: params.seed ?? 0,
    tasks: [result],
  };
  if (params.outputDirectory !== undefined) {
    await writeResults({ outputDirectory: params.outputDirectory, results, predictions: [predictions] });
  }
  return results;
}
