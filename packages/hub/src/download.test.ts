import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadFileToCacheDir, scanCacheDir } from "@huggingface/hub";
import { sha256Hex } from "@posttrain/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { downloadRepoFile } from "./download.js";
import { HubError } from "./errors.js";
import { gitBlobOid } from "./git-oid.js";
import { resolveRevision } from "./resolve.js";
import { snapshotRepo } from "./snapshot.js";
import { startTestHub, type TestHub } from "./test/index.js";

const token = "hf_test_token";
const repo = { type: "dataset" as const, name: "acme/math" };
const trainV1 = Array.from({ length: 200 }, (_, index) =>
  JSON.stringify({ id: index, q: `${index}+1` }),
).join("\n");
const trainV2 = `${trainV1}\n{"id":200}`;
const fastRetry = { attempts: 4, initialDelayMilliseconds: 5, maximumDelayMilliseconds: 20 };

let hub: TestHub;
let cacheDirectory: string;

beforeAll(async () => {
  hub = await startTestHub({
    token,
    repos: [
      {
        ...repo,
        commits: [
          { files: { "README.md": "# math v1\n", "data/train.jsonl": trainV1 }, message: "v1" },
          { files: { "README.md": "# math v2\n", "data/train.jsonl": trainV2 }, message: "v2" },
        ],
      },
    ],
  });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  cacheDirectory = await mkdtemp(join(tmpdir(), "hub-cache-"));
  hub.clearFaults();
});
afterEach(async () => {
  await rm(cacheDirectory, { recursive: true, force: true });
});

function overrides() {
  return { hubUrl: hub.url, cacheDirectory, accessToken: null, offline: false, retry: fastRetry };
}

/** Full-content GETs of LFS objects (the CDN route) since request number `since`. */
function lfsObjectGets(since: number): number {
  return hub.requests
    .slice(since)
    .filter(
      (request) =>
        request.method === "GET" && request.url.startsWith("/__lfs/objects/") && request.range === undefined,
    ).length;
}

async function allFiles(directory: string): Promise<string[]> {
  return (await readdir(directory, { recursive: true })).map(String).sort();
}

describe("downloadRepoFile", () => {
  it("downloads an LFS file into the HF cache layout, verified against the LFS oid", async () => {
    const [, second] = hub.commitShas(repo.name);
    const file = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: second!,
      path: "data/train.jsonl",
    });
    expect(file.sha256).toBe(sha256Hex(trainV2));
    expect(file.size).toBe(Buffer.byteLength(trainV2));
    expect(file.localPath).toBe(
      join(cacheDirectory, "datasets--acme--math", "snapshots", second!, "data", "train.jsonl"),
    );
    expect(await readFile(file.localPath, "utf8")).toBe(trainV2);
    expect(await readlink(file.localPath)).toBe(join("..", "..", "..", "blobs", sha256Hex(trainV2)));
  });

  it("names non-LFS blobs by their git oid, as Python does", async () => {
    const [, second] = hub.commitShas(repo.name);
    const file = await downloadRepoFile({ ...overrides(), repo, revision: second!, path: "README.md" });
    const blob = await readlink(file.localPath);
    expect(blob.endsWith(gitBlobOid(Buffer.from("# math v2\n")))).toBe(true);
  });

  it("produces a cache @huggingface/hub's own downloadFileToCacheDir reads without a request", async () => {
    const [, second] = hub.commitShas(repo.name);
    await downloadRepoFile({ ...overrides(), repo, revision: second!, path: "data/train.jsonl" });
    const before = hub.requests.length;
    const pointer = await downloadFileToCacheDir({
      repo: { type: "dataset", name: repo.name },
      path: "data/train.jsonl",
      revision: second!,
      hubUrl: hub.url,
      cacheDir: cacheDirectory,
    });
    expect(await readFile(pointer, "utf8")).toBe(trainV2);
    expect(hub.requests.length).toBe(before);
    const scan = await scanCacheDir(cacheDirectory);
    expect(scan.warnings).toEqual([]);
    expect(scan.repos.map((entry) => entry.id)).toEqual([{ type: "dataset", name: "acme/math" }]);
    // The library's scanner does not descend into snapshot subfolders: check a top-level file.
    await downloadRepoFile({ ...overrides(), repo, revision: second!, path: "README.md" });
    const rescan = await scanCacheDir(cacheDirectory);
    const files = rescan.repos[0]!.revisions[0]!.files;
    expect(files.map((entry) => [entry.path, entry.blob.size])).toEqual([
      [
        join(cacheDirectory, "datasets--acme--math", "snapshots", second!, "README.md"),
        Buffer.byteLength("# math v2\n"),
      ],
    ]);
  });

  it("keeps serving a pinned SHA while the branch moves", async () => {
    const [first] = hub.commitShas(repo.name);
    const pinned = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "README.md" });
    expect(await readFile(pinned.localPath, "utf8")).toBe("# math v1\n");
    const moved = hub.addCommit({ repo: repo.name, files: { "README.md": "# math v3\n" } });
    const { sha } = await resolveRevision({ ...overrides(), repo });
    expect(sha).toBe(moved);
    const again = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "README.md" });
    expect(await readFile(again.localPath, "utf8")).toBe("# math v1\n");
  });

  it("re-downloads a corrupted cached file", async () => {
    const [first] = hub.commitShas(repo.name);
    const file = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "data/train.jsonl" });
    const blob = join(cacheDirectory, "datasets--acme--math", "blobs", sha256Hex(trainV1));
    await writeFile(blob, "garbage");
    const repaired = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "data/train.jsonl",
    });
    expect(repaired.sha256).toBe(sha256Hex(trainV1));
    expect(await readFile(file.localPath, "utf8")).toBe(trainV1);
  });

  it("fails with hub_hash_mismatch when the upstream file is corrupt, leaving nothing in the cache", async () => {
    const [first] = hub.commitShas(repo.name);
    hub.setFault({ kind: "corrupt", path: "data/train.jsonl" });
    const before = hub.requests.length;
    const error = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "data/train.jsonl",
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("hub_hash_mismatch");
    expect((error as HubError).message).toContain("acme/math");
    expect((error as HubError).message).toContain(first);
    expect((error as HubError).message).toContain("data/train.jsonl");
    expect((error as HubError).details).toMatchObject({
      expected: sha256Hex(trainV1),
      path: "data/train.jsonl",
    });
    expect((error as HubError).details?.["actual"]).not.toBe(sha256Hex(trainV1));
    // Downloaded, found corrupt, downloaded once more, then failed.
    expect(lfsObjectGets(before)).toBe(2);
    const left = await allFiles(join(cacheDirectory, "datasets--acme--math"));
    expect(left.filter((name) => name.startsWith("blobs/") && name !== "blobs")).toEqual([]);
  });

  it("retries a transfer cut half-way and never leaves a truncated file", async () => {
    const [first] = hub.commitShas(repo.name);
    hub.setFault({ kind: "cut", path: "data/train.jsonl", times: 2 });
    const before = hub.requests.length;
    const file = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "data/train.jsonl" });
    expect(file.sha256).toBe(sha256Hex(trainV1));
    // Two cut transfers, each resumed where it stopped (huggingface_hub's http_get), then the rest.
    const total = Buffer.byteLength(trainV1);
    const firstCut = Math.floor(total / 2);
    const secondCut = firstCut + Math.floor((total - firstCut) / 2);
    const ranges = hub.requests
      .slice(before)
      .filter((request) => request.method === "GET" && request.url.startsWith("/__lfs/objects/"))
      .map((request) => request.range);
    expect(ranges).toEqual([undefined, `bytes=${firstCut}-`, `bytes=${secondCut}-`]);
    expect(lfsObjectGets(before)).toBe(1);
    const blobs = await readdir(join(cacheDirectory, "datasets--acme--math", "blobs"));
    expect(blobs).toEqual([sha256Hex(trainV1)]);
  });

  it("retries 503 answers with backoff", async () => {
    const [first] = hub.commitShas(repo.name);
    hub.setFault({ kind: "unavailable", path: "README.md", times: 2 });
    const before = hub.requests.length;
    const file = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "README.md" });
    expect(await readFile(file.localPath, "utf8")).toBe("# math v1\n");
    const resolves = hub.requests.slice(before).filter((request) => request.url.includes("/resolve/"));
    // Two 503s, then the answer: each request is retried on its own.
    expect(resolves.length).toBe(3);
  });

  it("keeps resuming a transfer cut again and again while data arrives (the retry count resets)", async () => {
    const [first] = hub.commitShas(repo.name);
    // More cuts than attempts (4): each cut still delivers half of what was asked for.
    hub.setFault({ kind: "cut", path: "data/train.jsonl", times: 8 });
    const before = hub.requests.length;
    const file = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "data/train.jsonl" });
    expect(file.sha256).toBe(sha256Hex(trainV1));
    const gets = hub.requests
      .slice(before)
      .filter((request) => request.method === "GET" && request.url.startsWith("/__lfs/objects/"));
    expect(gets).toHaveLength(9);
    const storage = join(cacheDirectory, "datasets--acme--math");
    expect((await allFiles(join(storage, "blobs"))).filter((name) => name.includes(".tmp-"))).toEqual([]);
  });
});

describe("downloadRepoFile, more cases", () => {
  it("verifies non-LFS files by git blob oid and repairs them", async () => {
    const [first] = hub.commitShas(repo.name);
    const file = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "README.md" });
    await writeFile(file.localPath, "# math v9\n");
    const repaired = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "README.md" });
    expect(await readFile(repaired.localPath, "utf8")).toBe("# math v1\n");
    expect(repaired.sha256).toBe(sha256Hex("# math v1\n"));
  });

  it("checks expectedSha256 against the Hub's oid and against non-LFS content", async () => {
    const [first] = hub.commitShas(repo.name);
    const wrong = "0".repeat(64);
    const lfs = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "data/train.jsonl",
      expectedSha256: wrong,
    }).catch((caught: unknown) => caught);
    expect((lfs as HubError).code).toBe("hub_hash_mismatch");
    expect((lfs as HubError).details).toMatchObject({ expected: wrong, actual: sha256Hex(trainV1) });
    const plain = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "README.md",
      expectedSha256: wrong,
    }).catch((caught: unknown) => caught);
    expect((plain as HubError).code).toBe("hub_hash_mismatch");
    expect((plain as HubError).details).toMatchObject({
      expected: wrong,
      actual: sha256Hex("# math v1\n"),
      definitive: true,
    });
    // The README is intact in the cache after that: the wrong expectation did not evict it.
    const cached = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "README.md" });
    const requests = hub.requests.length;
    const again = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "README.md",
      expectedSha256: wrong,
    }).catch((caught: unknown) => caught);
    expect((again as HubError).details).toMatchObject({ definitive: true });
    expect(hub.requests.length).toBe(requests);
    expect(await readFile(cached.localPath, "utf8")).toBe("# math v1\n");
    const right = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "README.md",
      expectedSha256: sha256Hex("# math v1\n"),
    });
    expect(right.sha256).toBe(sha256Hex("# math v1\n"));
  });

  it("reports a missing file and refuses unsafe paths before any request", async () => {
    const [first] = hub.commitShas(repo.name);
    const missing = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "nope.txt",
    }).catch((caught: unknown) => caught);
    expect((missing as HubError).code).toBe("hub_file_not_found");
    expect((missing as HubError).message).toContain("nope.txt");
    const before = hub.requests.length;
    for (const path of ["../escape", "/abs", "a//b", "a/./b"]) {
      await expect(downloadRepoFile({ ...overrides(), repo, revision: first!, path })).rejects.toThrow(
        /path/,
      );
    }
    expect(hub.requests.length).toBe(before);
  });

  it("lets concurrent downloads of the same file both succeed", async () => {
    const [first] = hub.commitShas(repo.name);
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        downloadRepoFile({ ...overrides(), repo, revision: first!, path: "data/train.jsonl" }),
      ),
    );
    for (const result of results) expect(result.sha256).toBe(sha256Hex(trainV1));
    expect(await readdir(join(cacheDirectory, "datasets--acme--math", "blobs"))).toEqual([
      sha256Hex(trainV1),
    ]);
  });

  it("links a blob already cached for another commit instead of downloading it again", async () => {
    const shas = hub.commitShas(repo.name);
    const moved = hub.addCommit({
      repo: repo.name,
      files: { "README.md": "# math v1\n", "data/train.jsonl": trainV1 },
    });
    await downloadRepoFile({ ...overrides(), repo, revision: shas[0]!, path: "data/train.jsonl" });
    const before = hub.requests.length;
    const relinked = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: moved,
      path: "data/train.jsonl",
    });
    expect(relinked.localPath).toContain(moved);
    expect(lfsObjectGets(before)).toBe(0);
  });

  it("explains a malformed token", async () => {
    const [first] = hub.commitShas(repo.name);
    const error = await downloadRepoFile({
      ...overrides(),
      accessToken: "not-a-token",
      repo,
      revision: first!,
      path: "README.md",
    }).catch((caught: unknown) => caught);
    expect((error as HubError).code).toBe("hub_unauthorized");
    expect((error as HubError).message).toContain("hf_");
  });
});

describe("leftovers of killed downloads", () => {
  it("removes stale temporaries of dead processes and the library's .incomplete file, keeping live ones", async () => {
    const [first] = hub.commitShas(repo.name);
    const blobs = join(cacheDirectory, "datasets--acme--math", "blobs");
    const name = sha256Hex(trainV1);
    await mkdir(blobs, { recursive: true });
    // PID 2^22 + 1 exceeds the largest pid_max Linux allows (2^22), so no live process has it.
    await writeFile(join(blobs, `.tmp-${name}.4194305.abcd`), "partial");
    await writeFile(join(blobs, `${name}.incomplete`), "partial");
    await writeFile(join(blobs, `.tmp-${name}.${process.ppid}.beef`), "a live writer");
    await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "data/train.jsonl" });
    expect((await readdir(blobs)).sort()).toEqual([`.tmp-${name}.${process.ppid}.beef`, name].sort());
  });
});

describe("verification memo of cached blobs", () => {
  const memoOf = (name: string) =>
    join(cacheDirectory, "datasets--acme--math", ".posttrain", "verified", `${name}.json`);

  it("catches a same-size corruption even when the modification time is put back", async () => {
    const [first] = hub.commitShas(repo.name);
    const file = await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "data/train.jsonl" });
    const before = await stat(file.localPath);
    const bytes = await readFile(file.localPath);
    bytes[10] = bytes[10]! ^ 0x01;
    await writeFile(file.localPath, bytes);
    await utimes(file.localPath, before.atime, before.mtime);
    const requests = hub.requests.length;
    const repaired = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "data/train.jsonl",
    });
    expect(repaired.sha256).toBe(sha256Hex(trainV1));
    expect(lfsObjectGets(requests)).toBe(1);
  });

  it("trusts the memo of an unchanged blob, and rehashCachedFiles bypasses it", async () => {
    const [first] = hub.commitShas(repo.name);
    await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "data/train.jsonl" });
    const name = sha256Hex(trainV1);
    const memo = JSON.parse(await readFile(memoOf(name), "utf8")) as { sha256: string };
    expect(memo.sha256).toBe(name);
    // A memo that lies (same identity, wrong digest) is believed without rehashing, and the
    // mismatch it implies makes the file be fetched again...
    await writeFile(memoOf(name), JSON.stringify({ ...memo, sha256: "1".repeat(64) }));
    let requests = hub.requests.length;
    await downloadRepoFile({ ...overrides(), repo, revision: first!, path: "data/train.jsonl" });
    expect(lfsObjectGets(requests)).toBe(1);
    // ...while rehashCachedFiles hashes the blob itself and finds it intact.
    const fresh = JSON.parse(await readFile(memoOf(name), "utf8")) as { sha256: string };
    await writeFile(memoOf(name), JSON.stringify({ ...fresh, sha256: "1".repeat(64) }));
    requests = hub.requests.length;
    const file = await downloadRepoFile({
      ...overrides(),
      repo,
      revision: first!,
      path: "data/train.jsonl",
      rehashCachedFiles: true,
    });
    expect(file.sha256).toBe(name);
    expect(lfsObjectGets(requests)).toBe(0);
  });

  it("reports byte progress that adds up, through snapshotRepo", async () => {
    const [first] = hub.commitShas(repo.name);
    hub.setFault({ kind: "cut", path: "data/train.jsonl" });
    const events: Array<{ bytesCompleted: number; bytesTotal: number; file?: unknown }> = [];
    const snapshot = await snapshotRepo({
      ...overrides(),
      repo,
      revision: first!,
      onProgress: (event) => events.push(event),
    });
    const last = events.at(-1)!;
    expect(last.bytesCompleted).toBe(last.bytesTotal);
    expect(last.bytesTotal).toBe(Buffer.byteLength(trainV1) + Buffer.byteLength("# math v1\n"));
    expect(events.filter((event) => event.file !== undefined)).toHaveLength(snapshot.files.length);
    expect(Math.max(...events.map((event) => event.bytesCompleted))).toBeLessThanOrEqual(last.bytesTotal);
  });
});
