/**
 * RLVR prompts: @posttrain/data's `rlvr` layout (prompt ids with the generation prompt,
 * ground-truth labels and verifier names as lists). The first label and verifier of a row are
 * used (open-instruct sums over several; none of the Tulu data has more than one).
 */
import { type CacheManifest, int32Row, readTokenizedShards } from "@posttrain/data";
import type { TokenBatch } from "@posttrain/engine";
import { TrainError } from "@posttrain/engine";

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
  const rows: RlvrRow[] = [];
  for await (const table of readTokenizedShards(params)) {
    for (let row = 0; row < table.numRows; row += 1)
      rows.push({
        promptIds: int32Row(table, "prompt_ids", row),
        groundTruth: strings(table, "ground_truth", row),
        dataset: strings(table, "dataset", row),
      });
  }
  return rows;
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

/** prompt + completion rows, right-padded, trained on the completion tokens (targets shifted). */
export function completionBatchOf(
  rows: readonly { promptIds: ArrayLike<number>; completionIds: readonly number[] }[],
): TokenBatch {
  const sequenceLength = Math.max(...rows.map((row) => row.promptIds.length + row.completionIds.length));
  const batchSize = rows.length;
  const count = batchSize * sequenceLength;
  const inputIds = new BigInt64Array(count);
  const labels = new BigInt64Array(count);
  const lossMask = new Float32Array(count);
  const positionIds = new BigInt64Array(count);
  const segmentIds = new BigInt64Array(count);
  rows.forEach((row, rowIndex) => {
    const base = rowIndex * sequenceLength;
    const promptLength = row.promptIds.length;
    const length = promptLength + row.completionIds.length;
    const token = (position: number) =>
      position < promptLength ? row.promptIds[position]! : row.completionIds[position - promptLength]!;
    for (let position = 0; position < length; position += 1) {
      inputIds[base + position] = BigInt(token(position));
      positionIds[base + position] = BigInt(position);
      segmentIds[base + position] = 1n;
      if (position + 1 < length && position + 1 >= promptLength) {
        labels[base + position] = BigInt(token(position + 1));
        lossMask[base + position] = 1;
      }
    }
  });
  return { batchSize, sequenceLength, inputIds, labels, lossMask, positionIds, segmentIds };
}
