import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The child must be built JS (Node 20 cannot run .ts); turbo builds before testing.
const child = fileURLToPath(new URL("../dist/test/train-child.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "engine-resume-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the child; with `killAfter`, SIGKILLs it as soon as it reports that checkpoint. */
function runChild(params: {
  directory: string;
  steps: number;
  killAfter?: number;
}): Promise<{ lines: string[]; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(
      process.execPath,
      [child, "--directory", params.directory, "--steps", String(params.steps)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const lines: string[] = [];
    let stderr = "";
    let buffered = "";
    process_.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (params.killAfter !== undefined && line.startsWith(`checkpoint ${params.killAfter} `))
          process_.kill("SIGKILL");
      }
    });
    process_.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    process_.on("error", reject);
    process_.on("close", (code, signal) => {
      if (signal === "SIGKILL") resolve({ lines, killed: true });
      else if (code === 0) resolve({ lines, killed: false });
      else reject(new Error(`child exited ${code}: ${stderr}`));
    });
  });
}

describe.skipIf(!existsSync(child))("checkpoint/resume", () => {
  it("a run killed mid-way and resumed ends bit-identical to an uninterrupted run", async () => {
    const steps = 7;
    const straight = await runChild({ directory: join(root, "straight"), steps });
    const expected = straight.lines.find((line) => line.startsWith("done "));
    expect(expected).toMatch(/^done [0-9a-f]{64}$/);

    const interrupted = await runChild({ directory: join(root, "resumed"), steps, killAfter: 3 });
    expect(interrupted.killed).toBe(true);
    expect(interrupted.lines.some((line) => line.startsWith("done "))).toBe(false);
    const resumed = await runChild({ directory: join(root, "resumed"), steps });
    const resumedFrom = Number(resumed.lines.find((line) => line.startsWith("resumed "))?.split(" ")[1]);
    expect(resumedFrom).toBeGreaterThanOrEqual(3);
    expect(resumedFrom).toBeLessThan(steps);
    expect(resumed.lines.find((line) => line.startsWith("done "))).toBe(expected);
    // The per-step losses after the resume point match the uninterrupted run's too.
    for (const line of resumed.lines.filter((each) => each.startsWith("checkpoint "))) {
      expect(straight.lines).toContain(line);
    }
  });
});
