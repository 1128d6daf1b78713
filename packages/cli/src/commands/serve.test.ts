import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createOpenAiBackend, listServedModels, writeTinyServeModel } from "@posttrain/evals";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Runs the built `posttrain` bin (turbo's test task depends on build).
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));

function start(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, CI: "true" },
  });
  let stdout = "";
  let stderr = "";
  const listening = new Promise<{ url: string; port: number; model: string }>((resolve, reject) => {
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
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("rejects bad arguments with exit 2", async () => {
    const { done } = start(["serve", "--model", join(directory, "tiny-model"), "--port", "-1"]);
    const result = await done;
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--port");
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
