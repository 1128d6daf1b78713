import { DataError } from "./errors.js";
import { ignoredLabel } from "./transforms.js";

/** One document to pack: its token ids and aligned labels (same length). */
export interface PackingDocument {
  inputIds: Int32Array;
  labels: Int32Array;
}

/**
 * Fixed-length packed rows, row-major (`rowCount × sequenceLength` each):
 * - `inputIds`: documents back to back, then `padTokenId`
 * - `labels`: each document's labels, except its first token (nothing inside the document
 *   predicts it, and the previous document must not), and padding, set to -100
 * - `positionIds`: 0, 1, 2, … restarting at every document (0 on padding)
 * - `segmentIds`: 1, 2, … per document within its row, 0 on padding; attention is allowed
 *   only between equal, non-zero segment ids, so it never crosses documents
 */
export interface PackedRows {
  sequenceLength: number;
  rowCount: number;
  inputIds: Int32Array;
  labels: Int32Array;
  positionIds: Int32Array;
  segmentIds: Int32Array;
  /** For each row, the indices (into the input list) of the documents it holds, in order. */
  documents: number[][];
}

/**
 * A segment tree over remaining capacities 0..capacity that finds, in O(log capacity), the
 * smallest remaining capacity ≥ a length that some open row has.
 */
class CapacityIndex {
  private readonly size: number;
  private readonly counts: Int32Array;
  private readonly rows: number[][];

  constructor(capacity: number) {
    this.size = 1 << Math.ceil(Math.log2(capacity + 1));
    this.counts = new Int32Array(2 * this.size);
    this.rows = Array.from({ length: capacity + 1 }, () => []);
  }

  add(remaining: number, row: number): void {
    this.rows[remaining]!.push(row);
    for (let node = remaining + this.size; node >= 1; node >>= 1) this.counts[node]! += 1;
  }

  /** Removes and returns the best-fitting row for `length`, or -1. */
  takeBestFit(length: number): { row: number; remaining: number } | null {
    const remaining = this.firstAtLeast(length, 1, 0, this.size - 1);
    if (remaining < 0) return null;
    const row = this.rows[remaining]!.pop()!;
    for (let node = remaining + this.size; node >= 1; node >>= 1) this.counts[node]! -= 1;
    return { row, remaining };
  }

  private firstAtLeast(length: number, node: number, low: number, high: number): number {
    if (high < length || this.counts[node] === 0) return -1;
    if (low === high) return low;
    const middle = (low + high) >> 1;
    const left = this.firstAtLeast(length, 2 * node, low, middle);
    return left >= 0 ? left : this.firstAtLeast(length, 2 * node + 1, middle + 1, high);
  }
}

/**
 * Packs documents into rows of `sequenceLength` tokens by best-fit decreasing: documents
 * sorted by length (longest first, ties by input order) each go to the open row whose free
 * space fits them most tightly, or to a new row. Deterministic for the same input.
 */
export function packBestFitDecreasing(params: {
  documents: readonly PackingDocument[];
  sequenceLength: number;
  padTokenId: number;
}): PackedRows {
  const { documents, sequenceLength } = params;
  const order = documents.map((_, index) => index);
  for (const index of order) {
    const document = documents[index]!;
    if (document.inputIds.length !== document.labels.length) {
      throw new DataError({
        code: "data_packing_invalid",
        message: `document ${index} has ${document.inputIds.length} ids but ${document.labels.length} labels`,
      });
    }
    if (document.inputIds.length > sequenceLength) {
      throw new DataError({
        code: "data_packing_invalid",
        message: `document ${index} has ${document.inputIds.length} tokens, more than the packed length ${sequenceLength}; truncate first`,
      });
    }
  }
  order.sort((a, b) => documents[b]!.inputIds.length - documents[a]!.inputIds.length || a - b);
  const rows: number[][] = [];
  const index = new CapacityIndex(sequenceLength);
  for (const documentIndex of order) {
    const length = documents[documentIndex]!.inputIds.length;
    if (length === 0) continue;
    const fit = index.takeBestFit(length);
    if (fit === null) {
      rows.push([documentIndex]);
      index.add(sequenceLength - length, rows.length - 1);
    } else {
      rows[fit.row]!.push(documentIndex);
      index.add(fit.remaining - length, fit.row);
    }
  }
  const total = rows.length * sequenceLength;
  const packed: PackedRows = {
    sequenceLength,
    rowCount: rows.length,
    inputIds: new Int32Array(total).fill(params.padTokenId),
    labels: new Int32Array(total).fill(ignoredLabel),
    positionIds: new Int32Array(total),
    segmentIds: new Int32Array(total),
    documents: rows,
  };
  rows.forEach((members, row) => {
    let offset = row * sequenceLength;
    members.forEach((documentIndex, segment) => {
      const document = documents[documentIndex]!;
      const length = document.inputIds.length;
      packed.inputIds.set(document.inputIds, offset);
      packed.labels.set(document.labels, offset);
      packed.labels[offset] = ignoredLabel;
      for (let position = 0; position < length; position += 1)
        packed.positionIds[offset + position] = position;
      packed.segmentIds.fill(segment + 1, offset, offset + length);
      offset += length;
    });
  });
  return packed;
}
