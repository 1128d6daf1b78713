import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestHub, type TestHub } from "@posttrain/hub/test";
import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockSpec, materializeSource, selectDataFiles } from "./source.js";
import type { DatasetSpec } from "./spec.js";

const jsonl = (count: number, tag: string) =>
  `${Array.from({ length: count }, (_, index) =>
    JSON.stringify({
      messages: [
        { role: "user", content: `${tag} question ${index}` },
        { role: "assistant", content: `${tag} answer ${index}` },
      ],
    }),
  ).join("\n")}\n`;

describe("selectDataFiles", () => {
  const paths = [
    "README.md",
    "data/train-00000-of-00002.parquet",
    "data/train-00001-of-00002.parquet",
    "data/test-00000-of-00001.parquet",
    "default/train/0000.parquet",
    "other/validation.jsonl",
    "pretrain.jsonl",
  ];
  it("selects by split word, config folder and globs", () => {
    expect(selectDataFiles({ paths })).toEqual([
      "data/train-00000-of-00002.parquet",
      "data/train-00001-of-00002.parquet",
      "default/train/0000.parquet",
    ]);
    expect(selectDataFiles({ paths, config: "default" })).toEqual(["default/train/0000.parquet"]);
    expect(selectDataFiles({ paths, config: "other", split: "validation" })).toEqual([
      "other/validation.jsonl",
    ]);
    expect(selectDataFiles({ paths, split: "test" })).toEqual(["data/test-00000-of-00001.parquet"]);
    expect(selectDataFiles({ paths, files: ["data/*.parquet"] })).toHaveLength(3);
  });
});

describe("Hub sources against the test Hub", () => {
  let hub: TestHub;
  let overrides: { hubUrl: string; cacheDirectory: string };
  const parquet = new Uint8Array(
    parquetWriteBuffer({ columnData: [{ name: "text", data: ["a", "b", "c"], type: "STRING" }] }),
  );

  beforeAll(async () => {
    hub = await startTestHub({
      repos: [
        {
          type: "dataset",
          name: "allenai/tiny-sft",
          commits: [
            {
              files: {
                "README.md": "# tiny",
                "data/train-00000-of-00001.jsonl": jsonl(5, "v1"),
                "data/test-00000-of-00001.jsonl": jsonl(2, "v1"),
              },
            },
            { files: { "default/train/0000.parquet": parquet } },
          ],
          branches: { main: 0, "refs/convert/parquet": 1 },
        },
      ],
    });
    overrides = { hubUrl: hub.url, cacheDirectory: mkdtempSync(join(tmpdir(), "posttrain-hf-cache-")) };
  });
  afterAll(async () => {
    await hub.close();
  });

  it("locks a branch to its SHA and keeps reading the pinned rows while the branch moves", async () => {
    const { spec: locked } = await lockSpec({
      spec: { kind: "hub", repo: "allenai/tiny-sft", revision: "main", split: "train" },
      hub: overrides,
    });
    const firstSha = hub.commitShas("allenai/tiny-sft", "dataset")[0];
    expect(locked).toMatchObject({
      revision: firstSha,
      expect: { rows: 5, files: [{ path: "data/train-00000-of-00001.jsonl", size: jsonl(5, "v1").length }] },
    });
    hub.addCommit({
      repo: "allenai/tiny-sft",
      type: "dataset",
      files: { "data/train-00000-of-00001.jsonl": jsonl(9, "v2") },
    });
    const source = await materializeSource({ spec: locked, hub: overrides });
    expect(source.files.map((file) => file.sha256)).toEqual(locked.expect?.files.map((file) => file.sha256));
    const relocked = await lockSpec({
      spec: { kind: "hub", repo: "allenai/tiny-sft", revision: "main", split: "train" },
      hub: overrides,
    });
    expect(relocked.spec).not.toMatchObject({ revision: firstSha });
    expect(relocked.spec.expect?.rows).toBe(9);
  });

  it("resolves the parquet-converter branch", async () => {
    const { spec } = await lockSpec({
      spec: { kind: "hub", repo: "allenai/tiny-sft", revision: "refs/convert/parquet", config: "default" },
      hub: overrides,
    });
    expect(spec.expect).toMatchObject({ rows: 3, files: [{ path: "default/train/0000.parquet" }] });
  });

  it("fails with every difference when the files differ from expect", async () => {
    const { spec } = await lockSpec({
      spec: {
        kind: "hub",
        repo: "allenai/tiny-sft",
        revision: hub.commitShas("allenai/tiny-sft", "dataset")[0]!,
      },
      hub: overrides,
    });
    const tampered: DatasetSpec = {
      ...spec,
      expect: {
        rows: 5,
        files: [
          { path: "data/train-00000-of-00001.jsonl", size: 1, sha256: "0".repeat(64) },
          { path: "data/train-00001-of-00002.jsonl", size: 1, sha256: "1".repeat(64) },
        ],
      },
    };
    const failure = await materializeSource({ spec: tampered, hub: overrides }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: "data_expect_mismatch" });
    // Whichever layer notices first (the Hub download's expected hash or the file
    // comparison), the message names the file and the expected hash.
    expect((failure as Error).message).toMatch(/data\/train-00000-of-00001\.jsonl: .*0{64}/);
  });

  it("refuses an unpinned spec outside lock", async () => {
    await expect(
      materializeSource({
        spec: { kind: "hub", repo: "allenai/tiny-sft", revision: "main" },
        hub: overrides,
      }),
    ).rejects.toMatchObject({ code: "data_spec_unpinned" });
  });
});

describe("local sources", () => {
  it("lists, hashes and compares a folder with the same layout", async () => {
    const directory = mkdtempSync(join(tmpdir(), "posttrain-local-"));
    mkdirSync(join(directory, "data"));
    writeFileSync(join(directory, "data", "train.jsonl"), jsonl(4, "local"));
    writeFileSync(join(directory, "data", "extra-train.jsonl"), jsonl(1, "local"));
    const { spec } = await lockSpec({ spec: { kind: "local", directory } });
    expect(spec.expect?.rows).toBe(5);
    writeFileSync(join(directory, "data", "train.jsonl"), jsonl(3, "local"));
    writeFileSync(join(directory, "data", "new-train.jsonl"), jsonl(1, "local"));
    const failure = await materializeSource({ spec }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "data_expect_mismatch" });
    const message = (failure as Error).message;
    expect(message).toMatch(/data\/train\.jsonl: size \d+, expected \d+/);
    expect(message).toMatch(/data\/train\.jsonl: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    expect(message).toMatch(/unexpected file data\/new-train\.jsonl/);
  });

  it("names a missing local folder instead of leaking ENOENT", async () => {
    const directory = join(mkdtempSync(join(tmpdir(), "posttrain-local-")), "absent");
    const failure = await lockSpec({ spec: { kind: "local", directory } }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "data_no_files" });
    expect((failure as Error).message).toBe(`local dataset folder ${directory} does not exist`);
  });
});
