import { execFile } from "node:child_process";
import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { CodeSandboxError } from "./errors.js";

/** The languages the sandbox runs. TypeScript is transpiled to JavaScript first. */
export type ProgramLanguage = "python" | "javascript" | "typescript";

/**
 * What isolation this machine allows, probed once per process:
 * - `networkNamespace` / `pidNamespace`: `unshare --net --pid --fork` works (as root, or with
 *   unprivileged user namespaces). The program sees no network interface at all, and killing
 *   its first process tears down every process it started, even ones that called `setsid`.
 * - `userSwitch`: we are root and `setpriv` can drop to a fresh, unused user id per run, which
 *   makes RLIMIT_NPROC effective (root ignores it) and keeps the program away from files
 *   that are not world-readable and from signalling our processes.
 * - `prlimit`: util-linux `prlimit` applies CPU / address-space / process / file-size limits
 *   to the exec'd interpreter (without it, the Python prelude cannot apply them to itself
 *   before the interpreter starts, so only the wall timeout and output cap hold).
 */
export interface SandboxIsolation {
  networkNamespace: boolean;
  pidNamespace: boolean;
  /**
   * A mount namespace too: fresh, size-capped tmpfs on /tmp, /var/tmp and /dev/shm for each
   * run (the program's cwd and HOME are that private /tmp, gone when the run ends, and files
   * the program writes there never reach the host's disk).
   */
  privateTemporaryMounts: boolean;
  userSwitch: boolean;
  prlimit: boolean;
  /**
   * A seccomp filter (installed by the harness, inherited by the program) refuses new user
   * namespaces: `clone`/`unshare` with CLONE_NEWUSER and `setns` fail with EPERM, `clone3`
   * with ENOSYS (libc falls back to `clone`). x86-64 and arm64 Linux; off with
   * POSTTRAIN_SANDBOX_NO_SECCOMP=1.
   */
  seccomp: boolean;
  /** The `unshare` arguments that create the namespaces (empty when unavailable). */
  namespaceArguments: string[];
  tools: { shell: string | null; unshare: string | null; setpriv: string | null; prlimit: string | null };
  notes: string[];
}

/** A runtime the sandbox runs programs with, and whether it may run under the sandbox user. */
export interface SandboxInterpreter {
  language: "python" | "javascript";
  executable: string;
  version: string;
  /** False when the interpreter is not reachable by the sandbox user (e.g. under /root). */
  userSwitch: boolean;
}

/** A user id that no account uses: the sandbox runs each process as a fresh one. */
export const probeUserId = 2_000_000_000;

/** The directories that get a private tmpfs when mounts are private. */
export const privateTemporaryDirectories = ["/tmp", "/var/tmp", "/dev/shm"] as const;

function findOnPath(name: string): string | null {
  const directories = (process.env.PATH ?? "").split(delimiter).filter((entry) => entry !== "");
  for (const directory of [
    ...directories,
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
  ]) {
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

interface CommandResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

function runCommand(command: string, args: string[], timeoutMilliseconds = 10_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMilliseconds, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
      (error, stdout, stderr) => {
        resolve({ ok: error === null, stdout, stderr });
      },
    );
  });
}

/**
 * The shell script run as the namespace's first process when mounts are private: mounts a
 * tmpfs of `sizeMegabytes` on each temporary directory, enters /tmp, then `exec`s the rest of
 * the command line (its arguments).
 */
export function privateTemporaryScript(sizeMegabytes: number): string {
  return [
    "set -e",
    `for directory in ${privateTemporaryDirectories.join(" ")}; do`,
    `  if [ -d "$directory" ]; then mount -t tmpfs -o size=${sizeMegabytes}m,mode=1777,nosuid,nodev tmpfs "$directory"; fi`,
    "done",
    "cd /tmp",
    'exec "$@"',
  ].join("\n");
}

let isolationPromise: Promise<SandboxIsolation> | undefined;

/** Probes (once) which isolation features this machine supports. */
export function detectSandboxIsolation(): Promise<SandboxIsolation> {
  isolationPromise ??= (async () => {
    const tools: SandboxIsolation["tools"] = {
      shell: null,
      unshare: findOnPath("unshare"),
      setpriv: findOnPath("setpriv"),
      prlimit: findOnPath("prlimit"),
    };
    const notes: string[] = [];
    let namespaces = false;
    let privateTemporaryMounts = false;
    let namespaceArguments: string[] = [];
    let userSwitch = false;
    const asRoot = process.getuid?.() === 0;
    const shell = findOnPath("sh");
    const wantNamespaces = process.env.POSTTRAIN_SANDBOX_NO_NAMESPACES !== "1";
    const baseArguments = asRoot
      ? ["--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
      : ["--user", "--map-root-user", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"];
    const switchArguments = [`--reuid=${probeUserId}`, `--regid=${probeUserId}`, "--clear-groups", "--"];
    // Fast path (one spawn): every layer at once, the common case on Linux hosts we run on.
    if (
      wantNamespaces &&
      tools.unshare !== null &&
      shell !== null &&
      tools.prlimit !== null &&
      (!asRoot || tools.setpriv !== null)
    ) {
      const chain = [
        ...(asRoot && tools.setpriv !== null ? [tools.setpriv, ...switchArguments] : []),
        tools.prlimit,
        "--nproc=64",
        "--",
        "true",
      ];
      const all = await runCommand(tools.unshare, [
        "--mount",
        ...baseArguments,
        "--",
        shell,
        "-c",
        privateTemporaryScript(1),
        "sandbox-setup",
        ...chain,
      ]);
      if (all.ok) {
        namespaces = true;
        privateTemporaryMounts = true;
        userSwitch = asRoot;
        namespaceArguments = ["--mount", ...baseArguments, "--"];
        tools.shell = shell;
      }
    }
    if (!namespaces) {
      // Slow path: probe each layer on its own (in parallel) to keep what works.
      const unshare = tools.unshare;
      const setpriv = tools.setpriv;
      const [namespaceProbe, mountProbe, switchProbe] = await Promise.all([
        wantNamespaces && unshare !== null ? runCommand(unshare, [...baseArguments, "--", "true"]) : null,
        wantNamespaces && unshare !== null && shell !== null
          ? runCommand(unshare, [
              "--mount",
              ...baseArguments,
              "--",
              shell,
              "-c",
              privateTemporaryScript(1),
              "sandbox-setup",
              "true",
            ])
          : null,
        asRoot && setpriv !== null ? runCommand(setpriv, [...switchArguments, "true"]) : null,
      ]);
      namespaces = namespaceProbe?.ok === true;
      privateTemporaryMounts = namespaces && mountProbe?.ok === true;
      userSwitch = switchProbe?.ok === true;
      namespaceArguments = namespaces
        ? [...(privateTemporaryMounts ? ["--mount"] : []), ...baseArguments, "--"]
        : [];
      if (privateTemporaryMounts) tools.shell = shell;
      if (!wantNamespaces) notes.push("namespaces disabled by POSTTRAIN_SANDBOX_NO_NAMESPACES=1");
      else if (unshare === null)
        notes.push("util-linux unshare not found: no network, PID or mount namespace");
      else if (!namespaces)
        notes.push(
          "unshare --net --pid failed here (no privileges or user namespaces): no network or PID namespace",
        );
      else if (!privateTemporaryMounts)
        notes.push("tmpfs mounts in a mount namespace failed: /tmp, /var/tmp and /dev/shm are shared");
      if (!asRoot)
        notes.push("not root: programs run as the current user; RLIMIT_NPROC applies to that user");
      else if (setpriv === null)
        notes.push("setpriv not found: programs run as root, RLIMIT_NPROC is not enforced");
      else if (!userSwitch)
        notes.push("setpriv could not switch user: programs run as root, RLIMIT_NPROC is not enforced");
    }
    if (tools.prlimit === null)
      notes.push(
        "prlimit not found: CPU, memory, process and file-size limits are applied by the Python prelude only",
      );
    const seccomp =
      namespaces &&
      (process.arch === "x64" || process.arch === "arm64") &&
      process.env.POSTTRAIN_SANDBOX_NO_SECCOMP !== "1";
    return {
      networkNamespace: namespaces,
      pidNamespace: namespaces,
      privateTemporaryMounts,
      userSwitch,
      prlimit: tools.prlimit !== null,
      seccomp,
      namespaceArguments,
      tools,
      notes,
    };
  })();
  return isolationPromise;
}

/** Whether a user that is neither owner nor group member can execute `path` (symlinks resolved). */
function executableByOthers(path: string): boolean {
  try {
    const real = realpathSync(path);
    if ((statSync(real).mode & 0o001) === 0) return false;
    let directory = dirname(real);
    for (;;) {
      if ((statSync(directory).mode & 0o001) === 0) return false;
      const parent = dirname(directory);
      if (parent === directory) return true;
      directory = parent;
    }
  } catch {
    return false;
  }
}

/** Runs the interpreter directly and, in parallel, as the sandbox user. */
async function probeInterpreter(params: {
  executable: string;
  args: string[];
  isolation: SandboxIsolation;
}): Promise<{ runs: boolean; runsAsSandboxUser: boolean; output: string }> {
  const setpriv = params.isolation.tools.setpriv;
  const [direct, switched] = await Promise.all([
    runCommand(params.executable, params.args),
    params.isolation.userSwitch && setpriv !== null
      ? runCommand(setpriv, [
          `--reuid=${probeUserId}`,
          `--regid=${probeUserId}`,
          "--clear-groups",
          "--",
          params.executable,
          ...params.args,
        ])
      : null,
  ]);
  if (!direct.ok) return { runs: false, runsAsSandboxUser: false, output: direct.stderr };
  const runsAsSandboxUser = switched?.ok === true && switched.stdout === direct.stdout;
  return { runs: true, runsAsSandboxUser, output: direct.stdout.trim() };
}

const interpreterPromises = new Map<string, Promise<SandboxInterpreter>>();

const pythonVersionProbe = [
  "-I",
  "-c",
  "import sys; assert sys.version_info >= (3, 8); print(sys.executable + '\\n' + sys.version.split()[0])",
];

async function resolvePython(isolation: SandboxIsolation): Promise<SandboxInterpreter> {
  const override = process.env.POSTTRAIN_PYTHON;
  const candidates: string[] = [];
  if (override !== undefined && override !== "") candidates.push(override);
  else {
    const onPath = findOnPath("python3");
    if (onPath !== null) candidates.push(onPath);
    candidates.push("/usr/bin/python3");
  }
  // Candidates the sandbox user cannot even reach (e.g. a pyenv shim under /root, mode 0700)
  // go last: running them costs seconds for nothing when a system python3 exists.
  const ordered = isolation.userSwitch
    ? [
        ...candidates.filter((candidate) => executableByOthers(candidate)),
        ...candidates.filter((candidate) => !executableByOthers(candidate)),
      ]
    : candidates;
  const fallbacks: Array<{ executable: string; version: string }> = [];
  for (const candidate of [...new Set(ordered)]) {
    // The real executable (skips pyenv/asdf shims on every later run).
    const first = await runCommand(candidate, pythonVersionProbe);
    if (!first.ok) continue;
    const [executable = candidate, version = "unknown"] = first.stdout.trim().split("\n");
    if (isolation.userSwitch && !executableByOthers(executable)) {
      fallbacks.push({ executable, version });
      continue;
    }
    const probe = await probeInterpreter({ executable, args: pythonVersionProbe, isolation });
    if (!probe.runs) continue;
    if (isolation.userSwitch && !probe.runsAsSandboxUser) {
      fallbacks.push({ executable, version });
      continue;
    }
    return { language: "python", executable, version, userSwitch: probe.runsAsSandboxUser };
  }
  const fallback = fallbacks[0];
  if (fallback !== undefined) {
    isolation.notes.push(
      `${fallback.executable} is not executable by the sandbox user: Python programs run as root`,
    );
    return { language: "python", ...fallback, userSwitch: false };
  }
  throw new CodeSandboxError({
    code: "sandbox_interpreter_missing",
    message:
      override !== undefined && override !== ""
        ? `POSTTRAIN_PYTHON=${override} is not a working Python >= 3.8 interpreter`
        : "no Python >= 3.8 interpreter found: install python3 (Debian: apt-get install python3) or set POSTTRAIN_PYTHON",
    details: { candidates },
  });
}

async function resolveNode(isolation: SandboxIsolation): Promise<SandboxInterpreter> {
  const probe = await probeInterpreter({
    executable: process.execPath,
    args: ["-e", "process.stdout.write(process.version)"],
    isolation,
  });
  if (!probe.runs) {
    throw new CodeSandboxError({
      code: "sandbox_interpreter_missing",
      message: `cannot run ${process.execPath} for JavaScript programs`,
    });
  }
  if (isolation.userSwitch && !probe.runsAsSandboxUser) {
    isolation.notes.push(
      `${process.execPath} is not executable by the sandbox user: JavaScript programs run as root`,
    );
  }
  return {
    language: "javascript",
    executable: process.execPath,
    version: probe.output,
    userSwitch: probe.runsAsSandboxUser,
  };
}

/** Finds (once per language) the interpreter that runs programs of `language`. */
export async function resolveInterpreter({
  language,
}: {
  language: ProgramLanguage;
}): Promise<SandboxInterpreter> {
  const runtime = language === "python" ? "python" : "javascript";
  let promise = interpreterPromises.get(runtime);
  if (promise === undefined) {
    promise = detectSandboxIsolation().then((isolation) =>
      runtime === "python" ? resolvePython(isolation) : resolveNode(isolation),
    );
    interpreterPromises.set(runtime, promise);
    // A missing interpreter may be installed later: do not cache the failure.
    promise.catch(() => interpreterPromises.delete(runtime));
  }
  return promise;
}
