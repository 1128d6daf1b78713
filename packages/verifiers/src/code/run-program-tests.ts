import { parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { detectSandboxIsolation, type ProgramLanguage, resolveInterpreter } from "./environment.js";
import { CodeSandboxError } from "./errors.js";
import {
  defaultSandboxConcurrency,
  memoryBound,
  type SandboxLimits,
  type SandboxLimitsInput,
  sandboxLimitsSchema,
} from "./limits.js";
import { outputsMatch } from "./output-compare.js";
import {
  type HarnessMessage,
  runSandboxedProcess,
  type SandboxedProcessResult,
} from "./sandboxed-process.js";
import { createTaskPool, type TaskPool } from "./task-pool.js";
import { transpileTypeScript } from "./typescript.js";

/**
 * One test. `assert`: a snippet run after the program in the same namespace (Python:
 * `assert` statements; JavaScript/TypeScript: calls on the provided `assert`); it passes only
 * if it ran to the end and at least one of its assertions actually ran and held. `stdio`:
 * `input` is piped to the program's stdin and its stdout must equal `output` (see
 * {@link outputsMatch}) with a clean exit.
 */
export type ProgramTest = { kind: "assert"; code: string } | { kind: "stdio"; input: string; output: string };

export const programTestSchema: z.ZodType<ProgramTest> = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("assert"), code: z.string() }),
  z.object({ kind: z.literal("stdio"), input: z.string(), output: z.string() }),
]);

/**
 * Why a test failed (stable strings):
 * `timeout`, `output_limit_exceeded`, `killed` (signal, e.g. CPU or memory limit),
 * `program_syntax_error`, `program_error`, `program_exited_before_tests` (sys.exit),
 * `no_report` (the process ended without the harness's nonce line, e.g. `os._exit`),
 * `assertion_failed`, `untrusted_value` (equality rule), `no_assertion_ran`,
 * `exited_during_tests`, `test_error`, `test_syntax_error`, `program_exit` (non-zero exit),
 * `wrong_output`, `deadline_exceeded` (the whole check ran out of time), `missing_module`
 * (the program or the test imports a module the sandbox's Python lacks),
 * `exited_during_tests` (the program's process ended during a call), `protocol_error` (the
 * program's process sent something that is not a literal value), `ok`.
 */
export interface ProgramTestOutcome {
  index: number;
  kind: ProgramTest["kind"];
  /**
   * `boundary`: the test ran in a referee process apart from the program, exchanging only
   * literal values; `in_process`: the fallback (the test needs a program-defined class),
   * program and referee in one process; `stdio`: stdout compared by the verifier.
   */
  mode: "boundary" | "in_process" | "stdio";
  passed: boolean;
  timedOut: boolean;
  exitCode: number | null;
  /** The signal that ended the process, if any (SIGKILL on timeout or output overflow). */
  signal: string | null;
  /** Assertions that ran and held (assert tests). */
  assertions: number;
  reason: string;
  /** The harness's explanation (exception text, refused comparison), if any. */
  detail: string;
  stderrTail: string;
}

export interface ProgramTestsResult {
  language: ProgramLanguage;
  outcomes: ProgramTestOutcome[];
  passed: number;
  total: number;
  /** passed / total (0 when there are no tests). */
  score: number;
  /** Which isolation layers held for these runs, and the interpreter used. */
  sandbox: {
    interpreter: string;
    networkNamespace: boolean;
    pidNamespace: boolean;
    privateTemporaryMounts: boolean;
    userSwitch: boolean;
    ipcNamespace: boolean;
    privateRoot: boolean;
    seccomp: boolean;
    /** The per-process memory limit and process limit of each test (see `memoryBound`). */
    memoryBytes: number;
    maxProcesses: number;
  };
}

let sharedPool: TaskPool | undefined;

/** The process-wide pool every sandboxed run goes through (size: POSTTRAIN_SANDBOX_CONCURRENCY or the core count). */
export function sharedSandboxPool(): TaskPool {
  sharedPool ??= createTaskPool({ concurrency: defaultSandboxConcurrency() });
  return sharedPool;
}

function interpretOutcome(params: {
  index: number;
  test: ProgramTest;
  mode: ProgramTestOutcome["mode"];
  result: SandboxedProcessResult;
}): ProgramTestOutcome {
  const { index, test, result } = params;
  const base = {
    index,
    kind: test.kind,
    mode: params.mode,
    timedOut: result.timedOut,
    exitCode: result.exitCode,
    signal: result.signal,
    assertions: result.report?.assertions ?? 0,
    detail: result.report?.detail ?? "",
    stderrTail: result.stderrTail,
  };
  const fail = (reason: string, detail?: string) => ({
    ...base,
    passed: false,
    reason,
    ...(detail === undefined ? {} : { detail }),
  });
  if (result.timedOut) return fail("timeout");
  if (result.outputLimitExceeded) return fail("output_limit_exceeded");
  const report = result.report;
  if (test.kind === "assert") {
    if (report === null) return fail(result.signal !== null ? "killed" : "no_report");
    if (report.status !== "passed") return fail(report.reason);
    if (result.exitCode !== 0) return fail("test_error", `exit code ${result.exitCode}`);
    return { ...base, passed: true, reason: "ok" };
  }
  if (report !== null && report.status === "failed") return fail(report.reason);
  if (result.exitCode === 113) return fail("program_syntax_error");
  if (result.exitCode === 114)
    return fail(
      /ModuleNotFoundError|No module named/.test(result.stderrTail) ? "missing_module" : "program_error",
    );
  if (result.exitCode !== 0) return fail(result.signal !== null ? "killed" : "program_exit");
  if (!outputsMatch({ actual: result.stdout, expected: test.output })) return fail("wrong_output");
  return { ...base, passed: true, reason: "ok" };
}

function skippedOutcome(index: number, test: ProgramTest, reason: string): ProgramTestOutcome {
  return {
    index,
    kind: test.kind,
    mode: test.kind === "stdio" ? "stdio" : "boundary",
    passed: false,
    timedOut: false,
    exitCode: null,
    signal: null,
    assertions: 0,
    reason,
    detail: "",
    stderrTail: "",
  };
}

/**
 * Runs `program` against each test in its own sandboxed process (see README: limits,
 * isolation, how a pass is proved), at most `pool.concurrency` processes at once across the
 * whole process. TypeScript is transpiled to JavaScript first (program and assert tests).
 *
 * `deadline` (epoch milliseconds) bounds the whole call: a test still waiting at the
 * deadline fails with `deadline_exceeded`, a running one gets at most the time left.
 * Aborting `signal` kills the running processes and throws `sandbox_aborted`.
 * Throws {@link CodeSandboxError} only when the sandbox cannot run at all (no interpreter).
 */
export async function runProgramTests(params: {
  program: string;
  language: ProgramLanguage;
  tests: readonly ProgramTest[];
  limits?: SandboxLimitsInput;
  deadline?: number;
  signal?: AbortSignal;
  pool?: TaskPool;
  /**
   * Whether a test that needs a program-defined class (`needs_in_process`) runs again with
   * the in-process referee (default true; `mode: "in_process"` in its outcome). With false it
   * fails with `needs_in_process`: a program can force the fallback by defining the tested
   * name as a class, so callers that want only the boundary's guarantee turn it off.
   */
  inProcessFallback?: boolean;
  /**
   * Python assert tests: `boundary` (default; in-process only as the fallback) or
   * `in_process` for every test (the 1.x referee, for comparisons such as bench:code-sandbox).
   */
  referee?: "boundary" | "in_process";
}): Promise<ProgramTestsResult> {
  const limits: SandboxLimits = parseWithSchema({
    schema: sandboxLimitsSchema,
    value: params.limits ?? {},
    label: "sandbox limits",
  });
  const tests = parseWithSchema({
    schema: z.array(programTestSchema),
    value: params.tests,
    label: "program tests",
  });
  const language = params.language;
  const [isolation, python, runtime] = await Promise.all([
    detectSandboxIsolation(),
    resolveInterpreter({ language: "python" }),
    resolveInterpreter({ language }),
  ]);
  const pool = params.pool ?? sharedSandboxPool();
  const inProcessFallback = params.inProcessFallback ?? true;

  let program = params.program;
  let preparedTests = tests;
  let preparationError: string | null = null;
  if (language === "typescript") {
    try {
      program = await transpileTypeScript({ source: program, fileName: "program.ts" });
      preparedTests = await Promise.all(
        tests.map(async (test) =>
          test.kind === "assert"
            ? { ...test, code: await transpileTypeScript({ source: test.code, fileName: "test.ts" }) }
            : test,
        ),
      );
    } catch (error) {
      if (CodeSandboxError.hasCode(error, "sandbox_typescript_unavailable")) throw error;
      preparationError = error instanceof Error ? error.message : String(error);
    }
  }
  const cpuSeconds = limits.cpuSeconds ?? Math.ceil(limits.wallSeconds) + 1;
  const bound = memoryBound({ limits, concurrency: pool.concurrency });
  const harnessLimits = {
    cpuSeconds,
    memoryBytes: bound.memoryBytes,
    maxProcesses: bound.maxProcesses,
    fileSizeBytes: limits.fileSizeMegabytes * 1024 * 1024,
    // Node reserves far more address space than it uses: bound its data segment instead.
    memoryKind: runtime.language === "javascript" ? ("data" as const) : ("address-space" as const),
  };

  const runOnce = async (test: ProgramTest, mode: HarnessMessage["mode"], wallSeconds: number) =>
    runSandboxedProcess({
      python,
      runtime,
      isolation,
      limits: { ...limits, wallSeconds },
      message: {
        mode,
        program,
        test: test.kind === "assert" ? test.code : null,
        limits: harnessLimits,
      },
      stdin: test.kind === "stdio" ? test.input : null,
      ...(params.signal === undefined ? {} : { signal: params.signal }),
    });

  const outcomes = await Promise.all(
    preparedTests.map((test, index) =>
      pool.run(async (): Promise<ProgramTestOutcome> => {
        if (params.signal?.aborted)
          throw new CodeSandboxError({ code: "sandbox_aborted", message: "sandboxed run aborted" });
        if (preparationError !== null) {
          return { ...skippedOutcome(index, test, "program_syntax_error"), detail: preparationError };
        }
        const started = Date.now();
        const wallLeft = () => {
          let wallSeconds = limits.wallSeconds - (Date.now() - started) / 1000;
          if (params.deadline !== undefined)
            wallSeconds = Math.min(wallSeconds, (params.deadline - Date.now()) / 1000);
          return wallSeconds;
        };
        if (wallLeft() <= 0.05) return skippedOutcome(index, test, "deadline_exceeded");
        const mode: ProgramTestOutcome["mode"] =
          test.kind === "stdio" ? "stdio" : params.referee === "in_process" ? "in_process" : "boundary";
        const result = await runOnce(test, mode, wallLeft());
        const outcome = interpretOutcome({ index, test, mode, result });
        if (outcome.reason !== "needs_in_process" || !inProcessFallback) return outcome;
        // The test needs a program-defined class: run it again with the in-process referee.
        if (wallLeft() <= 0.05) return skippedOutcome(index, test, "deadline_exceeded");
        const again = await runOnce(test, "in_process", wallLeft());
        return interpretOutcome({ index, test, mode: "in_process", result: again });
      }),
    ),
  );
  const passed = outcomes.filter((outcome) => outcome.passed).length;
  return {
    language,
    sandbox: {
      interpreter: `${runtime.executable} ${runtime.version}`,
      networkNamespace: isolation.networkNamespace,
      pidNamespace: isolation.pidNamespace,
      privateTemporaryMounts: isolation.privateTemporaryMounts,
      userSwitch: isolation.userSwitch && python.userSwitch && runtime.userSwitch,
      ipcNamespace: isolation.networkNamespace,
      privateRoot: isolation.privateTemporaryMounts,
      seccomp: isolation.seccomp,
      memoryBytes: bound.memoryBytes,
      maxProcesses: bound.maxProcesses,
    },
    outcomes,
    passed,
    total: outcomes.length,
    score: outcomes.length === 0 ? 0 : passed / outcomes.length,
  };
}
