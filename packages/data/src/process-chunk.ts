import { checkRow, MalformedRowTracker, type MalformedSummary, type RowFormat } from "./row-formats.js";
import type { TextTokenizer } from "./tokenizer.js";
import {
  type FilterReason,
  type MaskedSpan,
  type TokenizedPreference,
  type TokenizedRlvr,
  type TokenizedSft,
  tokenizePreference,
  tokenizeRlvr,
  tokenizeSft,
} from "./transforms.js";

/** What every row of a run goes through: format check, then the format's transform. */
export interface TransformSettings {
  format: RowFormat;
  /** SFT/preference: maximum tokens per conversation; RLVR: maximum prompt tokens. */
  maxLength: number;
  /** SFT only: spans of assistant text without loss (tool output); absent = none. */
  maskedSpans?: readonly MaskedSpan[];
}

/** One source row to process, emitted `copies` times (mixture upsampling). */
export interface ChunkItem {
  row: unknown;
  /** Row number inside its source, for malformed-row examples. */
  rowNumber: number;
  copies: number;
}

/** A unit of work sent to a tokenization worker. */
export interface Chunk {
  index: number;
  source: string;
  items: ChunkItem[];
}

export type TokenizedRecord = TokenizedSft | TokenizedPreference | TokenizedRlvr;

/** The result of a chunk: records in input order (repeated per copy) and the counts. */
export interface ChunkResult {
  index: number;
  records: TokenizedRecord[];
  malformed: MalformedSummary;
  filtered: Partial<Record<FilterReason, number>>;
}

/** Checks and tokenizes a chunk; shared by the in-thread path and the worker threads. */
export function processChunk(params: {
  tokenizer: TextTokenizer;
  settings: TransformSettings;
  chunk: Chunk;
}): ChunkResult {
  const { tokenizer, settings, chunk } = params;
  const tracker = new MalformedRowTracker({ maximumMalformedRows: Number.POSITIVE_INFINITY });
  const records: TokenizedRecord[] = [];
  const filtered: Partial<Record<FilterReason, number>> = {};
  for (const item of chunk.items) {
    const checked = tracker.record({
      check: checkRow({ format: settings.format, value: item.row }),
      source: chunk.source,
      row: item.rowNumber,
    });
    if (checked === null) continue;
    const result =
      settings.format === "sft"
        ? tokenizeSft({
            tokenizer,
            messages: (checked as { messages: never }).messages,
            maxLength: settings.maxLength,
            ...(settings.maskedSpans === undefined ? {} : { maskedSpans: settings.maskedSpans }),
          })
        : settings.format === "preference"
          ? tokenizePreference({ tokenizer, row: checked as never, maxLength: settings.maxLength })
          : tokenizeRlvr({ tokenizer, row: checked as never, maxPromptLength: settings.maxLength });
    if (!result.ok) {
      filtered[result.reason] = (filtered[result.reason] ?? 0) + item.copies;
      continue;
    }
    for (let copy = 0; copy < item.copies; copy += 1) records.push(result.value);
  }
  return { index: chunk.index, records, malformed: tracker.summary(), filtered };
}

/** The ArrayBuffers of a result's records (deduplicated), to transfer instead of copy. */
export function transferablesOf(result: ChunkResult): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const record of result.records) {
    for (const value of Object.values(record)) {
      if (value instanceof Int32Array) buffers.add(value.buffer as ArrayBuffer);
    }
  }
  return [...buffers];
}
