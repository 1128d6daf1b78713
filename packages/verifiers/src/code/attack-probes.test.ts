import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attackProbes } from "./attack-probes.js";
import { detectSandboxIsolation } from "./environment.js";
import { codeStdioVerifier, codeVerifier } from "./verifiers.js";

/**
 * Issue 16's attacks H1–H9 and E1–E8 as probes: each scores 0 and leaves the host as it
 * was (no SysV IPC object, file or process left behind). Against harness 1.0.0 (commit
 * d3f8b3e, the in-process referee without a private root) these probes scored 1 (H1–H7,
 * H9) or reached the host (E1–E8); H8 scored 1 there too (node:inspector). The run that
 * showed it is recorded in the README ("Attack probes").
 */
const isolation = await detectSandboxIsolation();

/** What a probe could leave on the host: SysV IPC keys and files in shared directories. */
function hostState(): { ipc: string[]; files: string[] } {
  const ipc: string[] = [];
  for (const kind of ["shm", "msg", "sem"]) {
    const path = `/proc/sysvipc/${kind}`;
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, "utf8").trim().split("\n").slice(1)) {
      const key = line.trim().split(/\s+/)[0];
      if (key !== undefined) ipc.push(`${kind}:${key}`);
    }
  }
  const files: string[] = [];
  for (const directory of ["/run/lock", "/var/tmp", "/dev/shm", "/tmp"]) {
    if (!existsSync(directory)) continue;
    for (const name of readdirSync(directory))
      if (name.startsWith("posttrain-e")) files.push(`${directory}/${name}`);
  }
  return { ipc: ipc.sort(), files: files.sort() };
}

/** Processes of sandbox uids (≥ 2·10⁹) as `pid:starttime`, so a reused pid is not the same process. */
function sandboxProcesses(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statSync(`/proc/${entry}`).uid < 2_000_000_000) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      found.push(`${entry}:${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`);
    } catch {
      // gone while we looked
    }
  }
  return found;
}

describe.skipIf(!isolation.networkNamespace)("issue 16 attack probes (score 0, host unchanged)", () => {
  // H9's setting: a world-readable input file holding the answers, named on a host process's
  // command line (as `posttrain verify --input rows.jsonl` does), outside any temporary dir.
  const answerKey = fileURLToPath(
    new URL(`../../.h9-probe-${randomBytes(6).toString("hex")}.jsonl`, import.meta.url),
  );
  let holder: ChildProcess | undefined;
  beforeAll(() => {
    writeFileSync(answerKey, '{"ground_truth": ["assert add(1, 2) == 3", "assert add(-4, 4) == 0"]}\n');
    chmodSync(answerKey, 0o644);
    holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)", answerKey], { stdio: "ignore" });
  });
  afterAll(() => {
    holder?.kill("SIGKILL");
    rmSync(answerKey, { force: true });
  });

  it("covers every attack of the issue", () => {
    const names = attackProbes.map((probe) => probe.name.split("_")[0]);
    for (const id of ["H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8", "H9"]) expect(names).toContain(id);
    for (const id of ["E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8"]) expect(names).toContain(id);
  });

  it("E3: descriptors the verifier holds without close-on-exec never reach the program", () => {
    // A Node process with two extra pipes (fds 3 and 4, inheritable) runs the sandbox, as a
    // verifier started by a parent that leaks descriptors would.
    const index = new URL("../../dist/code/index.js", import.meta.url).href;
    const program =
      "import os\nLEAKED = []\nfor fd in os.listdir('/proc/self/fd'):\n    try:\n        if int(fd) > 2 and os.readlink('/proc/self/fd/' + fd).startswith('pipe:'):\n            LEAKED.append(int(fd))\n    except OSError:\n        pass\ndef leaked():\n    return LEAKED";
    const script = `import { runProgramTests } from ${JSON.stringify(index)};
const result = await runProgramTests({ program: ${JSON.stringify(program)}, language: "python", tests: [{ kind: "assert", code: "assert leaked() == [], leaked()" }] });
console.log(JSON.stringify(result.outcomes[0]));`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"],
      encoding: "utf8",
      timeout: 60_000,
    });
    const outcome = JSON.parse((child.stdout ?? "").trim().split("\n").pop() ?? "{}") as {
      passed?: boolean;
      detail?: string;
    };
    expect(outcome.passed, `${outcome.detail} ${child.stderr}`).toBe(true);
  });

  const seenAfterProbes = new Set<string>();

  it.each(attackProbes.map((probe) => [probe.name, probe] as const))("%s", async (_name, probe) => {
    const before = hostState();
    const verifier = probe.verifier === "code_stdio" ? codeStdioVerifier : codeVerifier;
    const label = verifier.labelSchema.parse(probe.label) as never;
    const result = await verifier.verify({
      response: probe.response,
      label,
      context: { timeoutMilliseconds: 30_000 },
    });
    expect(result.score, JSON.stringify(result.details).slice(0, 600)).toBe(probe.expectedScore);
    // Give the kernel a moment to reap the namespace's processes, then compare.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = hostState();
    expect(after.ipc).toEqual(before.ipc);
    expect(after.files).toEqual(before.files);
    for (const process of sandboxProcesses()) seenAfterProbes.add(process);
  });

  it("no probe left a process behind (other test files' sandboxes end within their wall limit)", async () => {
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const alive = new Set(sandboxProcesses());
    expect([...seenAfterProbes].filter((process) => alive.has(process))).toEqual([]);
  });
});
