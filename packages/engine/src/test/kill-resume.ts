// Test support shared by the trainers (sft, dpo, rlvr): the kill/resume and SIGINT checks
// of a built training child process. Exported as `@posttrain/engine/test`; test code only.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readEvents } from "@posttrain/core";
import { describe, expect, it } from "vitest";

export interface KillResumeParams {
  /** Stage name, used in test titles and temp folder names. */
  stage: string;
  /**
   * Path of the built child (dist). It takes `--directory`, `--steps`, `--step-delay-ms`,
   * prints `checkpoint N` after each checkpoint, `interrupted N` on SIGINT and
   * `done <sha256 of the parameters>` at the end.
   */
  child: string;
  steps: number;
  /** `step-end` event fields that must be identical per step between the runs. */
  stepFields: readonly string[];
  timeoutMilliseconds: number;
}

/** Registers the kill/resume suite: SIGKILL → resume is bit-identical; SIGINT checkpoints and exits 0. */
export function describeKillResume(params: KillResumeParams): void {
  const { stage, child, timeoutMilliseconds } = params;
  const steps = String(params.steps);

  const runToEnd = (directory: string): string => {
    const result = spawnSync(process.execPath, [child, "--directory", directory, "--steps", steps], {
      encoding: "utf8",
    });
    expect(result.status, result.stderr).toBe(0);
    const done = /done ([0-9a-f]{64})/.exec(result.stdout);
    expect(done, result.stdout).not.toBeNull();
    return done![1]!;
  };

  /** Starts the child slowed down, sends `signal` after its `afterCheckpoint`-th checkpoint. */
  const interruptAfter = (directory: string, afterCheckpoint: number, signal: NodeJS.Signals) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) => {
      const running = spawn(process.execPath, [
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
      running.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (!sent && stdout.includes(`checkpoint ${afterCheckpoint}\n`)) {
          sent = true;
          running.kill(signal);
        }
      });
      running.on("exit", (code, exitSignal) => resolve({ code, signal: exitSignal, stdout }));
    });

  /** The last logged figures of every step (a killed run may log steps it then redoes). */
  const stepFigures = (directory: string): Map<number, string> => {
    const figures = new Map<number, string>();
    for (const event of readEvents({ path: join(directory, "events.jsonl") }).events)
      if (event.type === "step-end")
        figures.set(event["step"] as number, JSON.stringify(params.stepFields.map((field) => event[field])));
    return figures;
  };

  let referenceResult: { hash: string; directory: string } | undefined;
  const reference = () => {
    if (referenceResult === undefined) {
      const directory = mkdtempSync(join(tmpdir(), `${stage}-reference-`));
      referenceResult = { hash: runToEnd(directory), directory };
    }
    return referenceResult;
  };

  describe.skipIf(!existsSync(child))(`${stage} kill/resume (built child process)`, () => {
    it(
      `a SIGKILLed run resumes to bit-identical parameters and identical per-step ${params.stepFields.join(", ")}`,
      async () => {
        const { hash: expected, directory: referenceDirectory } = reference();
        const killed = mkdtempSync(join(tmpdir(), `${stage}-killed-`));
        const interrupted = await interruptAfter(killed, 3, "SIGKILL");
        expect(interrupted.signal).toBe("SIGKILL");
        expect(interrupted.stdout).not.toContain("done");
        expect(runToEnd(killed)).toBe(expected);
        expect([...stepFigures(killed).entries()]).toEqual([...stepFigures(referenceDirectory).entries()]);
      },
      timeoutMilliseconds,
    );

    it(
      "SIGINT writes a checkpoint and exits 0; the run then resumes to the same result",
      async () => {
        const { hash: expected } = reference();
        const directory = mkdtempSync(join(tmpdir(), `${stage}-sigint-`));
        const interrupted = await interruptAfter(directory, 2, "SIGINT");
        expect(interrupted.code).toBe(0);
        const step = Number(/interrupted (\d+)/.exec(interrupted.stdout)?.[1]);
        expect(step).toBeGreaterThanOrEqual(2);
        expect(step).toBeLessThan(params.steps);
        expect(interrupted.stdout).toContain(`checkpoint ${step}\n`);
        expect(runToEnd(directory)).toBe(expected);
      },
      timeoutMilliseconds,
    );
  });
}
