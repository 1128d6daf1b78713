import { parseWithSchema } from "@posttrain/core";
import { detectSandboxIsolation, resolveInterpreter } from "./environment.js";
import { CodeSandboxError } from "./errors.js";
import { memoryBound, type SandboxLimits, type SandboxLimitsInput, sandboxLimitsSchema } from "./limits.js";
import { sharedSandboxPool } from "./run-program-tests.js";
import { runSandboxedProcess } from "./sandboxed-process.js";
import type { TaskPool } from "./task-pool.js";

/** What one sandboxed Python program did: its captured output and how it ended. */
export interface ProgramRunResult {
  /** stdout, at most `limits.outputBytes` bytes (stdout and stderr share that budget). */
  stdout: string;
  /** The last 2 KiB of stderr. */
  stderrTail: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** stdout + stderr passed `limits.outputBytes`: the process was killed there. */
  outputLimitExceeded: boolean;
  /** The program did not compile (the harness's exit code 113). */
  syntaxError: boolean;
  /** The program raised an uncaught exception (the harness's exit code 114). */
  raised: boolean;
}

/**
 * Runs one Python program, alone, in the same sandbox as {@link runProgramTests}' stdio
 * tests (fresh namespaces, uid, rlimits, private tmp; nothing survives the call), with
 * `stdin` piped in, and returns what it printed. For tools that run model-written code: a
 * program that fails is a result, never an error; errors are for a sandbox that cannot run.
 */
export async function runPythonProgram(params: {
  program: string;
  stdin?: string;
  limits?: SandboxLimitsInput;
  signal?: AbortSignal;
  pool?: TaskPool;
}): Promise<ProgramRunResult> {
  const limits: SandboxLimits = parseWithSchema({
    schema: sandboxLimitsSchema,
    value: params.limits ?? {},
    label: "sandbox limits",
  });
  const [isolation, python] = await Promise.all([
    detectSandboxIsolation(),
    resolveInterpreter({ language: "python" }),
  ]);
  const pool = params.pool ?? sharedSandboxPool();
  const bound = memoryBound({ limits, concurrency: pool.concurrency });
  return pool.run(async () => {
    if (params.signal?.aborted)
      throw new CodeSandboxError({ code: "sandbox_aborted", message: "sandboxed run aborted" });
    const result = await runSandboxedProcess({
      python,
      runtime: python,
      isolation,
      limits,
      message: {
        mode: "stdio",
        program: params.program,
        test: null,
        limits: {
          cpuSeconds: limits.cpuSeconds ?? Math.ceil(limits.wallSeconds) + 1,
          memoryBytes: bound.memoryBytes,
          maxProcesses: bound.maxProcesses,
          fileSizeBytes: limits.fileSizeMegabytes * 1024 * 1024,
          memoryKind: "address-space",
        },
      },
      stdin: params.stdin ?? null,
      ...(params.signal === undefined ? {} : { signal: params.signal }),
    });
    return {
      stdout: result.stdout,
      stderrTail: result.stderrTail,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      outputLimitExceeded: result.outputLimitExceeded,
      syntaxError: result.exitCode === 113,
      raised: result.exitCode === 114,
    };
  });
}
