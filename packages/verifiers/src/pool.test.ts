import { describe, expect, it } from "vitest";
import { VerifierPool } from "./pool.js";
import type { CheckTask } from "./worker-protocol.js";

const entry = new URL("./test/hanging-worker.mjs", import.meta.url);
const task = (id: number, response: string, timeoutMilliseconds = 10_000, verifier = "test"): CheckTask => ({
  id,
  verifier,
  remap: [],
  response,
  label: "x",
  stripReasoning: true,
  timeoutMilliseconds,
  maximumResponseCharacters: 1_000,
});

describe("VerifierPool", () => {
  it("terminates a stuck worker at the bound, scores 0 with a timeout detail, and keeps serving", async () => {
    const finished: Array<{ id: number; timeout: boolean }> = [];
    const pool = new VerifierPool({
      size: 1,
      entry,
      onCheckFinished: ({ task: done, result }) => finished.push({ id: done.id, timeout: result.timeout }),
    });
    try {
      const stuck = await pool.run(task(1, "hang", 300));
      expect(stuck).toMatchObject({
        score: 0,
        timeout: true,
        details: { timeout: true, timeoutMilliseconds: 300 },
      });
      expect(pool.replacedWorkers).toBe(1);
      const after = await pool.run(task(2, "fine"));
      expect(after).toMatchObject({ score: 1, details: { echoed: "fine" } });
      expect(finished).toEqual([
        { id: 1, timeout: true },
        { id: 2, timeout: false },
      ]);
    } finally {
      await pool.close();
    }
  });

  it("turns a crashed worker into an error result and replaces it", async () => {
    const pool = new VerifierPool({ size: 2, entry });
    try {
      const results = await Promise.all([
        pool.run(task(1, "crash")),
        pool.run(task(2, "a")),
        pool.run(task(3, "b")),
      ]);
      expect(results[0]).toMatchObject({
        score: 0,
        error: true,
        details: { error: { code: "verifier_worker_failed" } },
      });
      expect(results[1]?.details).toEqual({ echoed: "a" });
      expect(results[2]?.details).toEqual({ echoed: "b" });
    } finally {
      await pool.close();
    }
  });

  it("prepares a verifier once per worker, outside the check's bound", async () => {
    const pool = new VerifierPool({ size: 1, entry });
    try {
      // Set-up (400 ms) is slower than the check's bound (200 ms), yet the check passes.
      expect(await pool.run(task(1, "a", 200, "slow-setup"))).toMatchObject({ score: 1, timeout: false });
      expect(await pool.run(task(2, "b", 200, "slow-setup"))).toMatchObject({ score: 1, timeout: false });
      expect(pool.replacedWorkers).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it("fails queued work with a clear error when workers cannot start", async () => {
    const pool = new VerifierPool({
      size: 2,
      entry: new URL("./test/broken-worker.mjs", import.meta.url),
    });
    try {
      await expect(pool.run(task(1, "a"))).rejects.toThrow(/failed to start: broken worker module/);
    } finally {
      await pool.close();
    }
  });

  it("rejects work after close", async () => {
    const pool = new VerifierPool({ size: 1, entry });
    await pool.close();
    await expect(pool.run(task(1, "a"))).rejects.toMatchObject({ code: "verifier_worker_failed" });
  });
});
