import { describe, expect, it } from "vitest";
import { memoryBound, sandboxLimitsSchema } from "./limits.js";

const gibibyte = 1024 ** 3;

describe("memoryBound (E7: processes × memory per test fits the machine)", () => {
  it("keeps the process limit and lowers per-process memory to fit half the RAM over the tests at once", () => {
    const limits = sandboxLimitsSchema.parse({});
    const bound = memoryBound({ limits, concurrency: 2, totalMemoryBytes: 24 * gibibyte });
    expect(bound.budgetBytes).toBe(6 * gibibyte);
    expect(bound.maxProcesses).toBe(16);
    expect((bound.maxProcesses + 1) * bound.memoryBytes).toBeLessThanOrEqual(bound.budgetBytes);
    expect(bound.memoryBytes).toBeLessThan(1024 * 1024 * 1024);
  });

  it("on a small machine keeps 256 MiB per process and lowers the process count instead", () => {
    const limits = sandboxLimitsSchema.parse({ maxProcesses: 64 });
    const bound = memoryBound({ limits, concurrency: 2, totalMemoryBytes: 4 * gibibyte });
    expect(bound.memoryBytes).toBe(256 * 1024 * 1024);
    expect(bound.maxProcesses).toBe(3);
    expect((bound.maxProcesses + 1) * bound.memoryBytes).toBeLessThanOrEqual(bound.budgetBytes);
  });

  it("never raises what the caller asked for", () => {
    const limits = sandboxLimitsSchema.parse({ memoryMegabytes: 128, maxProcesses: 8 });
    const bound = memoryBound({ limits, concurrency: 1, totalMemoryBytes: 64 * gibibyte });
    expect(bound).toMatchObject({ memoryBytes: 128 * 1024 * 1024, maxProcesses: 8 });
  });
});
