import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listFiles } from "@huggingface/hub";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HubError } from "./errors.js";
import { listRepoFiles } from "./list.js";
import { resolveRevision } from "./resolve.js";
import { startTestHub, type TestHub } from "./test/index.js";

const token = "hf_reader";
const dataset = { type: "dataset" as const, name: "acme/qa" };
const privateDataset = { type: "dataset" as const, name: "acme/secret" };
const gatedDataset = { type: "dataset" as const, name: "acme/gated" };
const model = { type: "model" as const, name: "acme/tiny-lm" };
const retry = { attempts: 3, initialDelayMilliseconds: 1, maximumDelayMilliseconds: 5 };

let hub: TestHub;
let cacheDirectory: string;

beforeAll(async () => {
  hub = await startTestHub({
    token,
    treePageSize: 2,
    repos: [
      {
        ...dataset,
        commits: [
          { files: { "README.md": "v1", "data/train.jsonl": '{"a":1}\n', "data/test.jsonl": '{"a":2}\n' } },
          {
            files: {
              "README.md": "v2",
              "data/train.jsonl": '{"a":1}\n{"a":3}\n',
              "data/test.jsonl": '{"a":2}\n',
              "data/extra/notes.txt": "n",
            },
          },
          { files: { "default/train/0000.parquet": "PAR1-train", "default/test/0000.parquet": "PAR1-test" } },
        ],
        branches: { main: 1, "refs/convert/parquet": 2 },
      },
      { ...privateDataset, private: true, commits: [{ files: { "a.txt": "private" } }] },
      { ...gatedDataset, gated: true, commits: [{ files: { "a.txt": "gated" } }] },
      {
        ...model,
        commits: [{ files: { "config.json": "{}", "model.safetensors": new Uint8Array([1, 2, 3, 4]) } }],
      },
    ],
  });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  cacheDirectory = await mkdtemp(join(tmpdir(), "hub-resolve-"));
});
afterEach(async () => {
  await rm(cacheDirectory, { recursive: true, force: true });
});

function overrides(accessToken: string | null = null) {
  return { hubUrl: hub.url, cacheDirectory, accessToken, offline: false, retry };
}

async function failure(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

describe("resolveRevision", () => {
  it("resolves main to the branch head and records refs/main in the cache", async () => {
    const shas = hub.commitShas(dataset.name);
    const { sha } = await resolveRevision({ ...overrides(), repo: dataset });
    expect(sha).toBe(shas[1]);
    expect(await readFile(join(cacheDirectory, "datasets--acme--qa", "refs", "main"), "utf8")).toBe(shas[1]);
    // No empty snapshots/<sha>/ is created: Python's offline snapshot_download would return
    // an existing snapshot folder as if it were complete.
    await expect(stat(join(cacheDirectory, "datasets--acme--qa", "snapshots", shas[1]!))).rejects.toThrow();
  });

  it("resolves refs/convert/parquet (URL-encoded) and a SHA", async () => {
    const shas = hub.commitShas(dataset.name);
    const parquet = await resolveRevision({
      ...overrides(),
      repo: dataset,
      revision: "refs/convert/parquet",
    });
    expect(parquet.sha).toBe(shas[2]);
    expect(hub.requests.some((request) => request.url.includes("/revision/refs%2Fconvert%2Fparquet"))).toBe(
      true,
    );
    // Python's huggingface_hub stores ref R at refs/R, hence refs/refs/convert/parquet.
    const refFile = join(cacheDirectory, "datasets--acme--qa", "refs", "refs", "convert", "parquet");
    expect(await readFile(refFile, "utf8")).toBe(shas[2]);
    expect((await resolveRevision({ ...overrides(), repo: dataset, revision: shas[0]! })).sha).toBe(shas[0]);
  });

  it("resolves model repos through modelInfo", async () => {
    const { sha } = await resolveRevision({ ...overrides(), repo: model });
    expect(sha).toBe(hub.commitShas(model.name, "model")[0]);
    expect(
      hub.requests.some((request) => request.url.startsWith("/api/models/acme/tiny-lm/revision/main")),
    ).toBe(true);
  });

  it("asks for a token when the repo is private", async () => {
    const error = await failure(resolveRevision({ ...overrides(), repo: privateDataset }));
    expect(error.code).toBe("hub_unauthorized");
    expect(error.message).toContain("HF_TOKEN");
    expect(error.message).toContain("acme/secret");
    const { sha } = await resolveRevision({ ...overrides(token), repo: privateDataset });
    expect(sha).toBe(hub.commitShas(privateDataset.name)[0]);
  });

  it("rejects an invalid token as unauthorized", async () => {
    const error = await failure(resolveRevision({ ...overrides("hf_wrong"), repo: dataset }));
    expect(error.code).toBe("hub_unauthorized");
  });

  it("reports gated repos", async () => {
    expect((await failure(resolveRevision({ ...overrides(token), repo: gatedDataset }))).code).toBe(
      "hub_gated",
    );
    expect((await failure(resolveRevision({ ...overrides(), repo: gatedDataset }))).code).toBe("hub_gated");
  });

  it("reports a wrong repo name and a wrong revision", async () => {
    const missing = await failure(
      resolveRevision({ ...overrides(token), repo: { type: "dataset", name: "acme/nope" } }),
    );
    expect(missing.code).toBe("hub_not_found");
    const revision = await failure(
      resolveRevision({ ...overrides(), repo: dataset, revision: "no-such-branch" }),
    );
    expect(revision.code).toBe("hub_revision_not_found");
    expect(revision.message).toContain("no-such-branch");
    // A dataset asked for as a model is a wrong name too.
    const wrongType = await failure(
      resolveRevision({ ...overrides(token), repo: { type: "model", name: dataset.name } }),
    );
    expect(wrongType.code).toBe("hub_not_found");
  });

  it("validates the repo reference before any request", async () => {
    const before = hub.requests.length;
    await expect(
      resolveRevision({ ...overrides(), repo: { type: "dataset", name: "../etc" } }),
    ).rejects.toThrow(/name/);
    await expect(
      resolveRevision({ ...overrides(), repo: { type: "space" as "dataset", name: "acme/qa" } }),
    ).rejects.toThrow(/type/);
    expect(hub.requests.length).toBe(before);
  });

  it("retries a 503 and then succeeds; gives up with hub_transfer_failed", async () => {
    hub.setFault({ kind: "unavailable", times: 2 });
    expect((await resolveRevision({ ...overrides(), repo: dataset })).sha).toBe(
      hub.commitShas(dataset.name)[1],
    );
    hub.setFault({ kind: "unavailable", times: 5 });
    const error = await failure(resolveRevision({ ...overrides(), repo: dataset }));
    expect(error.code).toBe("hub_transfer_failed");
    expect(error.message).toContain("3 attempts");
    hub.clearFaults();
  });
});

describe("listRepoFiles", () => {
  it("lists every file recursively across paginated pages, with LFS oids and git oids", async () => {
    const [, second] = hub.commitShas(dataset.name);
    const files = await listRepoFiles({ ...overrides(), repo: dataset, revision: second! });
    expect(files.map((file) => file.path)).toEqual([
      "README.md",
      "data/extra/notes.txt",
      "data/test.jsonl",
      "data/train.jsonl",
    ]);
    const train = files.find((file) => file.path === "data/train.jsonl")!;
    expect(train.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(train.size).toBe(Buffer.byteLength('{"a":1}\n{"a":3}\n'));
    expect(files.find((file) => file.path === "README.md")!.sha256).toBeNull();
    const pages = hub.requests.filter((request) => request.url.includes(`/tree/${second}`));
    expect(pages.length).toBeGreaterThan(2);
  });

  it("filters with include globs", async () => {
    const [, second] = hub.commitShas(dataset.name);
    const files = await listRepoFiles({
      ...overrides(),
      repo: dataset,
      revision: second!,
      include: ["*.jsonl"],
    });
    expect(files.map((file) => file.path)).toEqual(["data/test.jsonl", "data/train.jsonl"]);
  });

  it("encodes refs/convert/parquet, which @huggingface/hub's listFiles puts into the URL raw", async () => {
    const files = await listRepoFiles({ ...overrides(), repo: dataset, revision: "refs/convert/parquet" });
    expect(files.map((file) => file.path)).toEqual([
      "default/test/0000.parquet",
      "default/train/0000.parquet",
    ]);
    // The library alone sends `tree/refs/convert/parquet`, which the Hub reads as revision "refs".
    const raw = listFiles({
      repo: dataset,
      revision: "refs/convert/parquet",
      recursive: true,
      hubUrl: hub.url,
    });
    await expect(raw.next()).rejects.toThrow(/Invalid rev id: refs/);
  });

  it("reports a missing revision", async () => {
    const error = await failure(listRepoFiles({ ...overrides(), repo: dataset, revision: "f".repeat(40) }));
    expect(error.code).toBe("hub_revision_not_found");
  });
});
