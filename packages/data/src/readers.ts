import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { RecordBatchReader, Table } from "apache-arrow";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { tableFromRows } from "./arrow-rows.js";
import { DataError } from "./errors.js";

/** File formats the readers handle, chosen by extension. */
export type DataFileFormat = "parquet" | "jsonl" | "jsonl.gz" | "arrow";

const extensions: Array<[string, DataFileFormat]> = [
  [".parquet", "parquet"],
  [".jsonl.gz", "jsonl.gz"],
  [".json.gz", "jsonl.gz"],
  [".jsonl", "jsonl"],
  [".json", "jsonl"], // JSON lines named .json (a single JSON array is not supported)
  [".arrow", "arrow"],
  [".ipc", "arrow"],
  [".feather", "arrow"],
];

/** The format of a data file, or `null` when its extension is not a data format. */
export function dataFileFormat(path: string): DataFileFormat | null {
  const lower = path.toLowerCase();
  return extensions.find(([extension]) => lower.endsWith(extension))?.[1] ?? null;
}

function requireFormat(path: string): DataFileFormat {
  const format = dataFileFormat(path);
  if (format === null) {
    throw new DataError({
      code: "data_unsupported_format",
      message: `no reader for ${path} (parquet, jsonl, jsonl.gz, arrow)`,
    });
  }
  return format;
}

const parquetMagic = "PAR1";

/**
 * Why a Parquet file could not be read, in words a user can act on: its size and whether the
 * `PAR1` magic that opens and closes every Parquet file is there (a missing footer magic is
 * the mark of a truncated download or copy); otherwise the decoder's own message.
 */
export async function describeParquetFailure(params: { path: string; error: unknown }): Promise<string> {
  const decoderMessage = (params.error as Error)?.message ?? String(params.error);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(params.path, "r");
    const { size } = await handle.stat();
    const sizeText = `file is ${size.toLocaleString("en-US")} bytes`;
    // A Parquet file is at least the 4-byte header magic, a 4-byte footer length and the footer magic.
    if (size < 12) return `${sizeText}, too short to be Parquet (at least 12 bytes)`;
    const head = Buffer.alloc(4);
    const tail = Buffer.alloc(8);
    await handle.read(head, 0, 4, 0);
    await handle.read(tail, 0, 8, size - 8);
    if (tail.subarray(4).toString("latin1") !== parquetMagic)
      return `${sizeText}, footer magic ${parquetMagic} missing (truncated, or not a Parquet file)`;
    if (head.toString("latin1") !== parquetMagic)
      return `${sizeText}, header magic ${parquetMagic} missing (not a Parquet file)`;
    const footerLength = tail.readUInt32LE(0);
    if (footerLength + 12 > size)
      return `${sizeText}, but its footer claims ${footerLength.toLocaleString("en-US")} bytes (corrupt footer)`;
    return `${sizeText}: ${decoderMessage}`;
  } catch (error) {
    return `${(error as Error).message ?? String(error)}`;
  } finally {
    await handle?.close();
  }
}

async function readFailure(params: {
  path: string;
  format: DataFileFormat;
  error: unknown;
}): Promise<DataError> {
  const reason =
    params.format === "parquet"
      ? await describeParquetFailure({ path: params.path, error: params.error })
      : ((params.error as Error)?.message ?? String(params.error));
  return new DataError({
    code: "data_read_failed",
    message: `could not read ${params.path}: ${reason}`,
    cause: params.error,
    details: { path: params.path, reason },
  });
}

/**
 * Streams a data file as Arrow tables of at most `batchRows` rows: Parquet one row
 * group at a time (hyparquet, with hyparquet-compressors for zstd/brotli/lz4/gzip), JSONL
 * and gzipped JSONL line by line, Arrow IPC (file or stream) one record batch at a time.
 * At most one Parquet row group (one batch for the other formats) of text is held at once,
 * however large the file.
 */
export async function* readTableBatches(params: { path: string; batchRows?: number }): AsyncGenerator<Table> {
  const { path } = params;
  const batchRows = params.batchRows ?? 4096;
  const format = requireFormat(path);
  try {
    if (format === "parquet") {
      const file = await asyncBufferFromFile(path);
      const metadata = await parquetMetadataAsync(file);
      let rowStart = 0;
      for (const group of metadata.row_groups) {
        // Decode each row group once (hyparquet decodes whole column chunks), then hand it
        // out in batches: memory holds one row group's text at most.
        const rowEnd = rowStart + Number(group.num_rows);
        const rows = (await parquetReadObjects({ file, metadata, rowStart, rowEnd, compressors })) as Record<
          string,
          unknown
        >[];
        for (let start = 0; start < rows.length; start += batchRows) {
          yield tableFromRows(rows.slice(start, start + batchRows));
        }
        rowStart = rowEnd;
      }
      return;
    }
    if (format === "arrow") {
      const reader = await RecordBatchReader.from(createReadStream(path));
      for await (const batch of reader) yield new Table(batch);
      return;
    }
    const input =
      format === "jsonl.gz" ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    let rows: Record<string, unknown>[] = [];
    let lineNumber = 0;
    for await (const line of lines) {
      lineNumber += 1;
      if (line.trim() === "") continue;
      try {
        rows.push(JSON.parse(line) as Record<string, unknown>);
      } catch (error) {
        throw new DataError({
          code: "data_read_failed",
          message: `${path}:${lineNumber} is not valid JSON`,
          cause: error,
          details: { path, line: lineNumber },
        });
      }
      if (rows.length >= batchRows) {
        yield tableFromRows(rows);
        rows = [];
      }
    }
    if (rows.length > 0) yield tableFromRows(rows);
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw await readFailure({ path, format, error });
  }
}

/** Counts a file's rows (Parquet from its footer; others by streaming). */
export async function countRows(params: { path: string }): Promise<number> {
  const format = requireFormat(params.path);
  if (format === "parquet") {
    try {
      const metadata = await parquetMetadataAsync(await asyncBufferFromFile(params.path));
      return Number(metadata.num_rows);
    } catch (error) {
      throw await readFailure({ path: params.path, format, error });
    }
  }
  let count = 0;
  for await (const table of readTableBatches({ path: params.path, batchRows: 16384 })) count += table.numRows;
  return count;
}
