import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { allocatorEnvironment } from "@posttrain/engine";
import { describe, expect, it, vi } from "vitest";
import { main } from "./program.js";

// Runs the built `posttrain` bin as a user would (turbo's test task depends on build).
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const posttrain = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } });

describe("posttrain CLI", () => {
  it("--help lists the commands and exits 0", () => {
    const result = posttrain("--help");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("Usage: posttrain");
    expect(result.stdout).toContain("doctor");
  });

  it("--version prints the package version", () => {
    const result = posttrain("--version");
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("a command that completes but fails its check (process.exitCode = 1) exits 1, not 0", async () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      process.exitCode = 1; // as `run` sets it when the expected table fails
      expect(await main(["doctor", "--json", "--no-try-providers"])).toBe(1);
      process.exitCode = 0;
      expect(await main(["doctor", "--json", "--no-try-providers"])).toBe(0);
    } finally {
      process.exitCode = 0;
      write.mockRestore();
    }
  });

  it("the bin's shebang sets the engine's allocator environment", () => {
    const shebang = readFileSync(bin, "utf8").split("\n")[0]!;
    expect(shebang.startsWith("#!/usr/bin/env -S ")).toBe(true);
    const assignments = Object.fromEntries(
      shebang
        .split(" ")
        .filter((word) => word.includes("="))
        .map((word) => word.split("=") as [string, string]),
    );
    expect(assignments).toEqual(allocatorEnvironment);
  });

  it("exits 2 on a usage error", () => {
    expect(posttrain("no-such-command").status).toBe(2);
    expect(posttrain("doctor", "--no-such-flag").status).toBe(2);
  });

  it("doctor --json is valid JSON describing the machine and onnxruntime", () => {
    const result = posttrain("doctor", "--json");
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.node).toBe(process.versions.node);
    expect(report.cpu.cores).toBeGreaterThan(0);
    expect(report.onnxruntime.loaded).toBe(true);
    expect(report.onnxruntime.executionProviders).toContain("cpu");
    expect(report.hub.endpoint).toMatch(/^https?:\/\//);
  });

  it("doctor reports Hub settings from the environment", () => {
    const result = spawnSync(process.execPath, [bin, "doctor", "--json"], {
      encoding: "utf8",
      env: {
        ...process.env,
        HF_ENDPOINT: "http://127.0.0.1:9",
        HF_HUB_OFFLINE: "1",
        HF_HOME: "/tmp/hf-home",
      },
    });
    const report = JSON.parse(result.stdout);
    expect(report.hub).toMatchObject({ endpoint: "http://127.0.0.1:9", offline: true });
    expect(report.caches.huggingFaceHubCache).toBe("/tmp/hf-home/hub");
  });
});
