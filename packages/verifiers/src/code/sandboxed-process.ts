import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { realpathSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Duplex, Writable } from "node:stream";
import { probeUserId, type SandboxInterpreter, type SandboxIsolation } from "./environment.js";
import { CodeSandboxError } from "./errors.js";
import {
  javascriptInProcessHarness,
  javascriptProgramHarness,
  javascriptRefereeHarness,
  pythonHarness,
} from "./harness.js";
import type { SandboxLimits } from "./limits.js";

/** What the trusted referee reported over fd 3 (only lines carrying the run's nonce count). */
export interface PreludeReport {
  status: "passed" | "failed" | "completed";
  assertions: number;
  reason: string;
  detail: string;
}

/** The outcome of one sandboxed process. */
export interface SandboxedProcessResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  outputLimitExceeded: boolean;
  stdout: string;
  stderrTail: string;
  report: PreludeReport | null;
}

const stderrTailBytes = 2048;

/**
 * What the harness reads from fd 3: frame 1 (`mode`, `program`, `limits`, `setup`) before
 * anything else, frame 2 (`nonce`, `test`) only in the referee, after the fork.
 */
export interface HarnessMessage {
  /** `boundary`: program and referee in two processes; `stdio`; `in_process`: the fallback. */
  mode: "boundary" | "stdio" | "in_process";
  program: string;
  test: string | null;
  limits: {
    cpuSeconds: number;
    memoryBytes: number;
    maxProcesses: number;
    fileSizeBytes: number;
    memoryKind: "address-space" | "data";
  };
}

function parseReport(text: string, nonce: string): PreludeReport | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${nonce} `)) continue;
    const [, status, assertions, reason, detail] = line.split(" ");
    if (status !== "passed" && status !== "failed" && status !== "completed") return null;
    const count = Number.parseInt(assertions ?? "", 10);
    return {
      status,
      assertions: Number.isInteger(count) && count >= 0 ? count : 0,
      reason: reason ?? "unknown",
      detail: detail === undefined || detail === "-" ? "" : Buffer.from(detail, "hex").toString("utf8"),
    };
  }
  return null;
}

function sandboxEnvironment(directory: string): NodeJS.ProcessEnv {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: directory,
    TMPDIR: directory,
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    PYTHONIOENCODING: "utf-8",
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONHASHSEED: "0",
    OPENBLAS_NUM_THREADS: "1",
    OMP_NUM_THREADS: "1",
    MKL_NUM_THREADS: "1",
  };
}

/** A directory to expose read-only in the sandbox's root when the interpreter lives outside /usr. */
function interpreterPrefix(executable: string): string[] {
  try {
    const real = realpathSync(executable);
    if (real.startsWith("/usr/") || real.startsWith("/bin/") || real.startsWith("/lib")) return [];
    return [dirname(dirname(real))];
  } catch {
    return [];
  }
}

/** The size of each private tmpfs. */
function temporaryMegabytes(limits: SandboxLimits): number {
  return Math.max(16, limits.fileSizeMegabytes * 4);
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Without a PID namespace, kill every process of the sandbox user (catches `setsid` escapees). */
async function killUser(params: { isolation: SandboxIsolation; userId: number }): Promise<void> {
  const setpriv = params.isolation.tools.setpriv;
  if (setpriv === null) return;
  await new Promise<void>((resolve) => {
    const killer = spawn(
      setpriv,
      [
        `--reuid=${params.userId}`,
        `--regid=${params.userId}`,
        "--clear-groups",
        "--",
        process.execPath,
        "-e",
        "try{process.kill(-1,'SIGKILL')}catch{}",
      ],
      { stdio: "ignore" },
    );
    killer.on("error", () => resolve());
    killer.on("close", () => resolve());
  });
}

/**
 * Runs one program under the sandbox: a private temporary directory as cwd and HOME (removed
 * afterwards), a minimal environment, a detached process group killed with SIGKILL on timeout
 * or when the output cap is hit, namespaces / user switch / rlimits as the machine allows.
 * `message` goes to the prelude over fd 3; `stdin` (or nothing) to the program's stdin.
 */
export async function runSandboxedProcess(params: {
  /** The Python interpreter that runs the harness. */
  python: SandboxInterpreter;
  /** The runtime of the program: Python, or Node (exec'd by the harness after isolation). */
  runtime: SandboxInterpreter;
  isolation: SandboxIsolation;
  limits: SandboxLimits;
  message: HarnessMessage;
  stdin: string | null;
  signal?: AbortSignal;
}): Promise<SandboxedProcessResult> {
  const { isolation, limits } = params;
  const switchUser = isolation.userSwitch && params.python.userSwitch && params.runtime.userSwitch;
  const userId = switchUser ? probeUserId + 1 + randomInt(1_000_000_000) : null;
  const refereeUserId = userId === null ? null : userId + 1;
  const directory = await mkdtemp(join(tmpdir(), "posttrain-sandbox-"));
  try {
    await chmod(directory, 0o700);
    if (userId !== null) await chown(directory, userId, userId);
    const nonce = randomBytes(24).toString("hex");
    const command =
      isolation.networkNamespace && isolation.tools.unshare !== null
        ? isolation.tools.unshare
        : params.python.executable;
    const harnessArguments = [params.python.executable, "-I", "-B", "-c", pythonHarness];
    const args =
      command === params.python.executable
        ? harnessArguments.slice(1)
        : [...isolation.namespaceArguments, ...harnessArguments];
    const child = spawn(command, args, {
      cwd: directory,
      env: sandboxEnvironment(isolation.privateTemporaryMounts ? "/tmp" : directory),
      stdio: ["pipe", "pipe", "pipe", "pipe"],
      detached: true,
    });
    const javascript = params.runtime.language === "javascript";
    const setup =
      isolation.networkNamespace || userId !== null
        ? {
            root: isolation.privateTemporaryMounts,
            tmpfsMegabytes: temporaryMegabytes(limits),
            programUserId: userId,
            refereeUserId,
            seccomp: isolation.seccomp,
            extraReadOnly: [
              ...interpreterPrefix(params.python.executable),
              ...(javascript ? interpreterPrefix(params.runtime.executable) : []),
            ],
          }
        : null;
    const javascriptBoundary = javascript && params.message.mode === "boundary";
    const first = Buffer.from(
      JSON.stringify({
        mode: params.message.mode,
        program: javascript && !javascriptBoundary ? "" : params.message.program,
        limits: params.message.limits,
        setup,
        ...(javascript
          ? {
              node: params.runtime.executable,
              javascriptHarness: javascriptInProcessHarness,
              ...(javascriptBoundary
                ? { javascriptProgram: javascriptProgramHarness, javascriptReferee: javascriptRefereeHarness }
                : {}),
            }
          : {}),
      }),
      "utf8",
    );
    const second = Buffer.from(
      JSON.stringify(
        javascript && !javascriptBoundary
          ? {
              nonce,
              mode: params.message.mode === "stdio" ? "stdio" : "assert",
              program: params.message.program,
              test: params.message.test,
            }
          : { nonce, test: params.message.test },
      ),
      "utf8",
    );

    return await new Promise<SandboxedProcessResult>((resolve, reject) => {
      let timedOut = false;
      let outputLimitExceeded = false;
      let outputBytes = 0;
      const stdoutChunks: Buffer[] = [];
      let stderrTail = Buffer.alloc(0);
      let control = "";
      let exitCode: number | null = null;
      let exitSignal: string | null = null;
      let settled = false;

      const finish = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(wallTimer);
        clearTimeout(closeTimer);
        params.signal?.removeEventListener("abort", onAbort);
        killGroup(child.pid);
        for (const stream of child.stdio) stream?.destroy();
        const cleanup =
          userId !== null && !isolation.pidNamespace ? killUser({ isolation, userId }) : Promise.resolve();
        cleanup.then(() => {
          if (error !== undefined) reject(error);
          else
            resolve({
              exitCode,
              signal: exitSignal,
              timedOut,
              outputLimitExceeded,
              stdout: Buffer.concat(stdoutChunks).toString("utf8"),
              stderrTail: stderrTail.toString("utf8"),
              report: parseReport(control, nonce),
            });
        });
      };

      const onAbort = () =>
        finish(new CodeSandboxError({ code: "sandbox_aborted", message: "sandboxed run aborted" }));
      if (params.signal?.aborted) {
        onAbort();
        return;
      }
      params.signal?.addEventListener("abort", onAbort, { once: true });

      const wallTimer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid);
        finish();
      }, limits.wallSeconds * 1000);
      let closeTimer: NodeJS.Timeout | undefined;

      const countOutput = (size: number) => {
        outputBytes += size;
        if (outputBytes > limits.outputBytes && !outputLimitExceeded) {
          outputLimitExceeded = true;
          killGroup(child.pid);
          finish();
        }
      };
      child.stdout.on("data", (chunk: Buffer) => {
        const room = limits.outputBytes - outputBytes;
        if (room > 0) stdoutChunks.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
        countOutput(chunk.length);
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderrTail = Buffer.concat([stderrTail, chunk]);
        if (stderrTail.length > stderrTailBytes)
          stderrTail = stderrTail.subarray(stderrTail.length - stderrTailBytes);
        countOutput(chunk.length);
      });
      const controlStream = child.stdio[3] as Duplex;
      controlStream.on("data", (chunk: Buffer) => {
        if (control.length < 65_536) control += chunk.toString("latin1");
      });
      for (const stream of child.stdio) stream?.on("error", () => {});

      child.on("error", (error) => {
        finish(
          new CodeSandboxError({
            code: "sandbox_spawn_failed",
            message: `could not start ${command}`,
            cause: error,
          }),
        );
      });
      child.on("exit", (code, signal) => {
        exitCode = code;
        exitSignal = signal;
        // Leftover background processes would keep the pipes open: kill the group, then wait
        // briefly for the pipes to drain.
        killGroup(child.pid);
        closeTimer = setTimeout(() => finish(), 500);
      });
      child.on("close", () => finish());

      controlStream.write(`${first.length}\n`);
      controlStream.write(first);
      controlStream.write(`${second.length}\n`);
      controlStream.write(second);
      const stdin = child.stdin as Writable;
      if (params.stdin !== null && params.stdin !== "") stdin.end(params.stdin);
      else stdin.end();
    });
  } finally {
    await rm(directory, { recursive: true, force: true }).catch(() => {});
  }
}
