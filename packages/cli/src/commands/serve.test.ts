import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createOpenAiBackend, listServedModels } from "@posttrain/evals";
import { writeTinyServeModel } from "@posttrain/evals/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Runs the built `posttrain` bin (turbo's test task depends on build).
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));

function start(args: string[], environment: NodeJS.ProcessEnv = {}) {
  const child: ChildProcess = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, CI: "true", POSTTRAIN_WEIGHT_UPDATE_TOKEN: "", ...environment },
  });
  let stdout = "";
  let stderr = "";
  const listening = new Promise<{
    url: string;
    port: number;
    model: string;
    weightUpdates: { root: string } | null;
  }>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const line = stdout.split("\n").find((entry) => entry.startsWith("{"));
      if (line !== undefined && stdout.includes("\n")) resolve(JSON.parse(line));
    });
    child.on("close", () => reject(new Error(`serve exited early: ${stderr}`)));
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const done = new Promise<{ status: number | null; stderr: string }>((resolve) =>
    child.on("close", (status) => resolve({ status, stderr })),
  );
  listening.catch(() => undefined);
  return { child, listening, done };
}

describe("posttrain serve", () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "cli-serve-"));
    await writeTinyServeModel({ directory: join(directory, "tiny-model"), seed: 2, scale: 4 });
    await writeTinyServeModel({ directory: join(directory, "other"), seed: 3, scale: 4 });
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("rejects bad arguments with exit 2", async () => {
    const { done } = start(["serve", "--model", join(directory, "tiny-model"), "--port", "-1"]);
    const result = await done;
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--port");
    const model = join(directory, "tiny-model");
    for (const [args, message] of [
      [["--enable-weight-updates"], "needs a token"],
      [["--enable-weight-updates", "--weight-update-token", "short"], "at least 16 characters"],
      [["--weight-update-token", "a-long-enough-token-0123456789"], "need --enable-weight-updates"],
      [["--max-pending-rows", "0"], "--max-pending-rows"],
      [["--max-body-bytes", "lots"], "--max-body-bytes"],
    ] as const) {
      const refused = await start(["serve", "--model", model, "--port", "0", ...args]).done;
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(message);
    }
  });

  it("--enable-weight-updates with the token from the environment: updates need it and stay under the root", async () => {
    const token = "cli-serve-test-token-0123456789";
    const { child, listening, done } = start(
      [
        "serve",
        "--model",
        join(directory, "tiny-model"),
        "--port",
        "0",
        "--threads",
        "1",
        "--enable-weight-updates",
        "--max-body-bytes",
        "4096",
      ],
      { POSTTRAIN_WEIGHT_UPDATE_TOKEN: token },
    );
    const announced = await listening;
    expect(announced.weightUpdates?.root).toBe(directory);
    const base = announced.url.replace(/\/v1$/, "");
    const update = (authorization: string, modelPath: string) =>
      fetch(`${base}/update_weights_from_disk`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify({ model_path: modelPath, weight_version: "next" }),
      });
    expect((await update("Bearer wrong-token-0123456789abc", join(directory, "other"))).status).toBe(401);
    expect((await update(`Bearer ${token}`, "/etc")).status).toBe(403);
    const loaded = await update(`Bearer ${token}`, join(directory, "other"));
    expect(loaded.status).toBe(200);
    expect(((await loaded.json()) as { success: boolean }).success).toBe(true);
    const tooLarge = await fetch(`${announced.url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny-model", prompt: "x".repeat(5000) }),
    });
    expect(tooLarge.status).toBe(413);
    child.kill("SIGTERM");
    expect((await done).status).toBe(0);
  });

  it("serves the folder on a free port, answers the HTTP backend, and stops gracefully on SIGTERM", async () => {
    const { child, listening, done } = start([
      "serve",
      "--model",
      join(directory, "tiny-model"),
      "--port",
      "0",
      "--threads",
      "1",
    ]);
    const announced = await listening;
    expect(announced.port).toBeGreaterThan(0);
    expect(announced.model).toBe("tiny-model");
    expect(announced.weightUpdates).toBeNull();
    expect(await listServedModels({ endpoint: announced.url })).toEqual(["tiny-model"]);
    const backend = await createOpenAiBackend({ endpoint: announced.url, model: "tiny-model", retries: 0 });
    const completions = await backend.generate({
      requests: [
        { prompt: { kind: "text", text: "Hello" }, sampling: { temperature: 0, maxNewTokens: 6 } },
        {
          prompt: { kind: "chat", messages: [{ role: "user", content: "Hi" }], assistantPrefix: "Sure" },
          sampling: { temperature: 0.7, maxNewTokens: 6, seed: 3, logprobs: true },
        },
      ],
    });
    const first = completions[0]![0]!;
    const second = completions[1]![0]!;
    expect(typeof first.text).toBe("string");
    expect(["stop", "length"]).toContain(first.finishReason);
    expect(second.logprobs?.length).toBeGreaterThan(0);

    // A streaming request in flight when SIGTERM arrives still completes.
    const response = await fetch(`${announced.url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "tiny-model",
        prompt: "Go",
        max_tokens: 40,
        temperature: 1,
        seed: 1,
        stream: true,
      }),
    });
    const reader = response.body!.getReader();
    await reader.read();
    child.kill("SIGTERM");
    let text = "";
    for (;;) {
      const { value, done: finished } = await reader.read();
      if (finished) break;
      text += Buffer.from(value).toString("utf8");
    }
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const result = await done;
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("SIGTERM");
  });
});
