import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";

/** The machine a run ran on (part of summary.json and the report). */
export interface RunEnvironment {
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  /** `POSTTRAIN_THREADS` when set, else the cores. */
  threads: number;
  memoryGiB: number;
  /**
   * The SIMD instruction sets onnxruntime's kernels dispatch on that this CPU has (from
   * /proc/cpuinfo; empty elsewhere): floats, and so greedy answers, can differ between them,
   * which is why expected rows record the machines their seeds ran on.
   */
  instructionSets: string[];
}

const trackedFlags: Array<[flag: string, name: string]> = [
  ["sse4_2", "sse4_2"],
  ["avx", "avx"],
  ["avx2", "avx2"],
  ["avx512f", "avx512f"],
  ["avx512_vnni", "avx512_vnni"],
  ["amx_tile", "amx"],
  ["asimd", "neon"],
  ["sve", "sve"],
];

/** The tracked instruction sets named in a /proc/cpuinfo text (`flags` or, on ARM, `Features`). */
export function instructionSetsOf(cpuinfo: string): string[] {
  const line = /^(?:flags|Features)\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? "";
  const flags = new Set(line.trim().split(/\s+/));
  return trackedFlags.filter(([flag]) => flags.has(flag)).map(([, name]) => name);
}

function readInstructionSets(): string[] {
  try {
    return instructionSetsOf(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return [];
  }
}

export function describeEnvironment(): RunEnvironment {
  const cores = availableParallelism();
  const threads = Number(process.env["POSTTRAIN_THREADS"] ?? cores);
  return {
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model ?? "unknown",
    cores,
    threads: Number.isFinite(threads) && threads > 0 ? threads : cores,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    instructionSets: readInstructionSets(),
  };
}

/**
 * The onnxruntime-node version @posttrain/engine loads (its package.json above the resolved
 * entry point); null when it cannot be resolved.
 */
export function onnxruntimeNodeVersion(): string | null {
  try {
    const engine = createRequire(import.meta.url).resolve("@posttrain/engine/package.json");
    let directory = dirname(createRequire(engine).resolve("onnxruntime-node"));
    for (;;) {
      try {
        const json = JSON.parse(readFileSync(join(directory, "package.json"), "utf8")) as {
          name?: unknown;
          version?: unknown;
        };
        if (json.name === "onnxruntime-node" && typeof json.version === "string") return json.version;
      } catch {
        // no package.json here
      }
      const parent = dirname(directory);
      if (parent === directory) return null;
      directory = parent;
    }
  } catch {
    return null;
  }
}
