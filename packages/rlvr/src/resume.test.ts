import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readEvents } from "@posttrain/core";
import { describe, expect, it } from "vitest";

// Runs the built child (dist): Node 20 cannot run .ts. turbo builds before testing.
const child = fileURLToPath(new URL("../dist/testing/train-child.js", import.meta.url));
const steps = "4";

function runToEnd(directory: string): string {
  const result = spawnSync(process.execPath, [child, "--directory", directory, "--steps", steps], {
    encoding: "utf8",
  });
  expect(result.status, result.stderr).toBe(0);
  const done = /done ([0-9a-f]{64})/.exec(result.stdout);
  expect(done, result.stdout).not.toBeNull();
  return done![1]!;
}

/** Starts the child slowed down, sends `signal` after its `afterCheckpoint`-th checkpoint. */
function interruptAfter(directory: string, afterCheckpoint: number, signal: NodeJS.Signals) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) => {
    const process_ = spawn(process.execPath, [
      child,
      "--directory",
      directory,
      "--steps",
      steps,
      "--step-delay-ms",
      "150",
    ]);
    let stdout = "";
    let sent = false;
    process_.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!sent && stdout.includes(`checkpoint ${afterCheckpoint}\n`)) {
        sent = true;
        process_.kill(signal);
      }
    });
    process_.on("exit", (code, exitSignal) => resolve({ code, signal: exitSignal, stdout }));
  });
}

/** The last logged loss of every step (a killed run may log steps it then redoes). */
function stepLosses(directory: string): Map<number, string> {
  const losses = new Map<number, string>();
  for (const event of readEvents({ path: join(directory, "events.jsonl") }).events)
    if (event.type === "step-end")
      losses.set(event["step"] as number, JSON.stringify([event["loss"], event["rewardMean"], event["kl"]]));
  return losses;
}

let referenceResult: { hash: string; directory: string } | undefined;
function reference(): { hash: string; directory: string } {
  if (referenceResult === undefined) {
    const directory = mkdtempSync(join(tmpdir(), "rlvr-reference-"));
    referenceResult = { hash: runToEnd(directory), directory };
  }
  return referenceResult;
}

describe.skipIf(!existsSync(child))("rlvr kill/resume (built child process)", () => {
  it("a SIGKILLed run resumes to bit-identical parameters and identical per-step loss, reward and KL", async () => {
    const { hash: expected, directory: referenceDirectory } = reference();
    const killed = mkdtempSync(join(tmpdir(), "rlvr-killed-"));
    const interrupted = await interruptAfter(killed, 3, "SIGKILL");
    expect(interrupted.signal).toBe("SIGKILL");
    expect(interrupted.stdout).not.toContain("done");
    expect(runToEnd(killed)).toBe(expected);
    expect([...stepLosses(killed).entries()]).toEqual([...stepLosses(referenceDirectory).entries()]);
  }, 180_000);

  it("SIGINT writes a checkpoint and exits 0; the run then resumes to the same result", async () => {
    const { hash: expected } = reference();
    const directory = mkdtempSync(join(tmpdir(), "rlvr-sigint-"));
    const interrupted = await interruptAfter(directory, 2, "SIGINT");
    expect(interrupted.code).toBe(0);
    const step = Number(/interrupted (\d+)/.exec(interrupted.stdout)?.[1]);
    expect(step).toBeGreaterThanOrEqual(2);
    expect(step).toBeLessThan(Number(steps));
    expect(interrupted.stdout).toContain(`checkpoint ${step}\n`);
    expect(runToEnd(directory)).toBe(expected);
  }, 180_000);
});
