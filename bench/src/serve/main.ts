/**
 * `pnpm bench:serve`: bounded load against `posttrain serve` on loopback.
 *
 * Starts the built CLI (`packages/cli/dist/bin.js serve --port 0`) in a child process over a
 * tiny random Llama (micro 512-token tokenizer, written to a temp folder by the evals
 * package's `writeTinyServeModel`), then, from this process:
 * 1. warm-up: 4 clients for 3 s (session compile, first shapes);
 * 2. `--rounds` (default 3) rounds, each: the one-at-a-time baseline (1 client for
 *    `--baseline-seconds`/rounds; default 15 s in all), then `--clients` (default 32)
 *    concurrent clients for `--seconds`/rounds (default 30 s in all). Alternating the phases
 *    lets drifting load on a shared machine hit both alike.
 * Each client loops `POST /v1/completions` (its own prompt and seed, `max_tokens` 32,
 * temperature 0.8, top-k 50; every 4th request streams) until the phase ends; a request still
 * running at the end is awaited and counted. Figures per phase: requests/s, generated tokens/s
 * (usage.completion_tokens, or streamed chunks), p50/p99 latency, errors (non-200 or a
 * network error, or a stream without `[DONE]`). Ends with one JSON line; the machine load
 * (`uptime`) is recorded because this runs on shared machines.
 *
 * Flags: --temperature T (default 0.8; 0 = greedy, as evals decode), --top-k K (default 50;
 * 0 = off), --clients N, --seconds S, --baseline-seconds S, --threads N (server intra-op
 * threads, default 1: on a shared 2-core machine ORT's spinning intra-op threads cost more than
 * they give), --hidden N (model width, default 64), --layers N (default 2).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeTinyServeModel } from "@posttrain/evals/test";
import { machineDescription, printResultLine } from "../measure.js";

const bin = fileURLToPath(new URL("../../../packages/cli/dist/bin.js", import.meta.url));

function flag(name: string, fallback: number, minimum = Number.MIN_VALUE): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value < minimum) throw new Error(`--${name} must be a number ≥ ${minimum}`);
  return value;
}

/** Sampling of every request (`--temperature`, `--top-k`; 0 turns either off). */
const sampling = { temperature: flag("temperature", 0.8, 0), topK: flag("top-k", 50, 0) };

interface PhaseFigures {
  clients: number;
  seconds: number;
  requests: number;
  requests_per_s: number;
  generated_tokens: number;
  tokens_per_s: number;
  latency_p50_s: number;
  latency_p99_s: number;
  errors: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;

async function oneRequest(
  url: string,
  body: Record<string, unknown>,
): Promise<{ tokens: number; ok: boolean }> {
  try {
    const response = await fetch(`${url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== 200) return { tokens: 0, ok: false };
    if (body["stream"] === true) {
      const usage = text
        .split("\n\n")
        .filter((block) => block.startsWith("data: {"))
        .map((block) => JSON.parse(block.slice(6)) as { usage?: { completion_tokens: number } })
        .find((chunk) => chunk.usage !== undefined)?.usage;
      return {
        tokens: usage?.completion_tokens ?? 0,
        ok: text.trimEnd().endsWith("data: [DONE]") && usage !== undefined,
      };
    }
    const parsed = JSON.parse(text) as { usage?: { completion_tokens?: number } };
    return { tokens: parsed.usage?.completion_tokens ?? 0, ok: true };
  } catch {
    return { tokens: 0, ok: false };
  }
}

interface PhaseTally {
  latencies: number[];
  tokens: number;
  errors: number;
  elapsed: number;
}

async function runPhase(params: {
  url: string;
  model: string;
  clients: number;
  seconds: number;
  tag: string;
  tally: PhaseTally;
}): Promise<void> {
  const { latencies } = params.tally;
  let tokens = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + params.seconds * 1000;
  const client = async (clientIndex: number) => {
    for (let request = 0; performance.now() < end; request += 1) {
      const body: Record<string, unknown> = {
        model: params.model,
        prompt: `${params.tag} after ${params.tally.elapsed.toFixed(0)} s, client ${clientIndex} request ${request}: tell me about number ${(clientIndex * 7919 + request) % 1000}`,
        max_tokens: 32,
        temperature: sampling.temperature,
        ...(sampling.topK > 0 ? { top_k: sampling.topK } : {}),
        seed: clientIndex * 100_000 + request,
      };
      if (request % 4 === 3) {
        body["stream"] = true;
        body["stream_options"] = { include_usage: true };
      }
      const sent = performance.now();
      const result = await oneRequest(params.url, body);
      latencies.push((performance.now() - sent) / 1000);
      tokens += result.tokens;
      if (!result.ok) errors += 1;
    }
  };
  await Promise.all(Array.from({ length: params.clients }, (_, index) => client(index)));
  params.tally.elapsed += (performance.now() - start) / 1000;
  params.tally.tokens += tokens;
  params.tally.errors += errors;
}

function figuresOf(clients: number, tally: PhaseTally): PhaseFigures {
  const { tokens, errors, elapsed } = tally;
  const latencies = [...tally.latencies].sort((a, b) => a - b);
  return {
    clients,
    seconds: Number(elapsed.toFixed(2)),
    requests: latencies.length,
    requests_per_s: Number((latencies.length / elapsed).toFixed(2)),
    generated_tokens: tokens,
    tokens_per_s: Number((tokens / elapsed).toFixed(1)),
    latency_p50_s: Number(percentile(latencies, 0.5).toFixed(3)),
    latency_p99_s: Number(percentile(latencies, 0.99).toFixed(3)),
    errors,
  };
}

function startServer(params: { directory: string; threads: number; maxBatchSize: number }) {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      bin,
      "serve",
      "--model",
      params.directory,
      "--port",
      "0",
      "--threads",
      String(params.threads),
      "--max-batch-size",
      String(params.maxBatchSize),
      "--served-model-name",
      "tiny",
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, CI: "true" } },
  );
  let stdout = "";
  const listening = new Promise<{ url: string; model: string }>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const newline = stdout.indexOf("\n");
      if (newline >= 0) resolve(JSON.parse(stdout.slice(0, newline)));
    });
    child.on("exit", (code) => reject(new Error(`posttrain serve exited with ${code}`)));
  });
  return { child, listening };
}

/** The server process's peak resident set (VmHWM), in MB. */
function childPeakRssMegabytes(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? null : Number(match[1]) / 1024;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const clients = flag("clients", 32);
  const seconds = flag("seconds", 30);
  const baselineSeconds = flag("baseline-seconds", 15);
  const threads = flag("threads", 1);
  const hidden = flag("hidden", 64);
  const layers = flag("layers", 2);
  const rounds = flag("rounds", 3);
  const loadStart = loadavg()[0]!;
  const directory = await mkdtemp(join(tmpdir(), "bench-serve-"));
  const modelDirectory = join(directory, "tiny");
  await writeTinyServeModel({ directory: modelDirectory, seed: 1, hiddenSize: hidden, layers, scale: 4 });
  const { child, listening } = startServer({ directory: modelDirectory, threads, maxBatchSize: clients });
  try {
    const { url, model } = await listening;
    process.stderr.write(`bench:serve: server at ${url}; warming up\n`);
    const tally = (): PhaseTally => ({ latencies: [], tokens: 0, errors: 0, elapsed: 0 });
    await runPhase({ url, model, clients: 4, seconds: 3, tag: "warmup", tally: tally() });
    // Rounds alternate the two phases so that drifting machine load hits both alike.
    const singleTally = tally();
    const batchedTally = tally();
    const statsUrl = url.replace(/\/v1$/, "/stats");
    const readStats = async () =>
      (await (await fetch(statsUrl)).json()) as { decode_steps: number; row_steps: number };
    let decodeSteps = 0;
    let rowSteps = 0;
    for (let round = 0; round < rounds; round += 1) {
      process.stderr.write(`bench:serve: round ${round + 1}/${rounds}: 1 client, then ${clients} clients\n`);
      await runPhase({
        url,
        model,
        clients: 1,
        seconds: baselineSeconds / rounds,
        tag: "single",
        tally: singleTally,
      });
      const before = await readStats();
      await runPhase({ url, model, clients, seconds: seconds / rounds, tag: "batched", tally: batchedTally });
      const after = await readStats();
      decodeSteps += after.decode_steps - before.decode_steps;
      rowSteps += after.row_steps - before.row_steps;
    }
    const single = figuresOf(1, singleTally);
    const batched = figuresOf(clients, batchedTally);
    const meanBatchSize = rowSteps / Math.max(1, decodeSteps);
    process.stderr.write(
      `bench:serve: one at a time ${JSON.stringify(single)}\nbench:serve: batched ${JSON.stringify(batched)}\n`,
    );
    printResultLine({
      benchmark: "serve",
      machine: machineDescription(),
      load_average_start: Number(loadStart.toFixed(2)),
      load_average_end: Number(loadavg()[0]!.toFixed(2)),
      rounds,
      model: { hidden_size: hidden, layers, vocab: 512, server_threads: threads, max_batch_size: clients },
      request: {
        max_tokens: 32,
        temperature: sampling.temperature,
        top_k: sampling.topK,
        streamed_share: 0.25,
      },
      one_at_a_time: single,
      batched,
      batched_mean_batch_size: Number(meanBatchSize.toFixed(2)),
      throughput_ratio_tokens: Number((batched.tokens_per_s / single.tokens_per_s).toFixed(2)),
      throughput_ratio_requests: Number((batched.requests_per_s / single.requests_per_s).toFixed(2)),
      errors: single.errors + batched.errors,
      server_peak_rss_mb: childPeakRssMegabytes(child.pid!),
    });
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await rm(directory, { recursive: true, force: true });
  }
}

await main();
