import { rowsFromTable } from "./arrow-rows.js";
import { readTableBatches } from "./readers.js";
import { checkRow, MalformedRowTracker, type MalformedSummary, type RowFormat } from "./row-formats.js";
import type { MaterializedSource } from "./source.js";
import type { TextTokenizer } from "./tokenizer.js";
import {
  type FilterReason,
  ignoredLabel,
  tokenizePreference,
  tokenizeRlvr,
  tokenizeSft,
} from "./transforms.js";

/** A run of consecutive tokens of the example, trained on or masked. */
export interface ExampleSpan {
  trained: boolean;
  text: string;
}

/** What `posttrain data inspect` reports. */
export interface DatasetInspection {
  /** Rows in the source's files. */
  rows: number;
  /** Rows tokenized for the statistics (the first `sampleRows`). */
  sampledRows: number;
  malformed: MalformedSummary;
  filtered: Partial<Record<FilterReason, number>>;
  /** Token lengths of the sampled rows (full conversation; preference: prompt + chosen; RLVR: prompt). */
  lengths: { minimum: number; maximum: number; mean: number; median: number; percentile95: number } | null;
  /** Equal-width bins from 0 to the maximum length. */
  histogram: Array<{ from: number; to: number; count: number }>;
  /** The first well-formed row, rendered and split into trained and masked spans. */
  example: { row: number; spans: ExampleSpan[] } | null;
}

/** Splits ids into runs of trained / masked tokens and decodes each run. */
export function exampleSpans(params: {
  tokenizer: TextTokenizer;
  inputIds: Int32Array;
  labels: Int32Array;
}): ExampleSpan[] {
  const spans: ExampleSpan[] = [];
  let start = 0;
  for (let index = 1; index <= params.inputIds.length; index += 1) {
    const trained = params.labels[start] !== ignoredLabel;
    if (index === params.inputIds.length || (params.labels[index] !== ignoredLabel) !== trained) {
      spans.push({ trained, text: params.tokenizer.decode([...params.inputIds.subarray(start, index)]) });
      start = index;
    }
  }
  return spans;
}

function histogramOf(lengths: readonly number[], bins: number): DatasetInspection["histogram"] {
  if (lengths.length === 0) return [];
  const maximum = Math.max(...lengths);
  const width = Math.max(1, Math.ceil((maximum + 1) / bins));
  const counts = new Array<number>(Math.ceil((maximum + 1) / width)).fill(0);
  for (const length of lengths) counts[Math.floor(length / width)]! += 1;
  return counts.map((count, index) => ({ from: index * width, to: (index + 1) * width - 1, count }));
}

/**
 * Statistics of a materialized source: row count, malformed rows, the token-length
 * distribution of the first `sampleRows` rows (default 2000) and one rendered example with
 * its trained and masked spans.
 */
export async function inspectSource(params: {
  source: MaterializedSource;
  format: RowFormat;
  tokenizer: TextTokenizer;
  maxLength?: number;
  sampleRows?: number;
  bins?: number;
}): Promise<DatasetInspection> {
  const { tokenizer, format } = params;
  const sampleRows = params.sampleRows ?? 2000;
  const tracker = new MalformedRowTracker({ maximumMalformedRows: Number.POSITIVE_INFINITY });
  const filtered: Partial<Record<FilterReason, number>> = {};
  const lengths: number[] = [];
  let rows = 0;
  let sampled = 0;
  let example: DatasetInspection["example"] = null;
  for (const file of params.source.files) {
    for await (const table of readTableBatches({ path: file.localPath })) {
      if (sampled >= sampleRows) {
        rows += table.numRows;
        continue;
      }
      for (const value of rowsFromTable(table)) {
        const rowNumber = rows;
        rows += 1;
        if (sampled >= sampleRows) continue;
        sampled += 1;
        const row = tracker.record({ check: checkRow({ format, value }), source: file.path, row: rowNumber });
        if (row === null) continue;
        const maxLength = params.maxLength ?? Number.POSITIVE_INFINITY;
        if (format === "sft") {
          const result = tokenizeSft({
            tokenizer,
            messages: (row as { messages: never }).messages,
            maxLength,
          });
          if (!result.ok) filtered[result.reason] = (filtered[result.reason] ?? 0) + 1;
          else {
            lengths.push(result.value.inputIds.length);
            example ??= { row: rowNumber, spans: exampleSpans({ tokenizer, ...result.value }) };
          }
        } else if (format === "preference") {
          const result = tokenizePreference({ tokenizer, row: row as never, maxLength });
          if (!result.ok) filtered[result.reason] = (filtered[result.reason] ?? 0) + 1;
          else {
            const { promptIds, chosenIds } = result.value;
            lengths.push(promptIds.length + chosenIds.length);
            example ??= {
              row: rowNumber,
              spans: [
                { trained: false, text: tokenizer.decode([...promptIds]) },
                { trained: true, text: tokenizer.decode([...chosenIds]) },
              ],
            };
          }
        } else {
          const result = tokenizeRlvr({ tokenizer, row: row as never, maxPromptLength: maxLength });
          if (!result.ok) filtered[result.reason] = (filtered[result.reason] ?? 0) + 1;
          else {
            lengths.push(result.value.promptIds.length);
            example ??= {
              row: rowNumber,
              spans: [{ trained: false, text: tokenizer.decode([...result.value.promptIds]) }],
            };
          }
        }
      }
    }
  }
  const sorted = [...lengths].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
  return {
    rows,
    sampledRows: sampled,
    malformed: tracker.summary(),
    filtered,
    lengths:
      sorted.length === 0
        ? null
        : {
            minimum: sorted[0]!,
            maximum: sorted[sorted.length - 1]!,
            mean: sorted.reduce((sum, length) => sum + length, 0) / sorted.length,
            median: at(0.5),
            percentile95: at(0.95),
          },
    histogram: histogramOf(lengths, params.bins ?? 10),
    example,
  };
}
