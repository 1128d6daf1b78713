import { availableParallelism, cpus, totalmem } from "node:os";

/** The machine a run ran on (part of summary.json and the report). */
export interface RunEnvironment {
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  /** `POSTTRAIN_THREADS` when set, else the cores. */
  threads: number;
  memoryGiB: number;
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
  };
}
