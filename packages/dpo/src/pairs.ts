/**
 * Preference rows → paired micro-batches. A row is @posttrain/data's `preference` layout: the
 * shared prompt once, then the chosen and rejected completions. Each side becomes
 * `prompt + completion` (@posttrain/training's `promptCompletionBatch`), right-padded to the
 * longest sequence of either side in the micro-batch, so both sides share one
 * `[batch, sequence]` shape.
 */

import { sha256Hex } from "@posttrain/core";
import { type CacheManifest, int32Row, readTokenizedShards } from "@posttrain/data";
import type { TokenBatch } from "@posttrain/engine";
import { collectRows, promptCompletionBatch, TrainError } from "@posttrain/training";

export interface PreferenceRow {
  promptIds: Int32Array;
  chosenIds: Int32Array;
  rejectedIds: Int32Array;
}

export interface DpoData {
  train: readonly PreferenceRow[];
  /** Held-out pairs (accuracy, margins, loss). */
  evaluation?: readonly PreferenceRow[];
}

export interface PairBatch {
  chosen: TokenBatch;
  rejected: TokenBatch;
}

/** Reads a prepared `preference` dataset. */
export async function readPreferenceRows(params: {
  directory: string;
  manifest: CacheManifest;
}): Promise<PreferenceRow[]> {
  return collectRows({
    tables: readTokenizedShards(params),
    row: (table, row) => ({
      promptIds: int32Row(table, "prompt_ids", row),
      chosenIds: int32Row(table, "chosen_ids", row),
      rejectedIds: int32Row(table, "rejected_ids", row),
    }),
  });
}

export function validatePreferenceRows(params: {
  rows: readonly PreferenceRow[];
  vocabularySize: number;
  label: string;
}): void {
  if (params.rows.length === 0)
    throw new TrainError({ code: "train_data_invalid", message: `${params.label} has no rows` });
  params.rows.forEach((row, index) => {
    for (const [name, ids] of [
      ["promptIds", row.promptIds],
      ["chosenIds", row.chosenIds],
      ["rejectedIds", row.rejectedIds],
    ] as const) {
      if (name !== "promptIds" && ids.length === 0)
        throw new TrainError({
          code: "train_data_invalid",
          message: `${params.label}[${index}].${name} is empty`,
        });
      for (const id of ids)
        if (id < 0 || id >= params.vocabularySize)
          throw new TrainError({
            code: "train_data_invalid",
            message: `${params.label}[${index}].${name} holds ${id}, outside the vocabulary of ${params.vocabularySize}`,
          });
    }
    if (row.promptIds.length === 0)
      throw new TrainError({
        code: "train_data_invalid",
        message: `${params.label}[${index}].promptIds is empty`,
      });
  });
}

function side(
  rows: readonly PreferenceRow[],
  pick: "chosenIds" | "rejectedIds",
  sequenceLength: number,
): TokenBatch {
  return promptCompletionBatch({
    rows: rows.map((row) => ({ promptIds: row.promptIds, completionIds: row[pick] })),
    sequenceLength,
  });
}

/** Both sides of a micro-batch, padded to one shape. */
export function pairBatchOf(rows: readonly PreferenceRow[]): PairBatch {
  const sequenceLength = Math.max(
    ...rows.map((row) => row.promptIds.length + Math.max(row.chosenIds.length, row.rejectedIds.length)),
  );
  return {
    chosen: side(rows, "chosenIds", sequenceLength),
    rejected: side(rows, "rejectedIds", sequenceLength),
  };
}

/** sha256 over every row's ids (with lengths), for the reference cache key. */
export function preferenceDataFingerprint(rows: readonly PreferenceRow[]): string {
  const parts: Int32Array[] = [];
  for (const row of rows)
    for (const ids of [row.promptIds, row.chosenIds, row.rejectedIds])
      parts.push(Int32Array.of(ids.length), ids);
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const flat = new Int32Array(total);
  let offset = 0;
  for (const part of parts) {
    flat.set(part, offset);
    offset += part.length;
  }
  return sha256Hex(new Uint8Array(flat.buffer));
}
