import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "@posttrain/core";
import { startTestHub, type TestHub } from "@posttrain/hub/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Runs the built `posttrain` bin against a local Hub-compatible server.
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const train = '{"q":"1+1","a":"2"}\n{"q":"2+2","a":"4"}\n';

let hub: TestHub;
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "posttrain-hub-cli-"));
  hub = await startTestHub({
    token: "hf_cli",
    repos: [
      {
        type: "dataset",
        name: "acme/arith",
        commits: [
          { files: { "README.md": "# v1\n", "data/train.jsonl": "{}\n" } },
          { files: { "README.md": "# arith\n", "data/train.jsonl": train } },
        ],
      },
      {
        type: "model",
        name: "acme/private-lm",
        private: true,
        commits: [{ files: { "config.json": "{}" } }],
      },
    ],
  });
});
afterAll(async () => {
  await hub.close();
  await rm(home, { recursive: true, force: true });
});

/** The server runs in this process, so the child must be spawned asynchronously. */
function posttrain(args: string[], environment: Record<string, string> = {}) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: {
        PATH: process.env["PATH"] ?? "",
        CI: "true",
        HF_ENDPOINT: hub.url,
        HF_HOME: home,
        ...environment,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("posttrain hub", () => {
  it("resolve prints the SHA of main, and of another revision", async () => {
    const shas = hub.commitShas("acme/arith");
    const main = await posttrain(["hub", "resolve", "dataset", "acme/arith"]);
    expect(main.stderr).toBe("");
    expect(main.status).toBe(0);
    expect(main.stdout.trim()).toBe(shas[1]);
    const json = await posttrain([
      "hub",
      "resolve",
      "dataset",
      "acme/arith",
      "--revision",
      shas[0]!,
      "--json",
    ]);
    expect(JSON.parse(json.stdout)).toEqual({
      type: "dataset",
      repo: "acme/arith",
      revision: shas[0],
      sha: shas[0],
    });
  });

  it("files lists paths, sizes and sha256", async () => {
    const sha = hub.commitShas("acme/arith")[1]!;
    const result = await posttrain(["hub", "files", "dataset", "acme/arith", "--revision", sha, "--json"]);
    expect(result.status).toBe(0);
    const listing = JSON.parse(result.stdout) as { files: Array<{ path: string; sha256: string | null }> };
    expect(listing.files.map((file) => file.path)).toEqual(["README.md", "data/train.jsonl"]);
    expect(listing.files[1]!.sha256).toBe(sha256Hex(train));
  });

  it("download fills HF_HOME/hub and prints the snapshot as JSON", async () => {
    const sha = hub.commitShas("acme/arith")[1]!;
    const result = await posttrain([
      "hub",
      "download",
      "dataset",
      "acme/arith",
      "--revision",
      sha,
      "--include",
      "*.jsonl",
      "--json",
    ]);
    expect(result.status).toBe(0);
    const snapshot = JSON.parse(result.stdout) as {
      directory: string;
      files: Array<{ path: string; sha256: string }>;
    };
    expect(snapshot.directory).toBe(join(home, "hub", "datasets--acme--arith", "snapshots", sha));
    expect(snapshot.files).toHaveLength(1);
    expect(await readFile(join(snapshot.directory, "data", "train.jsonl"), "utf8")).toBe(train);
  });

  it("offline download serves the cache, and names what is missing (exit 1)", async () => {
    const shas = hub.commitShas("acme/arith");
    await posttrain([
      "hub",
      "download",
      "dataset",
      "acme/arith",
      "--revision",
      shas[1]!,
      "--include",
      "*.jsonl",
    ]);
    const offline = { HF_HUB_OFFLINE: "1" };
    const cached = await posttrain(
      ["hub", "download", "dataset", "acme/arith", "--revision", "main", "--include", "*.jsonl", "--json"],
      offline,
    );
    expect(cached.status).toBe(0);
    expect(JSON.parse(cached.stdout).sha).toBe(shas[1]);
    // The listing recorded online says README.md belongs to the snapshot: not cached, so it fails.
    const incomplete = await posttrain(
      ["hub", "download", "dataset", "acme/arith", "--revision", "main"],
      offline,
    );
    expect(incomplete.status).toBe(1);
    expect(incomplete.stderr).toContain("hub_offline_missing");
    expect(incomplete.stderr).toContain("README.md");
    const older = await posttrain(
      ["hub", "download", "dataset", "acme/arith", "--revision", shas[0]!],
      offline,
    );
    expect(older.status).toBe(1);
    expect(older.stderr).toContain("hub_offline_missing");
  });

  it("uses HF_TOKEN for private repos and explains the 401 without it", async () => {
    const denied = await posttrain(["hub", "resolve", "model", "acme/private-lm"]);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toContain("hub_unauthorized");
    expect(denied.stderr).toContain("HF_TOKEN");
    const allowed = await posttrain(["hub", "resolve", "model", "acme/private-lm"], { HF_TOKEN: "hf_cli" });
    expect(allowed.status).toBe(0);
    expect(allowed.stdout.trim()).toBe(hub.commitShas("acme/private-lm")[0]);
  });

  it("prints the cause of a failure: an unreachable Hub with an offline hint, an HTTP status with its X-Error-Code", async () => {
    const closed = await startTestHub({ repos: [] });
    await closed.close();
    const down = await posttrain(["hub", "resolve", "dataset", "acme/arith"], { HF_ENDPOINT: closed.url });
    expect(down.status).toBe(1);
    expect(down.stderr).toContain("ECONNREFUSED");
    expect(down.stderr).toContain("HF_HUB_OFFLINE=1");
    expect(down.stderr).not.toMatch(/: fetch failed\b/);
    // Retries are reported while they happen.
    expect(down.stderr).toContain("the connection failed; waiting");
    const missing = await posttrain(["hub", "resolve", "dataset", "acme/nope"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/\[hub_(not_found|unauthorized)\]/);
    expect(missing.stderr).toContain("HTTP 40");
  });

  it("exits 2 on a bad repo type", async () => {
    const result = await posttrain(["hub", "resolve", "space", "acme/arith"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("dataset");
  });
});
