import { availableParallelism, totalmem } from "node:os";
import { z } from "zod";

/**
 * Resource limits for one sandboxed program run (one test = one process).
 *
 * - `wallSeconds`: wall-clock limit per test, interpreter start-up included (HumanEval uses 3 s).
 * - `cpuSeconds`: RLIMIT_CPU per process (soft limit; the hard limit is one second more, so the
 *   kernel sends SIGXCPU then SIGKILL). Defaults to `ceil(wallSeconds) + 1`.
 * - `memoryMegabytes`: RLIMIT_AS (address space; RLIMIT_DATA for Node, whose heap reserves
 *   more address space than it uses) per process, lowered by {@link memoryBound} so that
 *   processes × memory of all tests at once fits in a fraction of the machine's RAM.
 * - `maxProcesses`: RLIMIT_NPROC for the sandbox user (threads count too). Only enforced when
 *   the sandbox can switch to its own user id (see the README); a PID namespace and the
 *   process-group kill bound fork bombs otherwise.
 * - `outputBytes`: stdout + stderr bytes read before the process is killed as unbounded.
 * - `fileSizeMegabytes`: RLIMIT_FSIZE, the largest file the program may write.
 */
export const sandboxLimitsSchema = z.object({
  wallSeconds: z.number().positive().max(600).default(3),
  cpuSeconds: z.number().int().positive().max(600).optional(),
  memoryMegabytes: z.number().int().min(64).max(1_048_576).default(1024),
  maxProcesses: z.number().int().min(8).max(4096).default(16),
  outputBytes: z
    .number()
    .int()
    .min(1024)
    .max(256 * 1024 * 1024)
    .default(1024 * 1024),
  fileSizeMegabytes: z.number().int().min(1).max(65_536).default(16),
});

export type SandboxLimitsInput = z.input<typeof sandboxLimitsSchema>;
export type SandboxLimits = z.output<typeof sandboxLimitsSchema>;

/** The default number of sandboxed processes run at once: one per core. */
export function defaultSandboxConcurrency(): number {
  const fromEnvironment = Number.parseInt(process.env.POSTTRAIN_SANDBOX_CONCURRENCY ?? "", 10);
  if (Number.isInteger(fromEnvironment) && fromEnvironment > 0) return fromEnvironment;
  return Math.max(1, availableParallelism());
}

/** The share of the machine's RAM that all sandboxed tests running at once may hold together. */
export const sandboxMemoryFraction = 0.5;

/**
 * The memory + process bound of one test without a memory cgroup: the program's processes
 * (RLIMIT_NPROC) times the per-process memory limit, plus the referee's process, must fit in
 * `sandboxMemoryFraction` of RAM divided among the `concurrency` tests that run at once. The
 * process count is kept and the per-process memory lowered (never below 256 MiB, Node's floor).
 */
export function memoryBound(params: {
  limits: SandboxLimits;
  concurrency: number;
  totalMemoryBytes?: number;
}): { memoryBytes: number; maxProcesses: number; budgetBytes: number } {
  const total = params.totalMemoryBytes ?? totalmem();
  const budgetBytes = Math.floor((total * sandboxMemoryFraction) / Math.max(1, params.concurrency));
  const floor = 256 * 1024 * 1024;
  const requested = params.limits.memoryMegabytes * 1024 * 1024;
  let maxProcesses = params.limits.maxProcesses;
  let memoryBytes = Math.min(requested, Math.floor(budgetBytes / (maxProcesses + 1)));
  if (memoryBytes < floor) {
    memoryBytes = Math.min(requested, floor);
    maxProcesses = Math.max(1, Math.min(maxProcesses, Math.floor(budgetBytes / memoryBytes) - 1));
  }
  return { memoryBytes, maxProcesses, budgetBytes };
}
