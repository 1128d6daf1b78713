import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { tableToIPC } from "apache-arrow";
import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { rowsFromTable, tableFromRows } from "./arrow-rows.js";
import { countRows, dataFileFormat, readTableBatches } from "./readers.js";

const rows = Array.from({ length: 25 }, (_, index) => ({
  messages: [
    { role: "user", content: `question ${index}` },
    { role: "assistant", content: `answer ${index}` },
  ],
  id: `row-${index}`,
}));

async function readAll(path: string, batchRows: number): Promise<{ batches: number[]; rows: unknown[] }> {
  const sizes: number[] = [];
  const all: unknown[] = [];
  for await (const table of readTableBatches({ path, batchRows })) {
    sizes.push(table.numRows);
    all.push(...rowsFromTable(table));
  }
  return { batches: sizes, rows: all };
}

describe("readers", () => {
  const directory = mkdtempSync(join(tmpdir(), "posttrain-readers-"));

  it("streams JSONL and gzipped JSONL in batches", async () => {
    const text = `${rows.map((row) => JSON.stringify(row)).join("\n")}\n`;
    writeFileSync(join(directory, "train.jsonl"), text);
    writeFileSync(join(directory, "train.jsonl.gz"), gzipSync(text));
    for (const name of ["train.jsonl", "train.jsonl.gz"]) {
      const result = await readAll(join(directory, name), 10);
      expect(result.batches).toEqual([10, 10, 5]);
      expect(result.rows).toEqual(rows);
      expect(await countRows({ path: join(directory, name) })).toBe(25);
    }
  });

  it("streams Parquet one row group at a time", async () => {
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: "messages", data: rows.map((row) => row.messages) },
        { name: "id", data: rows.map((row) => row.id), type: "STRING" },
      ],
      rowGroupSize: 8,
    });
    writeFileSync(join(directory, "train-00000-of-00001.parquet"), new Uint8Array(buffer));
    const result = await readAll(join(directory, "train-00000-of-00001.parquet"), 100);
    expect(result.batches).toEqual([8, 8, 8, 1]);
    expect(result.rows).toEqual(rows);
    const small = await readAll(join(directory, "train-00000-of-00001.parquet"), 5);
    expect(small.batches).toEqual([5, 3, 5, 3, 5, 3, 1]);
    expect(small.rows).toEqual(rows);
    expect(await countRows({ path: join(directory, "train-00000-of-00001.parquet") })).toBe(25);
  });

  it("reads Arrow IPC record batches", async () => {
    writeFileSync(join(directory, "train.arrow"), tableToIPC(tableFromRows(rows), "file"));
    const result = await readAll(join(directory, "train.arrow"), 100);
    expect(result.rows).toEqual(rows);
  });

  it("reports the line of invalid JSON and unknown formats", async () => {
    writeFileSync(join(directory, "broken.jsonl"), '{"a": 1}\n{"a": \n');
    await expect(readAll(join(directory, "broken.jsonl"), 10)).rejects.toMatchObject({
      code: "data_read_failed",
      details: { line: 2 },
    });
    expect(dataFileFormat("x/y.csv")).toBeNull();
    await expect(readAll(join(directory, "x.csv"), 10)).rejects.toMatchObject({
      code: "data_unsupported_format",
    });
  });

  it("says why a Parquet file cannot be read: size and missing footer magic", async () => {
    const buffer = Buffer.from(
      parquetWriteBuffer({ columnData: [{ name: "id", data: ["a", "b", "c"], type: "STRING" }] }),
    );
    const truncated = join(directory, "truncated-train.parquet");
    writeFileSync(truncated, buffer.subarray(0, buffer.length - 20));
    const expected = `could not read ${truncated}: file is ${(buffer.length - 20).toLocaleString("en-US")} bytes, footer magic PAR1 missing (truncated, or not a Parquet file)`;
    await expect(readAll(truncated, 10)).rejects.toMatchObject({
      code: "data_read_failed",
      message: expected,
    });
    await expect(countRows({ path: truncated })).rejects.toMatchObject({ message: expected });
    const tiny = join(directory, "tiny-train.parquet");
    writeFileSync(tiny, "PAR1");
    await expect(countRows({ path: tiny })).rejects.toMatchObject({
      message: `could not read ${tiny}: file is 4 bytes, too short to be Parquet (at least 12 bytes)`,
    });
  });
});
