import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Hex } from "@posttrain/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { downloadRepoFile } from "./download.js";
import { HubError } from "./errors.js";
import { listRepoFiles } from "./list.js";
import { resolveRevision } from "./resolve.js";
import { snapshotRepo } from "./snapshot.js";
import { startTestHub, type TestHub } from "./test/index.js";

const repo = { type: "dataset" as const, name: "acme/offline" };
const files = {
  "README.md": "# offline\n",
  "data/train.jsonl": '{"x":1}\n{"x":2}\n',
  "data/test.jsonl": '{"x":3}\n',
};
const retry = { attempts: 2, initialDelayMilliseconds: 1, maximumDelayMilliseconds: 2 };

let hub: TestHub;
let cacheDirectory: string;

beforeAll(async () => {
  hub = await startTestHub({ repos: [{ ...repo, commits: [{ files: { "README.md": "old" } }, { files }] }] });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  cacheDirectory = await mkdtemp(join(tmpdir(), "hub-offline-"));
});
afterEach(async () => {
  await rm(cacheDirectory, { recursive: true, force: true });
});

const online = () => ({ hubUrl: hub.url, cacheDirectory, accessToken: null, offline: false, retry });
const offline = () => ({ ...online(), offline: true });

async function failure(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

describe("snapshotRepo", () => {
  it("downloads the files matching include at the resolved SHA", async () => {
    const snapshot = await snapshotRepo({ ...online(), repo, revision: "main", include: ["data/*"] });
    expect(snapshot.sha).toBe(hub.commitShas(repo.name)[1]);
    expect(snapshot.directory).toBe(
      join(cacheDirectory, "datasets--acme--offline", "snapshots", snapshot.sha),
    );
    expect(snapshot.files.map((file) => file.path)).toEqual(["data/test.jsonl", "data/train.jsonl"]);
    expect(await readFile(join(snapshot.directory, "data", "train.jsonl"), "utf8")).toBe(
      files["data/train.jsonl"],
    );
    expect(snapshot.files[1]!.sha256).toBe(sha256Hex(files["data/train.jsonl"]));
  });

  it("stops starting new files after one fails", async () => {
    const sha = hub.commitShas(repo.name)[1]!;
    hub.setFault({ kind: "corrupt", path: "data/test.jsonl" });
    const before = hub.requests.length;
    try {
      const error = await failure(snapshotRepo({ ...online(), repo, revision: sha, concurrency: 1 }));
      expect(error.code).toBe("hub_hash_mismatch");
      expect(error.message).toContain("data/test.jsonl");
      // Sorted order: README.md, data/test.jsonl (fails), data/train.jsonl (never started).
      const requested = hub.requests
        .slice(before)
        .filter((request) => request.url.includes("/resolve/"))
        .map((request) => request.url);
      expect(requested.some((url) => url.endsWith("/README.md"))).toBe(true);
      expect(requested.some((url) => url.endsWith("/data/train.jsonl"))).toBe(false);
    } finally {
      hub.clearFaults();
    }
  });

  it("fails clearly when include matches nothing", async () => {
    const error = await failure(
      snapshotRepo({ ...online(), repo, revision: "main", include: ["*.parquet"] }),
    );
    expect(error.code).toBe("hub_file_not_found");
    expect(error.message).toContain("*.parquet");
  });

  it("does not download again what is cached and verified", async () => {
    await snapshotRepo({ ...online(), repo, revision: "main" });
    const before = hub.requests.length;
    await snapshotRepo({ ...online(), repo, revision: "main" });
    const contentRequests = hub.requests.slice(before).filter((request) => /resolve|__lfs/.test(request.url));
    expect(contentRequests).toEqual([]);
  });
});

describe("offline mode (HF_HUB_OFFLINE=1)", () => {
  it("serves resolve, list and download from the cache without any request", async () => {
    const online_ = await snapshotRepo({ ...online(), repo, revision: "main" });
    const before = hub.requests.length;
    const { sha } = await resolveRevision({ ...offline(), repo });
    expect(sha).toBe(online_.sha);
    const listed = await listRepoFiles({ ...offline(), repo, revision: sha });
    const listedOnline = await listRepoFiles({ ...online(), repo, revision: sha });
    const afterOnlineListing = hub.requests.length;
    expect(listed).toEqual(listedOnline);
    const file = await downloadRepoFile({ ...offline(), repo, revision: "main", path: "data/train.jsonl" });
    expect(await readFile(file.localPath, "utf8")).toBe(files["data/train.jsonl"]);
    const snapshot = await snapshotRepo({ ...offline(), repo, revision: "main", include: ["*.jsonl"] });
    expect(snapshot.files.map((entry) => entry.path)).toEqual(["data/test.jsonl", "data/train.jsonl"]);
    expect(hub.requests.length - afterOnlineListing).toBe(0);
    // Even online, the listing of a commit comes from trees/<sha>.json once recorded (as in
    // huggingface_hub): a commit's file list never changes.
    expect(afterOnlineListing - before).toBe(0);
  });

  it("fails with hub_offline_missing naming what is missing", async () => {
    const branch = await failure(resolveRevision({ ...offline(), repo }));
    expect(branch.code).toBe("hub_offline_missing");
    expect(branch.message).toContain('"main"');
    const sha = hub.commitShas(repo.name)[1]!;
    // A SHA needs no resolution offline...
    expect((await resolveRevision({ ...offline(), repo, revision: sha })).sha).toBe(sha);
    // ...but its files must be cached.
    const file = await failure(downloadRepoFile({ ...offline(), repo, revision: sha, path: "README.md" }));
    expect(file.code).toBe("hub_offline_missing");
    expect(file.message).toContain("README.md");
    expect(file.message).toContain(sha);
    const listing = await failure(listRepoFiles({ ...offline(), repo, revision: sha }));
    expect(listing.code).toBe("hub_offline_missing");
  });

  it("knows the full listing offline, so an incomplete snapshot fails naming the missing file", async () => {
    const sha = hub.commitShas(repo.name)[1]!;
    await snapshotRepo({ ...online(), repo, revision: sha, include: ["data/*"] });
    const listed = await listRepoFiles({ ...offline(), repo, revision: sha });
    expect(listed.map((file) => file.path)).toEqual(["README.md", "data/test.jsonl", "data/train.jsonl"]);
    const partial = await snapshotRepo({ ...offline(), repo, revision: sha, include: ["data/*"] });
    expect(partial.files).toHaveLength(2);
    const whole = await failure(snapshotRepo({ ...offline(), repo, revision: sha }));
    expect(whole.code).toBe("hub_offline_missing");
    expect(whole.message).toContain("README.md");
  });

  it("falls back to the snapshot folder when no listing was recorded (a cache filled by Python)", async () => {
    const sha = hub.commitShas(repo.name)[1]!;
    await snapshotRepo({ ...online(), repo, revision: sha, include: ["*.md"] });
    await rm(join(cacheDirectory, "datasets--acme--offline", "trees"), { recursive: true });
    const listed = await listRepoFiles({ ...offline(), repo, revision: sha });
    expect(listed.map((file) => file.path)).toEqual(["README.md"]);
    expect(listed[0]!.gitOid).toBe(
      (await listRepoFiles({ ...online(), repo, revision: sha, include: ["*.md"] }))[0]!.gitOid,
    );
  });

  it("reports a corrupted cached file offline instead of serving it", async () => {
    const sha = hub.commitShas(repo.name)[1]!;
    const file = await downloadRepoFile({ ...online(), repo, revision: sha, path: "data/test.jsonl" });
    await writeFile(file.localPath, '{"x":4}\n');
    const error = await failure(
      downloadRepoFile({ ...offline(), repo, revision: sha, path: "data/test.jsonl" }),
    );
    expect(error.code).toBe("hub_hash_mismatch");
    expect(error.details).toMatchObject({
      expected: sha256Hex(files["data/test.jsonl"]),
      actual: sha256Hex('{"x":4}\n'),
    });
  });

  it("takes HF_HUB_OFFLINE from the environment when not overridden", async () => {
    const previous = process.env["HF_HUB_OFFLINE"];
    process.env["HF_HUB_OFFLINE"] = "1";
    try {
      const error = await failure(resolveRevision({ hubUrl: hub.url, cacheDirectory, repo }));
      expect(error.code).toBe("hub_offline_missing");
    } finally {
      if (previous === undefined) delete process.env["HF_HUB_OFFLINE"];
      else process.env["HF_HUB_OFFLINE"] = previous;
    }
  });
});
