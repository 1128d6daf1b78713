// `posttrain doctor` lists as usable only the execution providers `engine check` really runs on.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const posttrain = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } });

describe("posttrain doctor", () => {
  it("every provider it calls usable passes engine check; every other listed one fails it and has a reason", () => {
    const result = posttrain("doctor", "--json");
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      onnxruntime: {
        executionProviders: string[];
        unavailableExecutionProviders: Array<{ name: string; reason: string }>;
      };
    };
    expect(report.onnxruntime.executionProviders).toContain("cpu");
    for (const name of report.onnxruntime.executionProviders)
      expect(posttrain("engine", "check", "--steps", "3", "--execution-provider", name).status, name).toBe(0);
    for (const { name, reason } of report.onnxruntime.unavailableExecutionProviders) {
      expect(reason.length, name).toBeGreaterThan(0);
      if (["cuda", "webgpu"].includes(name))
        expect(
          posttrain("engine", "check", "--steps", "3", "--execution-provider", name).status,
          name,
        ).not.toBe(0);
    }
  }, 600_000);
});
