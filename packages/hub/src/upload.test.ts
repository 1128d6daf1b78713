import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Hex } from "@posttrain/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { downloadRepoFile } from "./download.js";
import { HubError } from "./errors.js";
import { listRepoFiles } from "./list.js";
import { startTestHub, type TestHub } from "./test/index.js";
import { uploadFiles } from "./upload.js";

const token = "hf_writer";
const model = { type: "model" as const, name: "acme/checkpoints" };
const dataset = { type: "dataset" as const, name: "acme/pushed" };
const retry = { attempts: 2, initialDelayMilliseconds: 1, maximumDelayMilliseconds: 2 };

let hub: TestHub;
let cacheDirectory: string;

beforeAll(async () => {
  hub = await startTestHub({
    token,
    repos: [
      { ...model, private: true, commits: [{ files: { "README.md": "# checkpoints\n" } }] },
      { ...dataset, commits: [{ files: { ".gitattributes": "*.parquet filter=lfs\n" } }] },
    ],
  });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  cacheDirectory = await mkdtemp(join(tmpdir(), "hub-upload-"));
});
afterEach(async () => {
  await rm(cacheDirectory, { recursive: true, force: true });
});

const settings = (accessToken: string | null = token) => ({
  hubUrl: hub.url,
  cacheDirectory,
  accessToken,
  offline: false,
  retry,
});

describe("uploadFiles", () => {
  it("commits regular files inline and large-file types through LFS, keeping the other files", async () => {
    const weights = new Uint8Array(4096).map((_, index) => (index * 7) % 251);
    const { commitSha } = await uploadFiles({
      ...settings(),
      repo: model,
      files: [
        { path: "config.json", content: '{"hidden_size":64}' },
        { path: "model.safetensors", content: weights },
      ],
      commitMessage: "Add step 100",
    });
    expect(commitSha).toMatch(/^[0-9a-f]{40}$/);
    expect(hub.branchSha(model.name)).toBe(commitSha);
    expect(hub.commitShas(model.name)).toHaveLength(2);
    const stored = hub.filesAt(model.name, commitSha)!;
    expect([...stored.keys()].sort()).toEqual(["README.md", "config.json", "model.safetensors"]);
    // The weights went through the LFS batch + PUT route, the config inline in the commit.
    expect(hub.requests.some((request) => request.url.endsWith(".git/info/lfs/objects/batch"))).toBe(true);
    expect(
      hub.requests.some((request) => request.method === "PUT" && request.url.includes(sha256Hex(weights))),
    ).toBe(true);
    const listed = await listRepoFiles({ ...settings(), repo: model, revision: commitSha });
    expect(listed.find((file) => file.path === "model.safetensors")!.sha256).toBe(sha256Hex(weights));
    expect(listed.find((file) => file.path === "config.json")!.sha256).toBeNull();
    const downloaded = await downloadRepoFile({
      ...settings(),
      repo: model,
      revision: commitSha,
      path: "model.safetensors",
    });
    expect(new Uint8Array(await readFile(downloaded.localPath))).toEqual(weights);
  });

  it("commits to another branch and chains commits", async () => {
    const first = await uploadFiles({
      ...settings(),
      repo: dataset,
      files: [{ path: "data/train.parquet", content: "PAR1 rows" }],
      commitMessage: "data v1",
    });
    const second = await uploadFiles({
      ...settings(),
      repo: dataset,
      files: [{ path: "README.md", content: "card" }],
      commitMessage: "card",
    });
    expect(second.commitSha).not.toBe(first.commitSha);
    expect([...hub.filesAt(dataset.name, second.commitSha)!.keys()].sort()).toEqual([
      ".gitattributes",
      "README.md",
      "data/train.parquet",
    ]);
  });

  it("needs a token", async () => {
    const error = await uploadFiles({
      ...settings(null),
      repo: dataset,
      files: [{ path: "a.txt", content: "a" }],
      commitMessage: "anonymous",
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("hub_unauthorized");
  });

  it("fails with hub_revision_not_found for a missing branch", async () => {
    const error = await uploadFiles({
      ...settings(),
      repo: dataset,
      files: [{ path: "a.txt", content: "a" }],
      commitMessage: "to nowhere",
      branch: "no-such-branch",
    }).catch((caught: unknown) => caught);
    expect((error as HubError).code).toBe("hub_revision_not_found");
  });

  it("validates its input before any request", async () => {
    const before = hub.requests.length;
    await expect(
      uploadFiles({
        ...settings(),
        repo: dataset,
        files: [{ path: "../x", content: "a" }],
        commitMessage: "bad",
      }),
    ).rejects.toThrow(/files\[0\]\.path/);
    await expect(
      uploadFiles({ ...settings(), repo: dataset, files: [], commitMessage: "none" }),
    ).rejects.toThrow(/files/);
    await expect(
      uploadFiles({
        ...settings(),
        repo: dataset,
        files: [
          { path: "a", content: "1" },
          { path: "a", content: "2" },
        ],
        commitMessage: "twice",
      }),
    ).rejects.toThrow(/twice/);
    expect(hub.requests.length).toBe(before);
  });
});

describe("uploadFiles retries", () => {
  /** A fetch that answers 503 to the first request matching `pattern`, and records requests. */
  function flaky(pattern: RegExp, times: number) {
    const seen: Array<{ method: string; url: string; body: string | undefined }> = [];
    let left = times;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      const method = init?.method ?? "GET";
      seen.push({ method, url, body: typeof init?.body === "string" ? init.body : undefined });
      if (pattern.test(new URL(url).pathname) && left > 0) {
        left -= 1;
        return new Response("busy", { status: 503 });
      }
      return globalThis.fetch(input, init);
    };
    return { fetch, seen };
  }

  it("retries the preupload and LFS requests, and asks for LFS, not Xet", async () => {
    const { fetch, seen } = flaky(/\/preupload\//, 1);
    const weights = new Uint8Array(2048).map((_, index) => index % 13);
    const { commitSha } = await uploadFiles({
      ...settings(),
      fetch,
      wait: async () => {},
      repo: model,
      files: [{ path: "retried.safetensors", content: weights }],
      commitMessage: "retried",
    });
    expect(hub.branchSha(model.name)).toBe(commitSha);
    expect(seen.filter((request) => request.url.includes("/preupload/"))).toHaveLength(2);
    const batch = seen.find((request) => request.url.endsWith("/info/lfs/objects/batch"));
    expect(batch).toBeDefined();
    expect(JSON.parse(batch!.body!).transfers).not.toContain("xet");
  });

  it("never sends a commit twice after a 5xx", async () => {
    const before = hub.branchSha(model.name);
    const { fetch, seen } = flaky(/\/commit\//, 1);
    const error = await uploadFiles({
      ...settings(),
      fetch,
      wait: async () => {},
      repo: model,
      files: [{ path: "once.txt", content: "once" }],
      commitMessage: "once",
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HubError);
    expect(seen.filter((request) => request.url.includes("/commit/"))).toHaveLength(1);
    expect(hub.branchSha(model.name)).toBe(before);
  });
});
