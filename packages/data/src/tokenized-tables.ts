import {
  Table as ArrowTable,
  Field,
  Int32,
  List,
  makeData,
  makeVector,
  type Table,
  Utf8,
  type Vector,
  vectorFromArray,
} from "apache-arrow";
import type { PackedRows } from "./packing.js";
import type { TokenizedPreference, TokenizedRlvr, TokenizedSft } from "./transforms.js";

/**
 * Arrow layouts of tokenized datasets (what the trainers read). Every id column is
 * `List<Int32>`; labels use -100 for tokens without loss.
 *
 * | format | columns |
 * |---|---|
 * | `sft` packed | `input_ids`, `labels`, `position_ids`, `segment_ids` — each row exactly `sequenceLength` long (see {@link PackedRows}) |
 * | `sft` unpacked | `input_ids`, `labels` — one conversation per row |
 * | `preference` | `prompt_ids` (shared prompt, once), `chosen_ids`, `rejected_ids` (completions only) |
 * | `rlvr` | `prompt_ids` (with the generation prompt), `ground_truth`, `dataset` (`List<Utf8>`) |
 */
export type TokenizedLayout = "sft-packed" | "sft" | "preference" | "rlvr";

const int32List = new List(new Field("item", new Int32(), false));

/** A `List<Int32>` vector over rows given as one flat buffer plus row offsets. */
export function int32ListVector(params: { values: Int32Array; offsets: Int32Array }): Vector<List<Int32>> {
  const child = makeData({ type: new Int32(), length: params.values.length, data: params.values });
  const data = makeData({
    type: int32List,
    length: params.offsets.length - 1,
    nullCount: 0,
    valueOffsets: params.offsets,
    child,
  });
  return makeVector(data);
}

/** A `List<Int32>` vector with one row per array. */
export function int32ListVectorOf(rows: readonly Int32Array[]): Vector<List<Int32>> {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((row, index) => {
    offsets[index + 1] = offsets[index]! + row.length;
  });
  const values = new Int32Array(offsets[rows.length]!);
  rows.forEach((row, index) => {
    values.set(row, offsets[index]!);
  });
  return int32ListVector({ values, offsets });
}

/** The ids of row `row` of an `List<Int32>` column, as an Int32Array. */
export function int32Row(table: Table, column: string, row: number): Int32Array {
  const cell = table.getChild(column)?.get(row) as Vector<Int32> | null | undefined;
  if (cell === null || cell === undefined) return new Int32Array(0);
  return cell.toArray() as Int32Array;
}

export function packedSftTable(packed: PackedRows): Table {
  const offsets = Int32Array.from(
    { length: packed.rowCount + 1 },
    (_, index) => index * packed.sequenceLength,
  );
  return new ArrowTable({
    input_ids: int32ListVector({ values: packed.inputIds, offsets }),
    labels: int32ListVector({ values: packed.labels, offsets }),
    position_ids: int32ListVector({ values: packed.positionIds, offsets }),
    segment_ids: int32ListVector({ values: packed.segmentIds, offsets }),
  });
}

export function sftTable(rows: readonly TokenizedSft[]): Table {
  return new ArrowTable({
    input_ids: int32ListVectorOf(rows.map((row) => row.inputIds)),
    labels: int32ListVectorOf(rows.map((row) => row.labels)),
  });
}

export function preferenceTable(rows: readonly TokenizedPreference[]): Table {
  return new ArrowTable({
    prompt_ids: int32ListVectorOf(rows.map((row) => row.promptIds)),
    chosen_ids: int32ListVectorOf(rows.map((row) => row.chosenIds)),
    rejected_ids: int32ListVectorOf(rows.map((row) => row.rejectedIds)),
  });
}

const utf8List = new List(new Field("item", new Utf8(), false));

export function rlvrTable(rows: readonly TokenizedRlvr[]): Table {
  return new ArrowTable({
    prompt_ids: int32ListVectorOf(rows.map((row) => row.promptIds)),
    ground_truth: vectorFromArray(
      rows.map((row) => row.groundTruth),
      utf8List,
    ) as Vector,
    dataset: vectorFromArray(
      rows.map((row) => row.dataset),
      utf8List,
    ) as Vector,
  });
}
