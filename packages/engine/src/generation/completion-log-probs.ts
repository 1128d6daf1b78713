/**
 * Per-token log-probs of completions given prompts — the training-path forward used by DPO
 * and RLVR (the same `tokenLogProbs` graph the trainer differentiates). Rows are either
 * right-padded into `[rows, longest]` (`layout: "padded"`) or packed into one row with a
 * segment per sequence and positions restarting (`layout: "packed"`); both give the same
 * values up to float rounding.
 */
import { emitModel } from "../emit.js";
import { GraphBuilder } from "../graph.js";
import type { PretrainedModel } from "../model/pretrained.js";
import { type CompiledGraph, type CompileOptions, compileGraph, type Feed } from "../runtime.js";

export interface CompletionRow {
  promptTokenIds: readonly number[];
  completionTokenIds: readonly number[];
}

export interface CompletionLogProbs {
  /** log p(completion token t | prompt, completion[:t]) for each completion token. */
  tokenLogProbs: number[];
  /** Their sum (the sequence log-prob DPO uses). */
  sum: number;
}

const compiledByModel = new WeakMap<PretrainedModel, Map<string, Promise<CompiledGraph>>>();

function compiledLogProbGraph(model: PretrainedModel, options: CompileOptions): Promise<CompiledGraph> {
  let byOptions = compiledByModel.get(model);
  if (byOptions === undefined) {
    byOptions = new Map();
    compiledByModel.set(model, byOptions);
  }
  const key = JSON.stringify(options);
  let compiled = byOptions.get(key);
  if (compiled === undefined) {
    const graph = new GraphBuilder();
    const parameters = model.model.declareParameters(graph);
    const inputs = model.model.declareInputs(graph);
    const labels = graph.input({ name: "labels", dtype: "int64", shape: ["batch", "sequence"] });
    const logProbs = model.model.tokenLogProbs({ graph, parameters, inputs, labels, chunks: 4 });
    compiled = compileGraph({ model: emitModel({ graph, outputs: { log_probs: logProbs } }), ...options });
    byOptions.set(key, compiled);
  }
  return compiled;
}

/** Computes {@link CompletionLogProbs} for every row (see the module comment for layouts). */
export async function computeCompletionLogProbs(
  params: {
    model: PretrainedModel;
    batch: readonly CompletionRow[];
    layout?: "padded" | "packed";
  } & CompileOptions,
): Promise<CompletionLogProbs[]> {
  const { model, batch, layout = "padded", ...options } = params;
  const compiled = await compiledLogProbGraph(model, options);
  // Each row contributes inputs = sequence[:-1] and labels = sequence[1:].
  const sequences = batch.map((row) => {
    if (row.promptTokenIds.length === 0) throw new RangeError("a prompt needs at least one token");
    return [...row.promptTokenIds, ...row.completionTokenIds];
  });
  const lengths = sequences.map((sequence) => sequence.length - 1);
  const rows = layout === "packed" ? 1 : batch.length;
  const width = layout === "packed" ? lengths.reduce((a, b) => a + b, 0) : Math.max(...lengths);
  const inputIds = new BigInt64Array(rows * width);
  const labels = new BigInt64Array(rows * width);
  const positionIds = new BigInt64Array(rows * width);
  const segmentIds = new BigInt64Array(rows * width).fill(BigInt(-1));
  const starts: number[] = [];
  let cursor = 0;
  sequences.forEach((sequence, index) => {
    const start = layout === "packed" ? cursor : index * width;
    starts.push(start);
    for (let position = 0; position < lengths[index]!; position += 1) {
      inputIds[start + position] = BigInt(sequence[position]!);
      labels[start + position] = BigInt(sequence[position + 1]!);
      positionIds[start + position] = BigInt(position);
      segmentIds[start + position] = BigInt(index);
    }
    cursor += lengths[index]!;
  });
  const feeds: Record<string, Feed> = {
    input_ids: { data: inputIds, dims: [rows, width] },
    position_ids: { data: positionIds, dims: [rows, width] },
    segment_ids: { data: segmentIds, dims: [rows, width] },
    labels: { data: labels, dims: [rows, width] },
  };
  for (const entry of model.layout.entries)
    feeds[entry.name] = { data: model.layout.view(model.parameters, entry.name), dims: entry.shape };
  const result = await compiled.run({ feeds });
  const values = result["log_probs"]!.data as Float32Array;
  return batch.map((row, index) => {
    const first = starts[index]! + row.promptTokenIds.length - 1;
    const tokenLogProbs = Array.from(values.subarray(first, first + row.completionTokenIds.length));
    return { tokenLogProbs, sum: tokenLogProbs.reduce((a, b) => a + b, 0) };
  });
}
