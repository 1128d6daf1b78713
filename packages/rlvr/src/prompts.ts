/**
 * RLVR prompts: @posttrain/data's `rlvr` layout (prompt ids with the generation prompt,
 * ground-truth labels and verifier names as lists). The first label and verifier of a row are
 * used (open-instruct sums over several; none of the Tulu data has more than one).
 */
import { type CacheManifest, int32Row, readTokenizedShards } from "@posttrain/data";
import type { TokenBatch } from "@posttrain/engine";
import {
  collectRows,
  type PromptCompletionRow,
  promptCompletionBatch,
  TrainError,
} from "@posttrain/training";

export interface RlvrRow {
  promptIds: Int32Array;
  groundTruth: string[];
  /** Verifier names (open-instruct's `dataset` column), e.g. `gsm8k`. */
  dataset: string[];
}

export interface RlvrData {
  train: readonly RlvrRow[];
  /** Held-out prompts for the over-optimisation monitor. */
  evaluation?: readonly RlvrRow[];
}

function strings(
  table: { getChild(name: string): { get(row: number): unknown } | null },
  column: string,
  row: number,
): string[] {
  const cell = table.getChild(column)?.get(row) as { toArray(): unknown[] } | null | undefined;
  return cell === null || cell === undefined ? [] : (cell.toArray() as string[]).map(String);
}

/** Reads a prepared `rlvr` dataset. */
export async function readRlvrRows(params: {
  directory: string;
  manifest: CacheManifest;
}): Promise<RlvrRow[]> {
  return collectRows({
    tables: readTokenizedShards(params),
    row: (table, row) => ({
      promptIds: int32Row(table, "prompt_ids", row),
      groundTruth: strings(table, "ground_truth", row),
      dataset: strings(table, "dataset", row),
    }),
  });
}

export function validateRlvrRows(params: {
  rows: readonly RlvrRow[];
  vocabularySize: number;
  label: string;
}): void {
  if (params.rows.length === 0)
    throw new TrainError({ code: "train_data_invalid", message: `${params.label} has no rows` });
  params.rows.forEach((row, index) => {
    const where = `${params.label}[${index}]`;
    if (row.promptIds.length === 0)
      throw new TrainError({ code: "train_data_invalid", message: `${where}.promptIds is empty` });
    for (const id of row.promptIds)
      if (id < 0 || id >= params.vocabularySize)
        throw new TrainError({
          code: "train_data_invalid",
          message: `${where}.promptIds holds ${id}, outside the vocabulary`,
        });
    if (row.groundTruth.length === 0 || row.dataset.length === 0)
      throw new TrainError({
        code: "train_data_invalid",
        message: `${where} needs a groundTruth and a dataset (verifier name)`,
      });
  });
}

/**
 * prompt + completion rows, right-padded, trained on the completion tokens (targets shifted;
 * @posttrain/training's `promptCompletionBatch`, whose per-token completion mask marks tokens
 * the policy did not write).
 */
export function completionBatchOf(rows: readonly PromptCompletionRow[]): TokenBatch {
  return promptCompletionBatch({ rows });
}
