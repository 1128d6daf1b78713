/**
 * OLMES-compatible output files, for tools that read OLMES runs (see evals.md): per task
 * `task-NNN-<name>-metrics.json` (task_name, task_hash, model_hash, task_config,
 * num_instances, metrics with primary_score) and `task-NNN-<name>-predictions.jsonl`
 * (doc_id, native_id, metrics, model_output, label); per run `metrics.json`
 * (all_primary_scores, tasks) and `metrics-all.jsonl`. Our task hash is a sha256 of our spec,
 * not OLMES's md5 of its config: the two are not comparable.
 */
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import type { EvalResults, PredictionRow } from "./run-eval.js";

export async function writeOlmesFiles(params: {
  outputDirectory: string;
  results: EvalResults;
  predictions: ReadonlyArray<readonly PredictionRow[]>;
}): Promise<void> {
  const { results } = params;
  const taskEntries = results.tasks.map((task, index) => {
    const metrics: Record<string, number> = { primary_score: task.primaryScore };
    for (const [name, estimate] of Object.entries(task.metrics)) {
      metrics[name] = estimate.value;
      if (estimate.standardError !== null) metrics[`${name}_stderr`] = estimate.standardError;
    }
    return {
      index,
      file: `task-${String(index).padStart(3, "0")}-${task.task.name}`,
      entry: {
        task_name: task.task.name,
        task_hash: task.task.hash,
        model_hash: results.model.modelHash ?? null,
        model_config: { model: results.model.model, kind: results.model.kind },
        task_config: {
          task_name: task.task.name,
          version: task.task.version,
          olmes_task: task.task.olmes.task,
          olmes_era: task.task.olmes.era,
          primary_metric: task.task.primaryMetric,
          generation_kwargs: task.generation,
          limit: task.limit,
        },
        num_instances: task.count,
        metrics,
      },
    };
  });
  for (const { index, file, entry } of taskEntries) {
    await writeJsonAtomic({ path: join(params.outputDirectory, `${file}-metrics.json`), value: entry });
    const rows = (params.predictions[index] ?? []).map((row) => ({
      doc_id: row.doc_id,
      native_id: row.native_id,
      metrics: row.metrics,
      model_output: row.responses.map((response, sample) => ({
        continuation: response,
        extracted: row.extracted[sample] ?? null,
        ...(row.samples[sample]?.metrics ?? {}),
      })),
      label: row.label,
    }));
    await writeFileAtomic({
      path: join(params.outputDirectory, `${file}-predictions.jsonl`),
      content: rows.map((row) => `${JSON.stringify(row)}\n`).join(""),
    });
  }
  await writeJsonAtomic({
    path: join(params.outputDirectory, "metrics.json"),
    value: {
      all_primary_scores: taskEntries.map(
        ({ entry }) => `${entry.task_name}: ${entry.metrics["primary_score"]}`,
      ),
      tasks: taskEntries.map(({ entry }) => entry),
    },
  });
  await writeFileAtomic({
    path: join(params.outputDirectory, "metrics-all.jsonl"),
    content: taskEntries.map(({ entry }) => `${JSON.stringify(entry)}\n`).join(""),
  });
}
