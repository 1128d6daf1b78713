/**
 * SFT rows → engine micro-batches (the seeded data order is the engine's `DataOrder`).
 *
 * Rows follow @posttrain/data's layouts: labels aligned with inputs (-100 = no loss), so a
 * micro-batch shifts them: the target of position t is `labels[t+1]`, trained where that label
 * is not -100 (the last position never is). Packed rows carry position ids (restarting per
 * document) and segment ids (0 on padding); unpacked rows get positions 0…n−1, segment 1, and
 * are right-padded to the longest row of the micro-batch with segment 0 and no loss.
 */

import { type CacheManifest, int32Row, readTokenizedShards } from "@posttrain/data";
import type { TokenBatch } from "@posttrain/engine";
import { collectRows, emptyTokenBatch, TrainError } from "@posttrain/training";

export const ignoredLabel = -100;

/** One SFT row (a packed row or a single conversation). */
export interface SftRow {
  inputIds: Int32Array;
  /** Aligned with `inputIds`; -100 where no loss. */
  labels: Int32Array;
  positionIds?: Int32Array;
  segmentIds?: Int32Array;
}

/** What `train` reads: training rows and an optional held-out split. */
export interface SftData {
  train: readonly SftRow[];
  evaluation?: readonly SftRow[];
}

/** Reads the rows of a prepared `sft` or `sft-packed` dataset (see @posttrain/data). */
export async function readSftRows(params: { directory: string; manifest: CacheManifest }): Promise<SftRow[]> {
  return collectRows({
    tables: readTokenizedShards(params),
    row: (table, row) => {
      const packed = table.getChild("position_ids") !== null;
      return {
        inputIds: int32Row(table, "input_ids", row),
        labels: int32Row(table, "labels", row),
        ...(packed
          ? {
              positionIds: int32Row(table, "position_ids", row),
              segmentIds: int32Row(table, "segment_ids", row),
            }
          : {}),
      };
    },
  });
}

/** Checks every row: equal column lengths, ids inside the vocabulary, at least one row. */
export function validateSftRows(params: {
  rows: readonly SftRow[];
  vocabularySize: number;
  label: string;
}): void {
  if (params.rows.length === 0)
    throw new TrainError({ code: "train_data_invalid", message: `${params.label} has no rows` });
  params.rows.forEach((row, index) => {
    const where = `${params.label}[${index}]`;
    const length = row.inputIds.length;
    for (const [name, column] of [
      ["labels", row.labels],
      ["positionIds", row.positionIds],
      ["segmentIds", row.segmentIds],
    ] as const) {
      if (column !== undefined && column.length !== length)
        throw new TrainError({
          code: "train_data_invalid",
          message: `${where}.${name} has ${column.length} ids, inputIds has ${length}`,
        });
    }
    for (const id of row.inputIds)
      if (id < 0 || id >= params.vocabularySize)
        throw new TrainError({
          code: "train_data_invalid",
          message: `${where}.inputIds holds ${id}, outside the vocabulary of ${params.vocabularySize}`,
        });
    for (const id of row.labels)
      if (id !== ignoredLabel && (id < 0 || id >= params.vocabularySize))
        throw new TrainError({ code: "train_data_invalid", message: `${where}.labels holds ${id}` });
  });
}

/** A micro-batch from rows (padded to the longest, labels shifted). */
export function tokenBatchOf(rows: readonly SftRow[]): TokenBatch {
  const sequenceLength = Math.max(...rows.map((row) => row.inputIds.length));
  const batch = emptyTokenBatch({ batchSize: rows.length, sequenceLength });
  const { inputIds, labels, lossMask, positionIds, segmentIds } = batch;
  rows.forEach((row, rowIndex) => {
    const base = rowIndex * sequenceLength;
    const length = row.inputIds.length;
    for (let position = 0; position < length; position += 1) {
      inputIds[base + position] = BigInt(row.inputIds[position]!);
      positionIds[base + position] = BigInt(row.positionIds?.[position] ?? position);
      segmentIds[base + position] = BigInt(row.segmentIds?.[position] ?? 1);
      const next = position + 1 < length ? row.labels[position + 1]! : ignoredLabel;
      if (next !== ignoredLabel) {
        labels[base + position] = BigInt(next);
        lossMask[base + position] = 1;
      }
    }
  });
  return batch;
}
