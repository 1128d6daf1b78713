import { fileDownloadInfo, listFiles, pathsInfo } from "@huggingface/hub";
import { sha256Hex } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitBlobOid, lfsPointerText } from "../git-oid.js";
import { type FixtureRepo, startTestHub, type TestHub } from "./index.js";

const weights = new Uint8Array(1000).map((_, index) => index % 256);
const fixtures: FixtureRepo[] = [
  {
    type: "model",
    name: "acme/lm",
    commits: [
      { files: { "config.json": '{"a":1}', "model.safetensors": weights, "nested/deep/file.txt": "deep" } },
    ],
    branches: { v1: 0 },
  },
  { type: "dataset", name: "acme/lm", commits: [{ files: { "x.txt": "dataset with the same name" } }] },
];

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub({ repos: fixtures, treePageSize: 2 });
});
afterAll(async () => {
  await hub.close();
});

describe("startTestHub", () => {
  it("listens on 127.0.0.1 and derives the same commit SHAs from the same fixtures", async () => {
    expect(hub.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const other = await startTestHub({ repos: fixtures });
    try {
      expect(other.commitShas("acme/lm", "model")).toEqual(hub.commitShas("acme/lm", "model"));
      expect(other.commitShas("acme/lm", "dataset")).not.toEqual(hub.commitShas("acme/lm", "model"));
    } finally {
      await other.close();
    }
    expect(hub.commitShas("acme/lm", "model")[0]).toMatch(/^[0-9a-f]{40}$/);
  });

  it("answers an LFS resolve with the Hub's headers and a redirect to the object", async () => {
    const sha = hub.commitShas("acme/lm", "model")[0]!;
    const response = await fetch(`${hub.url}/acme/lm/resolve/main/model.safetensors`, {
      method: "HEAD",
      redirect: "manual",
    });
    expect(response.status).toBe(302);
    expect(response.headers.get("x-repo-commit")).toBe(sha);
    expect(response.headers.get("x-linked-etag")).toBe(`"${sha256Hex(weights)}"`);
    expect(response.headers.get("x-linked-size")).toBe("1000");
    expect(response.headers.get("etag")).toBe(
      `"${gitBlobOid(Buffer.from(lfsPointerText({ sha256: sha256Hex(weights), size: 1000 })))}"`,
    );
    const object = await fetch(new URL(response.headers.get("location")!, hub.url), {
      headers: { Range: "bytes=10-19" },
    });
    expect(object.status).toBe(206);
    expect(object.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(new Uint8Array(await object.arrayBuffer())).toEqual(weights.subarray(10, 20));
  });

  it("serves non-LFS files directly, raw LFS pointers, and the size probe of @huggingface/hub", async () => {
    const config = await fetch(`${hub.url}/acme/lm/resolve/v1/config.json`);
    expect(config.status).toBe(200);
    expect(config.headers.get("etag")).toBe(`"${gitBlobOid(Buffer.from('{"a":1}'))}"`);
    expect(await config.text()).toBe('{"a":1}');
    const raw = await fetch(`${hub.url}/acme/lm/raw/main/model.safetensors`);
    expect(await raw.text()).toBe(lfsPointerText({ sha256: sha256Hex(weights), size: 1000 }));
    const info = await fileDownloadInfo({
      repo: { type: "model", name: "acme/lm" },
      path: "model.safetensors",
      hubUrl: hub.url,
    });
    expect(info?.size).toBe(1000);
    const dataset = await fetch(`${hub.url}/datasets/acme/lm/resolve/main/x.txt`);
    expect(await dataset.text()).toBe("dataset with the same name");
  });

  it("pages the tree with Link headers and lists folders when not recursive", async () => {
    const repo = { type: "model" as const, name: "acme/lm" };
    const recursive = [];
    for await (const entry of listFiles({ repo, recursive: true, hubUrl: hub.url }))
      recursive.push(entry.path);
    expect(recursive).toEqual([
      "config.json",
      "model.safetensors",
      "nested",
      "nested/deep",
      "nested/deep/file.txt",
    ]);
    const top = [];
    for await (const entry of listFiles({ repo, hubUrl: hub.url })) top.push(`${entry.type}:${entry.path}`);
    expect(top).toEqual(["file:config.json", "file:model.safetensors", "directory:nested"]);
    const sub = [];
    for await (const entry of listFiles({ repo, path: "nested", recursive: true, hubUrl: hub.url }))
      sub.push(entry.path);
    expect(sub).toEqual(["nested/deep", "nested/deep/file.txt"]);
  });

  it("answers paths-info with lastCommit, as downloadFileToCacheDir expects", async () => {
    const [entry] = await pathsInfo({
      repo: { type: "model", name: "acme/lm" },
      paths: ["model.safetensors"],
      expand: true,
      hubUrl: hub.url,
    });
    expect(entry?.lfs?.oid).toBe(sha256Hex(weights));
    expect(entry?.lastCommit.id).toBe(hub.commitShas("acme/lm", "model")[0]);
  });

  it("sends the Hub's X-Error-Code on errors", async () => {
    const codes = async (path: string) => (await fetch(`${hub.url}${path}`)).headers.get("x-error-code");
    expect(await codes("/api/models/acme/none/revision/main")).toBe("RepoNotFound");
    expect(await codes("/api/models/acme/lm/revision/nope")).toBe("RevisionNotFound");
    expect(await codes("/acme/lm/resolve/main/nope.txt")).toBe("EntryNotFound");
  });

  it("moves branches with addCommit and injects faults", async () => {
    const before = hub.branchSha("acme/lm", "main", "dataset");
    const moved = hub.addCommit({ repo: "acme/lm", type: "dataset", files: { "x.txt": "v2" } });
    expect(moved).not.toBe(before);
    expect(hub.branchSha("acme/lm", "main", "dataset")).toBe(moved);
    expect(hub.filesAt("acme/lm", before!, "dataset")?.get("x.txt")?.toString()).toBe(
      "dataset with the same name",
    );
    hub.setFault({ kind: "unavailable", times: 1, status: 502 });
    expect((await fetch(`${hub.url}/api/datasets/acme/lm/revision/main`)).status).toBe(502);
    expect((await fetch(`${hub.url}/api/datasets/acme/lm/revision/main`)).status).toBe(200);
    hub.setFault({ kind: "cut", path: "x.txt" });
    await expect(
      fetch(`${hub.url}/datasets/acme/lm/resolve/main/x.txt`).then((response) => response.text()),
    ).rejects.toThrow();
    expect(
      await fetch(`${hub.url}/datasets/acme/lm/resolve/main/x.txt`).then((response) => response.text()),
    ).toBe("v2");
  });

  it("stops listening when closed", async () => {
    const temporary = await startTestHub({ repos: fixtures });
    await temporary.close();
    await expect(fetch(`${temporary.url}/api/models/acme/lm/revision/main`)).rejects.toThrow();
  });
});
