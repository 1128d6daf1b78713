import { describe, expect, it } from "vitest";
import { createTaskPool } from "./task-pool.js";

describe("createTaskPool", () => {
  it("never runs more than `concurrency` tasks at once and runs them all", async () => {
    const pool = createTaskPool({ concurrency: 2 });
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, index) =>
        pool.run(async () => {
          active += 1;
          peak = Math.max(peak, active);
          await new Promise((resolve) => setImmediate(resolve));
          active -= 1;
          return index * 2;
        }),
      ),
    );
    expect(results).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16]);
    expect(peak).toBe(2);
  });

  it("releases the slot when a task throws", async () => {
    const pool = createTaskPool({ concurrency: 1 });
    await expect(pool.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(pool.run(async () => 5)).resolves.toBe(5);
  });

  it("rejects a non-positive concurrency", () => {
    expect(() => createTaskPool({ concurrency: 0 })).toThrow(RangeError);
  });
});
