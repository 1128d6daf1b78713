import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Runs the built `posttrain` bin (turbo's test task depends on build).
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const posttrain = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } });

describe("posttrain engine check", () => {
  it("trains a tiny model and reports a falling loss as JSON", () => {
    const result = posttrain("engine", "check", "--steps", "8", "--threads", "1", "--json");
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.losses).toHaveLength(8);
    expect(report.losses[7]).toBeLessThan(report.losses[0]);
    expect(report.learned).toBe(true);
    expect(report.availableExecutionProviders).toContain("cpu");
    expect(report.tokensPerSecond).toBeGreaterThan(0);
  });

  it("exits 2 on bad arguments", () => {
    expect(posttrain("engine", "check", "--steps", "0").status).toBe(2);
    expect(posttrain("engine", "check", "--execution-provider", "tpu").status).toBe(2);
  });
});
