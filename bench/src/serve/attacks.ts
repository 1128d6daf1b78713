/**
 * `node bench/dist/serve/attacks.js`: what issue 16's server attacks (S1, S2, S4) and issue
 * 20's 5 MB request cost `posttrain serve` now. Starts the built CLI (`serve --port 0
 * --threads 1`, default limits) over the tiny random Llama (micro tokenizer, context 512),
 * then sends each attack once while a prober in this process loops `GET /health` on its own
 * connection. Per attack: the answer's status and code, the wall time until it came, and the
 * longest `/health` round trip that overlapped it (how long the server's event loop was held).
 * Ends with a normal request and the server's peak resident set (VmHWM). One JSON line; the
 * load average is recorded because this runs on shared machines.
 *
 * Flags: --bin PATH (another build's `packages/cli/dist/bin.js`, e.g. an older commit's, to
 * compare; an attack that kills the server is reported as such).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request as httpRequest } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyServeModel } from "@posttrain/evals/test";
import { machineDescription, printResultLine } from "../measure.js";

const binIndex = process.argv.indexOf("--bin");
const bin =
  binIndex >= 0
    ? process.argv[binIndex + 1]!
    : fileURLToPath(new URL("../../../packages/cli/dist/bin.js", import.meta.url));

interface Attack {
  name: string;
  path: string;
  method?: "GET" | "POST";
  body?: () => string;
}

const repeatJoin = (count: number, item: string) => Array.from({ length: count }, () => item).join(",");

const attacks: Attack[] = [
  {
    name: "S1 /generate 1,000,000 prompts × n 64 (≈5 MB)",
    path: "/generate",
    body: () => `{"input_ids":[${repeatJoin(1_000_000, "[1]")}],"sampling_params":{"n":64}}`,
  },
  {
    name: "S1 under the byte limit: 400,000 prompts × n 64 (≈1.6 MB)",
    path: "/generate",
    body: () => `{"input_ids":[${repeatJoin(400_000, "[1]")}],"sampling_params":{"n":64}}`,
  },
  {
    name: "S2 one 16 MB prompt",
    path: "/v1/completions",
    body: () => JSON.stringify({ model: "tiny", prompt: "x".repeat(16 * 1024 * 1024) }),
  },
  {
    name: "issue 20: a 5 MB chat message",
    path: "/v1/chat/completions",
    body: () =>
      JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "x".repeat(5 * 1024 * 1024) }] }),
  },
  {
    name: "a 1.9 MB prompt (under the byte limit, over the character limit)",
    path: "/v1/completions",
    body: () => JSON.stringify({ model: "tiny", prompt: "x".repeat(1_900_000) }),
  },
  {
    name: "60,000 empty chat messages (≈1.7 MB)",
    path: "/v1/chat/completions",
    body: () =>
      JSON.stringify({
        model: "tiny",
        messages: Array.from({ length: 60_000 }, () => ({ role: "user", content: "" })),
      }),
  },
  {
    name: "JSON nested 900,000 deep (1.8 MB)",
    path: "/v1/completions",
    body: () => `${"[".repeat(900_000)}${"]".repeat(900_000)}`,
  },
  { name: "S4 GET /v1/models/%E0%A4%A", path: "/v1/models/%E0%A4%A", method: "GET" },
];

/** One request on its own connection: status, body text, seconds; null status if the connection failed. */
function send(params: {
  port: number;
  path: string;
  method: string;
  body?: string;
}): Promise<{ status: number | null; text: string; seconds: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const request = httpRequest(
      {
        host: "127.0.0.1",
        port: params.port,
        path: params.path,
        method: params.method,
        // Keep-alive, as fetch and the OpenAI clients send: a server that refuses a body early
        // then reads and discards it, so the 413 reaches the client (with `Connection: close`,
        // the server closes at once and the client may see a reset instead).
        agent: new Agent({ keepAlive: true, maxSockets: 1 }),
        headers: params.body === undefined ? {} : { "content-type": "application/json" },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => {
          if (text.length < 4096) text += chunk.toString("utf8");
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? null, text, seconds: (performance.now() - start) / 1000 }),
        );
      },
    );
    // A server that answers 413 before the body is sent closes the connection, so the client
    // also sees EPIPE while writing: the answer, when it comes, wins over the error.
    request.on("error", (error) => {
      const failed = (performance.now() - start) / 1000;
      setTimeout(() => resolve({ status: null, text: error.message, seconds: failed }), 100);
    });
    request.end(params.body);
  });
}

function childPeakRssMegabytes(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? null : Number(match[1]) / 1024;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const loadStart = loadavg()[0]!;
  const directory = await mkdtemp(join(tmpdir(), "bench-serve-attacks-"));
  const modelDirectory = join(directory, "tiny");
  await writeTinyServeModel({ directory: modelDirectory, seed: 1, scale: 4 });
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, "serve", "--model", modelDirectory, "--port", "0", "--threads", "1", "--served-model-name", "tiny"],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "true" } },
  );
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  let stdout = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const newline = stdout.indexOf("\n");
      if (newline >= 0) resolve((JSON.parse(stdout.slice(0, newline)) as { port: number }).port);
    });
    child.on("exit", (code) => reject(new Error(`posttrain serve exited with ${code}`)));
  });
  // The prober: /health in a loop, each round trip recorded with its start and end.
  const probes: Array<{ start: number; end: number }> = [];
  let probing = true;
  const prober = (async () => {
    while (probing && !exited) {
      const start = performance.now();
      const answer = await send({ port, path: "/health", method: "GET" });
      if (answer.status === null) break;
      probes.push({ start, end: performance.now() });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle = probes.map((probe) => probe.end - probe.start).sort((a, b) => a - b);
    const results: Array<Record<string, unknown>> = [];
    for (const attack of attacks) {
      if (exited) {
        results.push({ attack: attack.name, status: "server gone" });
        continue;
      }
      const body = attack.body?.();
      const start = performance.now();
      const answer = await send({
        port,
        path: attack.path,
        method: attack.method ?? "POST",
        ...(body === undefined ? {} : { body }),
      });
      const end = performance.now();
      // Let a stall that outlasts the answer show up in the probes.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const overlapping = probes.filter((probe) => probe.end >= start && probe.start <= end + 200);
      let code: string | null = null;
      try {
        code = (JSON.parse(answer.text) as { error?: { code?: string } }).error?.code ?? null;
      } catch {
        code = null;
      }
      results.push({
        attack: attack.name,
        body_bytes: body === undefined ? 0 : Buffer.byteLength(body),
        status: exited ? "server crashed" : answer.status,
        code,
        answer_seconds: Number(answer.seconds.toFixed(3)),
        longest_health_ms: Number(
          Math.max(0, ...overlapping.map((probe) => probe.end - probe.start)).toFixed(1),
        ),
      });
      process.stderr.write(`bench:serve-attacks: ${JSON.stringify(results.at(-1))}\n`);
    }
    const normal = exited
      ? null
      : await send({
          port,
          path: "/v1/completions",
          method: "POST",
          body: JSON.stringify({ model: "tiny", prompt: "Hello", max_tokens: 8, temperature: 0 }),
        });
    printResultLine({
      benchmark: "serve-attacks",
      machine: machineDescription(),
      bin,
      load_average_start: Number(loadStart.toFixed(2)),
      load_average_end: Number(loadavg()[0]!.toFixed(2)),
      idle_health_p50_ms: Number((idle[Math.floor(idle.length / 2)] ?? Number.NaN).toFixed(2)),
      attacks: results,
      normal_request_after: normal === null ? "server gone" : normal.status,
      server_peak_rss_mb: exited ? null : childPeakRssMegabytes(child.pid!),
    });
  } finally {
    probing = false;
    await prober;
    if (!exited) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    }
    await rm(directory, { recursive: true, force: true });
  }
}

await main();
