import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readTokenizedShards } from "./cache.js";
import { prepareDataset } from "./prepare.js";
import { lockSpec } from "./source.js";
import type { DatasetSpec } from "./spec.js";
import { writeByteTokenizer } from "./test/index.js";
import { int32Row } from "./tokenized-tables.js";
import { ignoredLabel } from "./transforms.js";
import { workerScriptPath } from "./worker-pool.js";

const root = mkdtempSync(join(tmpdir(), "posttrain-prepare-"));
const tokenizerDirectory = writeByteTokenizer(join(root, "tokenizer"));

function sftRow(index: number) {
  return {
    messages: [
      { role: "user", content: `Question number ${index}: ${"why ".repeat(index % 7)}?` },
      { role: "assistant", content: `Answer ${index}. ${"because ".repeat(index % 5)}` },
    ],
  };
}

function writeSource(name: string, rows: unknown[]): string {
  const directory = join(root, name);
  mkdirSync(join(directory, "data"), { recursive: true });
  writeFileSync(
    join(directory, "data", "train.jsonl"),
    `${rows.map((row) => JSON.stringify(row)).join("\n")}\n`,
  );
  return directory;
}

const malformedRows = [{ messages: [{ role: "robot", content: "beep" }] }, { text: "no messages" }];
const sftDirectory = writeSource("sft", [
  ...Array.from({ length: 40 }, (_, index) => sftRow(index)),
  ...malformedRows,
]);

const base = {
  format: "sft" as const,
  tokenizer: { directory: tokenizerDirectory },
  maxLength: 96,
  seed: 3,
  progress: "silent" as const,
  maximumMalformedRows: 2,
};

describe("prepareDataset", () => {
  it("mixes, tokenizes, counts malformed rows and caches by every input", async () => {
    const cacheRoot = join(root, "cache-a");
    const sources: DatasetSpec[] = [{ kind: "local", directory: sftDirectory, amount: { fraction: 1.5 } }];
    const first = await prepareDataset({ ...base, sources, cacheRoot });
    expect(first.cacheHit).toBe(false);
    expect(first.manifest.sources).toEqual([{ label: sftDirectory, sourceRows: 42, targetRows: 63 }]);
    const malformed = first.manifest.malformed as {
      malformed: number;
      reasons: Record<string, { count: number }>;
    };
    expect(malformed.malformed).toBe(2);
    expect(Object.keys(malformed.reasons).sort()).toEqual(["missing_field", "unknown_role"]);
    const dropped = Object.values(first.manifest.filtered).reduce((sum, count) => sum + count, 0);
    expect(first.manifest.totals.documents + dropped).toBeLessThanOrEqual(63);
    expect(first.manifest.totals.rows).toBe(first.manifest.totals.documents);

    let rows = 0;
    for await (const table of readTokenizedShards({ directory: first.directory, manifest: first.manifest })) {
      for (let row = 0; row < table.numRows; row += 1) {
        const inputIds = int32Row(table, "input_ids", row);
        const labels = int32Row(table, "labels", row);
        expect(inputIds.length).toBeLessThanOrEqual(96);
        expect(labels.length).toBe(inputIds.length);
        rows += 1;
      }
    }
    expect(rows).toBe(first.manifest.totals.rows);

    const again = await prepareDataset({ ...base, sources, cacheRoot });
    expect(again).toMatchObject({ cacheHit: true, key: first.key });
    const otherSeed = await prepareDataset({ ...base, seed: 4, sources, cacheRoot });
    expect(otherSeed.key).not.toBe(first.key);
    const otherLength = await prepareDataset({ ...base, maxLength: 64, sources, cacheRoot });
    expect(otherLength.key).not.toBe(first.key);
    const otherAmount = await prepareDataset({
      ...base,
      sources: [{ kind: "local", directory: sftDirectory, amount: { rows: 10 } }],
      cacheRoot,
    });
    expect(otherAmount.key).not.toBe(first.key);
    expect(otherAmount.manifest.sources[0]?.targetRows).toBe(10);
    const otherTemplate = await prepareDataset({
      ...base,
      tokenizer: { directory: tokenizerDirectory, chatTemplate: "tulu" },
      sources,
      cacheRoot,
    });
    expect(otherTemplate.key).not.toBe(first.key);

    const shard = join(first.directory, first.manifest.shards[0]!.file);
    truncateSync(shard, Math.floor(readFileSync(shard).length / 2));
    const rebuilt = await prepareDataset({ ...base, sources, cacheRoot });
    expect(rebuilt.cacheHit).toBe(false);
    expect(rebuilt.key).toBe(first.key);
    expect(rebuilt.rebuiltBecause?.[0]).toMatch(/truncated/);
    expect(rebuilt.manifest.shards).toEqual(first.manifest.shards);
  });

  it("fails above the malformed-row threshold and leaves no cache entry", async () => {
    const cacheRoot = join(root, "cache-b");
    const failure = await prepareDataset({
      ...base,
      maximumMalformedRows: 1,
      sources: [{ kind: "local", directory: sftDirectory }],
      cacheRoot,
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "data_malformed_rows" });
    expect((failure as Error).message).toMatch(/unknown_role: 1/);
    expect(
      existsSync(join(cacheRoot, "tokenized")) ? readdirNames(join(cacheRoot, "tokenized")) : [],
    ).toEqual([]);
  });

  it("packs documents into fixed rows whose segments never cross", async () => {
    const result = await prepareDataset({
      ...base,
      sources: [{ kind: "local", directory: sftDirectory }],
      packing: { sequenceLength: 256 },
      cacheRoot: join(root, "cache-c"),
    });
    expect(result.manifest.layout).toBe("sft-packed");
    let documents = 0;
    for await (const table of readTokenizedShards({
      directory: result.directory,
      manifest: result.manifest,
    })) {
      for (let row = 0; row < table.numRows; row += 1) {
        const segments = int32Row(table, "segment_ids", row);
        const positions = int32Row(table, "position_ids", row);
        const labels = int32Row(table, "labels", row);
        expect(segments.length).toBe(256);
        for (let at = 0; at < 256; at += 1) {
          const startsDocument = segments[at] !== 0 && (at === 0 || segments[at - 1] !== segments[at]);
          if (startsDocument) {
            documents += 1;
            expect(positions[at]).toBe(0);
            expect(labels[at]).toBe(ignoredLabel);
          } else if (segments[at] !== 0) expect(positions[at]).toBe(positions[at - 1]! + 1);
          if (at > 0 && segments[at] !== 0) expect(segments[at]!).toBeGreaterThanOrEqual(segments[at - 1]!);
        }
      }
    }
    expect(documents).toBe(result.manifest.totals.documents);
  });

  it.skipIf(!existsSync(workerScriptPath()))("gives identical output with two worker threads", async () => {
    const sources: DatasetSpec[] = [{ kind: "local", directory: sftDirectory, amount: { fraction: 2 } }];
    const single = await prepareDataset({ ...base, sources, cacheRoot: join(root, "cache-d"), chunkRows: 8 });
    const parallel = await prepareDataset({
      ...base,
      sources,
      cacheRoot: join(root, "cache-e"),
      chunkRows: 8,
      workers: 2,
    });
    expect(parallel.key).toBe(single.key);
    expect(parallel.manifest.shards).toEqual(single.manifest.shards);
    expect(parallel.manifest.malformed).toEqual(single.manifest.malformed);
  });

  it("stores preference prompts once and RLVR labels", async () => {
    const preference = writeSource("preference", [
      {
        chosen: [
          { role: "user", content: "Pick one" },
          { role: "assistant", content: "A" },
        ],
        rejected: [
          { role: "user", content: "Pick one" },
          { role: "assistant", content: "B, surely" },
        ],
      },
    ]);
    const prepared = await prepareDataset({
      ...base,
      format: "preference",
      sources: [{ kind: "local", directory: preference }],
      cacheRoot: join(root, "cache-f"),
    });
    const [table] = await collect(
      readTokenizedShards({ directory: prepared.directory, manifest: prepared.manifest }),
    );
    const decode = (ids: Int32Array) => Buffer.from(ids.filter((id) => id < 256)).toString("utf8");
    expect(decode(int32Row(table!, "prompt_ids", 0))).toBe("user\nPick one\nassistant\n");
    expect(decode(int32Row(table!, "chosen_ids", 0))).toBe("A\n");
    expect(decode(int32Row(table!, "rejected_ids", 0))).toBe("B, surely\n");

    const rlvr = writeSource("rlvr", [
      { messages: [{ role: "user", content: "6*7?" }], ground_truth: "42", dataset: "gsm8k" },
    ]);
    const rlvrPrepared = await prepareDataset({
      ...base,
      format: "rlvr",
      sources: [{ kind: "local", directory: rlvr }],
      cacheRoot: join(root, "cache-f"),
    });
    const [rlvrTable] = await collect(
      readTokenizedShards({ directory: rlvrPrepared.directory, manifest: rlvrPrepared.manifest }),
    );
    expect(rlvrTable!.getChild("ground_truth")?.get(0)?.toArray()).toEqual(["42"]);
    expect(rlvrTable!.getChild("dataset")?.get(0)?.toArray()).toEqual(["gsm8k"]);
  });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

function readdirNames(directory: string): string[] {
  return readdirSync(directory);
}

describe("prepareDataset with a locked spec", () => {
  it("fails clearly when the rows differ from expect.rows", async () => {
    const directory = writeSource(
      "locked",
      Array.from({ length: 5 }, (_, index) => sftRow(index)),
    );
    const { spec } = await lockSpec({ spec: { kind: "local", directory } });
    const wrong = { ...spec, expect: { ...spec.expect!, rows: 6 } } as DatasetSpec;
    await expect(
      prepareDataset({ ...base, sources: [wrong], cacheRoot: join(root, "cache-g") }),
    ).rejects.toMatchObject({
      code: "data_expect_mismatch",
      message: expect.stringContaining("5 rows, expected 6"),
    });
  });
});
