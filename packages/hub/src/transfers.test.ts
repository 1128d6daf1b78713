import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { downloadRepoFile } from "./download.js";
import { HubError } from "./errors.js";
import { gitBlobOid } from "./git-oid.js";
import { listRepoFiles } from "./list.js";
import { resolveRevision } from "./resolve.js";
import type { RetryEvent } from "./settings.js";
import { snapshotRepo } from "./snapshot.js";
import { type CdnHub, startCdnHub, startTestHub } from "./test/index.js";

/**
 * Transfers against the second, independent Hub double (test/cdn-hub.ts): resolve on
 * one origin, LFS on another, Xet through a bridge on a third.
 */
const token = "hf_cdn_reader";
const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");
const big = Buffer.from(Array.from({ length: 4000 }, (_, index) => index % 251));
const xetContent = Buffer.from(Array.from({ length: 3000 }, (_, index) => (index * 7) % 256));
const oddPaths = {
  "notes/a#b?.txt": "hash and question mark\n",
  "dir with space/100%.txt": "percent\n",
  "données/é.txt": "unicode\n",
};
const dataset = {
  type: "dataset" as const,
  id: "acme/cdn",
  files: {
    ".gitkeep": { content: "" },
    "empty.bin": { content: "", storage: "lfs" as const },
    "README.md": { content: "# cdn\n" },
    "data/train.bin": { content: big, storage: "lfs" as const },
    "data/copy.bin": { content: big, storage: "lfs" as const },
    "model.safetensors": { content: xetContent, storage: "xet" as const },
    ...Object.fromEntries(Object.entries(oddPaths).map(([path, content]) => [path, { content }])),
  },
};
const repo = { type: "dataset" as const, name: "acme/cdn" };

let hub: CdnHub;
let cacheDirectory: string;
let waits: number[];
let retries: RetryEvent[];

function settings(extra: Record<string, unknown> = {}) {
  return {
    hubUrl: hub.hubUrl,
    cacheDirectory,
    accessToken: null,
    offline: false,
    retry: { attempts: 5, initialDelayMilliseconds: 10, maximumDelayMilliseconds: 40 },
    // No test waits on a clock: waits are recorded and return at once.
    wait: async (milliseconds: number) => {
      waits.push(milliseconds);
    },
    onRetry: (event: RetryEvent) => retries.push(event),
    ...extra,
  };
}

async function failure(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

beforeAll(async () => {
  hub = await startCdnHub({
    token,
    repos: [
      dataset,
      { type: "model", id: "acme/private", private: true, files: { "a.txt": { content: "secret\n" } } },
      { type: "model", id: "acme/gated", gated: true, files: { "a.txt": { content: "g\n" } } },
      { type: "model", id: "acme/scoped", forbidden: true, files: { "a.txt": { content: "s\n" } } },
      { type: "model", id: "acme/disabled", disabled: true, files: { "a.txt": { content: "d\n" } } },
    ],
  });
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  cacheDirectory = await mkdtemp(join(tmpdir(), "hub-cdn-"));
  waits = [];
  retries = [];
  hub.faults.length = 0;
  hub.rateLimit.resolvesPerWindow = Number.POSITIVE_INFINITY;
  hub.rateLimit.limitedAnswers = 1;
  hub.rateLimit.resolvesUsed = 0;
});
afterEach(async () => {
  await rm(cacheDirectory, { recursive: true, force: true });
});

describe("the CDN split", () => {
  it("snapshots every file: empty ones, LFS through the CDN, Xet through the bridge, odd paths", async () => {
    const before = hub.requests.length;
    const snapshot = await snapshotRepo({ ...settings(), repo, revision: "main" });
    expect(snapshot.sha).toBe(hub.commitOf("acme/cdn"));
    expect(snapshot.files.map((file) => file.path).sort()).toEqual(Object.keys(dataset.files).sort());
    for (const file of snapshot.files) {
      const expected = Buffer.from(dataset.files[file.path as keyof typeof dataset.files].content);
      expect(await readFile(file.localPath)).toEqual(expected);
    }
    const sent = hub.requests.slice(before);
    // Link pagination (2 entries a page) was followed: every file was listed.
    expect(sent.filter((request) => request.url.includes("/tree/")).length).toBe(5);
    // LFS from the CDN origin, Xet from the bridge, never with the Hub token.
    expect(
      sent.some((request) => request.origin === "lfs" && request.url.startsWith(`/${sha256(big)}`)),
    ).toBe(true);
    expect(
      sent.some((request) => request.origin === "xet" && request.url.startsWith(`/${sha256(xetContent)}`)),
    ).toBe(true);
  });

  it("verifies a Xet file against its LFS sha256 and sends no token past the Hub's origin", async () => {
    const before = hub.requests.length;
    const file = await downloadRepoFile({
      ...settings({ accessToken: token }),
      repo,
      revision: hub.commitOf("acme/cdn"),
      path: "model.safetensors",
    });
    expect(file.sha256).toBe(sha256(xetContent));
    const sent = hub.requests.slice(before);
    const resolve = sent.find((request) => request.url.includes("/resolve/"))!;
    expect(resolve.authorized).toBe(true);
    // One resolve request per Xet file (no HEAD probe before the GET).
    expect(sent.filter((request) => request.url.includes("/resolve/"))).toHaveLength(1);
    const bridge = sent.filter((request) => request.origin === "xet");
    expect(bridge).toHaveLength(1);
    expect(bridge[0]!.authorized).toBe(false);
    // The blob is named by the LFS sha256, as huggingface_hub names Xet blobs too.
    expect(await readdir(join(cacheDirectory, "datasets--acme--cdn", "blobs"))).toEqual([sha256(xetContent)]);
  });

  it("refuses a single file above 50 GB before any request, naming the Xet protocol", async () => {
    const before = hub.requests.length;
    const error = await failure(
      downloadRepoFile({
        ...settings(),
        repo,
        revision: hub.commitOf("acme/cdn"),
        path: "model.safetensors",
        file: { path: "model.safetensors", size: 60e9, sha256: "f".repeat(64), gitOid: "e".repeat(40) },
      }),
    );
    expect(error.code).toBe("hub_file_too_large");
    expect(error.message).toContain("Xet");
    expect(hub.requests.length).toBe(before);
  });

  it("percent-encodes #, ?, %, spaces and non-ASCII characters per path segment", async () => {
    const sha = hub.commitOf("acme/cdn");
    const before = hub.requests.length;
    for (const [path, content] of Object.entries(oddPaths)) {
      const file = await downloadRepoFile({ ...settings(), repo, revision: sha, path });
      expect(await readFile(file.localPath, "utf8")).toBe(content);
    }
    const urls = hub.requests
      .slice(before)
      .filter((request) => request.url.includes("/resolve/"))
      .map((request) => request.url);
    expect(urls).toEqual([
      `/datasets/acme/cdn/resolve/${sha}/notes/a%23b%3F.txt`,
      `/datasets/acme/cdn/resolve/${sha}/dir%20with%20space/100%25.txt`,
      `/datasets/acme/cdn/resolve/${sha}/donn%C3%A9es/%C3%A9.txt`,
    ]);
  });
});

describe("rate limits", () => {
  it("waits out a 429's RateLimit window (+1 s) and carries on, reporting the wait", async () => {
    const sha = hub.commitOf("acme/cdn");
    hub.rateLimit.resolvesPerWindow = 1;
    hub.rateLimit.resetInSeconds = 60;
    await downloadRepoFile({ ...settings(), repo, revision: sha, path: "README.md" });
    const file = await downloadRepoFile({ ...settings(), repo, revision: sha, path: "notes/a#b?.txt" });
    expect(await readFile(file.localPath, "utf8")).toBe(oddPaths["notes/a#b?.txt"]);
    expect(waits).toEqual([61_000]);
    expect(retries).toEqual([
      expect.objectContaining({ reason: "rate-limited", status: 429, delayMilliseconds: 61_000, attempt: 2 }),
    ]);
  });

  it("reports a rate-limit wait in snapshotRepo's progress", async () => {
    hub.rateLimit.resolvesPerWindow = 2;
    hub.rateLimit.resetInSeconds = 30;
    const events: Array<RetryEvent | undefined> = [];
    await snapshotRepo({
      ...settings(),
      repo,
      revision: "main",
      include: ["*.md", "notes/*", "data/train.bin"],
      concurrency: 1,
      onProgress: (event) => events.push(event.retry),
    });
    const waited = events.filter((event) => event !== undefined);
    expect(waited).toEqual([expect.objectContaining({ reason: "rate-limited", delayMilliseconds: 31_000 })]);
    expect(waits).toEqual([31_000]);
  });

  it("honours Retry-After on a 503", async () => {
    hub.faults.push({ kind: "status", path: "README.md", status: 503, retryAfterSeconds: 7 });
    await downloadRepoFile({ ...settings(), repo, revision: hub.commitOf("acme/cdn"), path: "README.md" });
    expect(waits).toEqual([8_000]);
  });

  it("gives up with hub_rate_limited when the window would pass the bound on waiting", async () => {
    hub.rateLimit.resolvesPerWindow = 0;
    hub.rateLimit.limitedAnswers = 100;
    hub.rateLimit.resetInSeconds = 300;
    const error = await failure(
      downloadRepoFile({
        ...settings({ maximumRateLimitWaitMilliseconds: 60_000 }),
        repo,
        revision: hub.commitOf("acme/cdn"),
        path: "README.md",
      }),
    );
    expect(error.code).toBe("hub_rate_limited");
    expect(error.details?.["retryAfterSeconds"]).toBe(300);
    expect(error.message).toContain("HTTP 429");
    expect(waits).toEqual([]);
  });
});

describe("resumable downloads", () => {
  it("resumes a connection cut at 50% with Range: bytes=<cut>-", async () => {
    hub.faults.push({ kind: "cut", path: "data/train.bin", afterBytes: big.byteLength / 2 });
    const before = hub.requests.length;
    const file = await downloadRepoFile({
      ...settings(),
      repo,
      revision: hub.commitOf("acme/cdn"),
      path: "data/train.bin",
    });
    expect(file.sha256).toBe(sha256(big));
    const cdn = hub.requests.slice(before).filter((request) => request.origin === "lfs");
    expect(cdn.map((request) => request.range)).toEqual([undefined, `bytes=${big.byteLength / 2}-`]);
    expect(retries.map((event) => event.reason)).toEqual(["connection"]);
  });

  it("restarts cleanly when the server answers a range with the whole file (200)", async () => {
    hub.faults.push({ kind: "cut", path: "data/train.bin", afterBytes: 1500 });
    hub.faults.push({ kind: "ignoreRange", path: "data/train.bin" });
    const file = await downloadRepoFile({
      ...settings(),
      repo,
      revision: hub.commitOf("acme/cdn"),
      path: "data/train.bin",
    });
    expect(await readFile(file.localPath)).toEqual(big);
  });

  it("takes a 416 to a resume at the end of the file as the end of the transfer", async () => {
    // The connection breaks after the last byte arrived: the resume asks for bytes=4000-,
    // which the CDN answers 416 (Content-Range: bytes */4000).
    let broken = false;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      if (broken || !String(input).startsWith(hub.lfsUrl)) return response;
      broken = true;
      const whole = new Uint8Array(await response.arrayBuffer());
      let pulls = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls += 1;
          if (pulls === 1) controller.enqueue(whole);
          else controller.error(new TypeError("terminated"));
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const before = hub.requests.length;
    const file = await downloadRepoFile({
      ...settings({ fetch }),
      repo,
      revision: hub.commitOf("acme/cdn"),
      path: "data/train.bin",
    });
    expect(file.sha256).toBe(sha256(big));
    const cdn = hub.requests.slice(before).filter((request) => request.origin === "lfs");
    expect(cdn.map((request) => request.range)).toEqual([undefined, "bytes=4000-"]);
  });

  it("gives up when resumes bring no data, leaving no partial file", async () => {
    hub.faults.push({ kind: "cut", path: "data/train.bin", afterBytes: 0, times: 10 });
    const error = await failure(
      downloadRepoFile({ ...settings(), repo, revision: hub.commitOf("acme/cdn"), path: "data/train.bin" }),
    );
    expect(error.code).toBe("hub_transfer_failed");
    expect(error.message).toContain("0 of 4000 bytes");
    const blobs = await readdir(join(cacheDirectory, "datasets--acme--cdn", "blobs")).catch(() => []);
    expect(blobs).toEqual([]);
  });

  it("downloads a blob shared by two paths once (.locks/), even concurrently", async () => {
    const sha = hub.commitOf("acme/cdn");
    const before = hub.requests.length;
    const [first, second] = await Promise.all(
      ["data/train.bin", "data/copy.bin"].map((path) =>
        downloadRepoFile({ ...settings(), repo, revision: sha, path }),
      ),
    );
    expect(first!.sha256).toBe(second!.sha256);
    expect(hub.requests.slice(before).filter((request) => request.origin === "lfs")).toHaveLength(1);
    expect(await readdir(join(cacheDirectory, ".locks", "datasets--acme--cdn"))).toEqual([]);
  });
});

describe("errors say what they are", () => {
  it("tells gated, token-scope and disabled 403s apart, and private 401s", async () => {
    const model = (name: string) => ({ type: "model" as const, name });
    const gated = await failure(
      resolveRevision({ ...settings({ accessToken: token }), repo: model("acme/gated") }),
    );
    expect(gated.code).toBe("hub_gated");
    const scoped = await failure(
      resolveRevision({ ...settings({ accessToken: token }), repo: model("acme/scoped") }),
    );
    expect(scoped.code).toBe("hub_forbidden");
    expect(scoped.message).toContain("read");
    const disabled = await failure(
      resolveRevision({ ...settings({ accessToken: token }), repo: model("acme/disabled") }),
    );
    expect(disabled.code).toBe("hub_forbidden");
    expect(disabled.message).toContain("disabled");
    const anonymous = await failure(resolveRevision({ ...settings(), repo: model("acme/private") }));
    expect(anonymous.code).toBe("hub_unauthorized");
    expect(anonymous.message).toContain("X-Error-Code RepoNotFound");
  });
});

describe("outages and the cache", () => {
  it("falls back to a complete cached snapshot when the Hub is unreachable, never to an incomplete one", async () => {
    const online = await snapshotRepo({ ...settings(), repo, revision: "main" });
    const down = await startCdnHub({ repos: [] });
    await down.close();
    const unreachable = { ...settings(), hubUrl: down.hubUrl };
    const cached = await snapshotRepo({ ...unreachable, repo, revision: "main" });
    expect(cached.sha).toBe(online.sha);
    expect(cached.files.map((file) => file.path)).toEqual(online.files.map((file) => file.path).sort());
    expect(cached.servedFromCache).toContain("could not reach the Hub");
    // Remove one file: the fallback must refuse rather than return fewer files.
    await rm(join(online.directory, "README.md"));
    const error = await failure(snapshotRepo({ ...unreachable, repo, revision: "main" }));
    expect(error.code).toBe("hub_transfer_failed");
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).toContain("HF_HUB_OFFLINE=1");
    expect(error.message).toContain("lacks 1 of");
    expect(error.message).toContain("README.md");
  });

  it("serves a file cached at the branch's last commit when the Hub is unreachable", async () => {
    await downloadRepoFile({ ...settings(), repo, revision: "main", path: "README.md" });
    const down = await startCdnHub({ repos: [] });
    await down.close();
    const file = await downloadRepoFile({
      ...settings(),
      hubUrl: down.hubUrl,
      repo,
      revision: "main",
      path: "README.md",
    });
    expect(await readFile(file.localPath, "utf8")).toBe("# cdn\n");
    const missing = await failure(
      downloadRepoFile({
        ...settings(),
        hubUrl: down.hubUrl,
        repo,
        revision: "main",
        path: "data/train.bin",
      }),
    );
    expect(missing.code).toBe("hub_transfer_failed");
    expect(missing.message).toContain("could not reach the Hub");
  });

  it("honours a Python-written cache: trees/<sha>.json listing and .no_exist markers", async () => {
    const sha = "1234567890abcdef1234567890abcdef12345678";
    const storage = join(cacheDirectory, "datasets--acme--python");
    const content = "written by python\n";
    const gitOid = gitBlobOid(Buffer.from(content));
    await mkdir(join(storage, "blobs"), { recursive: true });
    await writeFile(join(storage, "blobs", gitOid), content);
    await mkdir(join(storage, "snapshots", sha), { recursive: true });
    await symlink(`../../blobs/${gitOid}`, join(storage, "snapshots", sha, "a.txt"));
    await mkdir(join(storage, "refs"), { recursive: true });
    await writeFile(join(storage, "refs", "main"), sha);
    await mkdir(join(storage, "trees"), { recursive: true });
    const pythonTree = {
      format_version: 1,
      files: {
        "a.txt": { size: content.length, blob_id: gitOid },
        "b.txt": { size: 5, blob_id: "d".repeat(40) },
      },
    };
    await writeFile(join(storage, "trees", `${sha}.json`), JSON.stringify(pythonTree, null, 1));
    await mkdir(join(storage, ".no_exist", sha), { recursive: true });
    await writeFile(join(storage, ".no_exist", sha, "config.json"), "");
    const python = { type: "dataset" as const, name: "acme/python" };
    // The listing comes from trees/, so an offline snapshot knows b.txt is missing.
    const listed = await listRepoFiles({ ...settings({ offline: true }), repo: python, revision: sha });
    expect(listed.map((file) => file.path)).toEqual(["a.txt", "b.txt"]);
    const incomplete = await failure(
      snapshotRepo({ ...settings({ offline: true }), repo: python, revision: "main" }),
    );
    expect(incomplete.code).toBe("hub_offline_missing");
    expect(incomplete.message).toContain("b.txt");
    // .no_exist: known missing without any request, even online.
    const before = hub.requests.length;
    const missing = await failure(
      downloadRepoFile({ ...settings(), repo: python, revision: sha, path: "config.json" }),
    );
    expect(missing.code).toBe("hub_file_not_found");
    expect(missing.message).toContain(".no_exist");
    expect(hub.requests.length).toBe(before);
  });

  it("writes trees/<sha>.json byte for byte as huggingface_hub does, and .no_exist for missing files", async () => {
    const sha = hub.commitOf("acme/cdn");
    await listRepoFiles({ ...settings(), repo, revision: sha });
    const text = await readFile(join(cacheDirectory, "datasets--acme--cdn", "trees", `${sha}.json`), "utf8");
    expect(text.startsWith('{\n "format_version": 1,\n "files": {\n  ".gitkeep": {\n   "size": 0,')).toBe(
      true,
    );
    // ensure_ascii, as json.dump writes it.
    expect(text).toContain('"donn\\u00e9es/\\u00e9.txt": {\n   "size": 8,');
    expect(text).toContain(`"lfs_sha256": "${sha256(big)}",\n   "lfs_size": 4000\n  }`);
    expect(text).toContain('"xet_hash": "');
    expect(text.endsWith("\n }\n}")).toBe(true);
    await failure(downloadRepoFile({ ...settings(), repo, revision: sha, path: "nope.txt" }));
    expect(
      await readFile(join(cacheDirectory, "datasets--acme--cdn", ".no_exist", sha, "nope.txt"), "utf8"),
    ).toBe("");
  });
});

describe("the saved login token and empty files", () => {
  it("reads a private repo with the token `hf auth login` saved in $HF_HOME/token", async () => {
    const home = await mkdtemp(join(tmpdir(), "hf-home-"));
    await writeFile(join(home, "token"), `${token}\n`);
    vi.stubEnv("HF_HOME", home);
    vi.stubEnv("HF_TOKEN", "");
    vi.stubEnv("HUGGING_FACE_HUB_TOKEN", "");
    vi.stubEnv("HF_TOKEN_PATH", "");
    vi.stubEnv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "");
    try {
      const { accessToken: _unused, ...withoutToken } = settings();
      const file = await downloadRepoFile({
        ...withoutToken,
        repo: { type: "model", name: "acme/private" },
        revision: "main",
        path: "a.txt",
      });
      expect(await readFile(file.localPath, "utf8")).toBe("secret\n");
    } finally {
      vi.unstubAllEnvs();
      await rm(home, { recursive: true, force: true });
    }
  });

  it("snapshots a repo with empty files on the first test server too (it answers 416 to any range on them)", async () => {
    const first = await startTestHub({
      repos: [
        {
          type: "dataset",
          name: "acme/keep",
          commits: [{ files: { ".gitkeep": "", "data/__init__.py": "", "a.txt": "a\n" } }],
        },
      ],
    });
    try {
      const snapshot = await snapshotRepo({
        ...settings(),
        hubUrl: first.url,
        repo: { type: "dataset", name: "acme/keep" },
        revision: "main",
      });
      expect(snapshot.files.map((file) => [file.path, file.size])).toEqual([
        [".gitkeep", 0],
        ["a.txt", 2],
        ["data/__init__.py", 0],
      ]);
      expect(await readFile(join(snapshot.directory, ".gitkeep"), "utf8")).toBe("");
    } finally {
      await first.close();
    }
  });
});
