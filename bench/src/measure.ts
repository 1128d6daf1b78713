// Shared helpers for the benchmarks: timing, peak memory, the Python reference runner and
// the one JSON line every benchmark ends with.
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMegabytes(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Median wall time in seconds of `run` after `warmup` untimed calls. */
export async function medianSeconds(params: {
  run: () => unknown;
  warmup?: number;
  repeats?: number;
}): Promise<{
  median: number;
  samples: number[];
}> {
  for (let index = 0; index < (params.warmup ?? 1); index += 1) await params.run();
  const samples: number[] = [];
  for (let index = 0; index < (params.repeats ?? 5); index += 1) {
    const start = performance.now();
    await params.run();
    samples.push((performance.now() - start) / 1000);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, samples };
}

/** A one-line description of this machine for RESULTS.md. */
export function machineDescription(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? "unknown CPU"} × ${cpu.length} threads, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.versions.node}`;
}

/**
 * Runs a Python reference script with Debian's `/usr/bin/python3` (torch from
 * `python3-torch`, OpenBLAS limited to `threads`) and returns the JSON object on its last
 * stdout line. Python is a benchmark/test reference only, never a runtime dependency.
 */
export function runPythonReference(params: {
  script: string;
  args?: string[];
  threads: number;
}): Record<string, unknown> {
  const result = spawnSync("/usr/bin/python3", [params.script, ...(params.args ?? [])], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      OPENBLAS_NUM_THREADS: String(params.threads),
      OMP_NUM_THREADS: String(params.threads),
      MKL_NUM_THREADS: String(params.threads),
    },
  });
  if (result.status !== 0) {
    throw new Error(`python reference ${params.script} failed (${result.status}):\n${result.stderr}`);
  }
  const lines = result.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1] ?? "{}") as Record<string, unknown>;
}

/** Prints the closing JSON line of a benchmark. */
export function printResultLine(figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

/**
 * Garbage-collection time of this process while a measured block runs: `start()` before it,
 * `await stop()` after it (GC entries arrive asynchronously; `stop` lets them through first).
 * V8 counts external memory (ArrayBuffers the onnxruntime binding allocates for every output)
 * towards its GC heuristics, so a step with large outputs can trigger full collections.
 */
export function garbageCollectionTimer(): {
  start: () => void;
  stop: () => Promise<{ seconds: number; collections: number }>;
} {
  let from = 0;
  let milliseconds = 0;
  let collections = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.startTime < from) continue;
      milliseconds += entry.duration;
      collections += 1;
    }
  });
  return {
    start: () => {
      from = performance.now();
      observer.observe({ entryTypes: ["gc"] });
    },
    stop: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 10));
      observer.disconnect();
      return { seconds: milliseconds / 1000, collections };
    },
  };
}
