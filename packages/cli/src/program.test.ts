import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PosttrainError } from "@posttrain/core";
import { allocatorEnvironment } from "@posttrain/engine";
import { describe, expect, it, vi } from "vitest";
import { causeLines, debugVariable, describeUnexpected, main } from "./program.js";

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

  // doctor tries each execution provider with engine check (a child process each).
  it("doctor --json is valid JSON describing the machine and onnxruntime", { timeout: 240_000 }, () => {
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
    const result = spawnSync(process.execPath, [bin, "doctor", "--json", "--no-try-providers"], {
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

describe("errors a user sees", () => {
  it("a system error is `error [ENOENT]: …` without a stack; other surprises ask for POSTTRAIN_DEBUG, which shows the stack", () => {
    const system = Object.assign(new Error("ENOENT: no such file or directory, open '/nope'"), {
      code: "ENOENT",
    });
    const previous = process.env[debugVariable];
    delete process.env[debugVariable];
    try {
      expect(describeUnexpected(system)).toBe(
        "posttrain: error [ENOENT]: ENOENT: no such file or directory, open '/nope'",
      );
      const bug = describeUnexpected(new TypeError("x is not a function"));
      expect(bug).toBe(
        "posttrain: unexpected error: x is not a function\n  (this is a bug in posttrain: rerun with POSTTRAIN_DEBUG=1 for the stack trace and report it)",
      );
      expect(bug).not.toContain("    at ");
      process.env[debugVariable] = "1";
      expect(describeUnexpected(new TypeError("x is not a function"))).toMatch(/\n\s+at /);
    } finally {
      if (previous === undefined) delete process.env[debugVariable];
      else process.env[debugVariable] = previous;
    }
  });

  it("a PosttrainError's cause is shown when its message does not already say it", () => {
    const network = Object.assign(new Error("getaddrinfo ENOTFOUND huggingface.co"), { code: "ENOTFOUND" });
    const error = new PosttrainError({
      code: "hub_request_failed",
      message: "fetch failed",
      cause: new Error("fetch failed", { cause: network }),
    });
    expect(causeLines(error)).toBe("\n  cause: getaddrinfo ENOTFOUND huggingface.co");
  });

  it("a recipe path typo exits 1 with `no recipe at <path>` and a close name, no stack", () => {
    const result = spawnSync(process.execPath, [bin, "plan", "recipes/mcro", "--no-measure"], {
      encoding: "utf8",
      cwd: fileURLToPath(new URL("../../../", import.meta.url)),
      env: { ...process.env, CI: "true" },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^posttrain: error \[recipe_path_not_found\]: no recipe at \S+recipes\/mcro — did you mean recipes\/micro\?\n$/,
    );
  });
});
