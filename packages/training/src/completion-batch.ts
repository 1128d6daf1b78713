/**
 * Prompt + completion rows → one engine micro-batch (DPO's chosen and rejected sides, RLVR's
 * rollouts): each row is `prompt + completion`, right-padded to `sequenceLength` (default: the
 * longest row) with segment 0 and no loss. Targets are shifted: position t predicts token t+1,
 * and is trained where t+1 is a completion token whose `completionMask` entry is 1 (no mask =
 * every completion token; a 0 marks a token the policy did not write, e.g. a tool's output).
 */
import type { TokenBatch } from "@posttrain/engine";

export interface PromptCompletionRow {
  promptIds: ArrayLike<number>;
  completionIds: ArrayLike<number>;
  /** Per completion token: 1 = trained (the policy's token), 0 = context only. Default all 1. */
  completionMask?: ArrayLike<number>;
}

/** A zeroed micro-batch of `batchSize` rows × `sequenceLength` (all padding: segment 0, no loss). */
export function emptyTokenBatch(params: { batchSize: number; sequenceLength: number }): Required<TokenBatch> {
  const count = params.batchSize * params.sequenceLength;
  return {
    batchSize: params.batchSize,
    sequenceLength: params.sequenceLength,
    inputIds: new BigInt64Array(count),
    labels: new BigInt64Array(count),
    lossMask: new Float32Array(count),
    positionIds: new BigInt64Array(count),
    segmentIds: new BigInt64Array(count),
  };
}

/**
 * Every row of a table stream (@posttrain/data's `readTokenizedShards`), each read by `row`:
 * the body of every stage's prepared-dataset reader.
 */
export async function collectRows<Table extends { numRows: number }, Row>(params: {
  tables: AsyncIterable<Table>;
  row: (table: Table, index: number) => Row;
}): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const table of params.tables)
    for (let index = 0; index < table.numRows; index += 1) rows.push(params.row(table, index));
  return rows;
}

export function promptCompletionBatch(params: {
  rows: readonly PromptCompletionRow[];
  sequenceLength?: number;
}): TokenBatch {
  const { rows } = params;
  const sequenceLength =
    params.sequenceLength ?? Math.max(...rows.map((row) => row.promptIds.length + row.completionIds.length));
  const batch = emptyTokenBatch({ batchSize: rows.length, sequenceLength });
  const { inputIds, labels, lossMask, positionIds, segmentIds } = batch;
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
        lossMask[base + position] = row.completionMask?.[position + 1 - promptLength] ?? 1;
      }
    }
  });
  return batch;
}
