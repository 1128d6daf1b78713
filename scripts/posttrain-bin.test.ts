// The root package's `posttrain` bin (scripts/posttrain.mjs): what `npx posttrain` runs in a
// checkout. It passes the CLI's exit codes through and says what to do when the CLI is not built.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const environment = { ...process.env, npm_config_offline: "true", npm_config_update_notifier: "false" };
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function npx(args: string[]) {
  return spawnSync("npx", ["posttrain", ...args], { cwd: root, encoding: "utf8", env: environment });
}

describe("npx posttrain in the checkout", () => {
  it("is the root package.json's bin and runs the built CLI", () => {
    const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    expect(rootPackage.bin).toEqual({ posttrain: "scripts/posttrain.mjs" });
    const cliVersion = (
      JSON.parse(readFileSync(join(root, "packages", "cli", "package.json"), "utf8")) as { version: string }
    ).version;
    const version = npx(["--version"]);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(cliVersion);
  });

  it("passes the CLI's exit codes through: 2 for a usage error, 1 for a failure", () => {
    const usage = npx(["plan"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("missing required argument");
    const failure = npx(["plan", "recipes/does-not-exist"]);
    expect(failure.status).toBe(1);
    expect(failure.stderr).toMatch(/posttrain: error \[recipe_\w+\]/);
  });

  it("hands the CLI itself over as the entry point (runs record the CLI's path and version)", () => {
    const folder = mkdtempSync(join(tmpdir(), "posttrain-bin-"));
    folders.push(folder);
    mkdirSync(join(folder, "scripts"));
    mkdirSync(join(folder, "packages", "cli", "dist"), { recursive: true });
    copyFileSync(join(root, "scripts", "posttrain.mjs"), join(folder, "scripts", "posttrain.mjs"));
    // A stand-in CLI that prints the entry point it sees.
    writeFileSync(join(folder, "packages", "cli", "dist", "bin.js"), "console.log(process.argv[1]);\n");
    const result = spawnSync(process.execPath, [join(folder, "scripts", "posttrain.mjs"), "run", "x"], {
      encoding: "utf8",
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(join(folder, "packages", "cli", "dist", "bin.js"));
  });

  it("says to run the set-up when the CLI is not built", () => {
    const folder = mkdtempSync(join(tmpdir(), "posttrain-bin-"));
    folders.push(folder);
    mkdirSync(join(folder, "scripts"));
    copyFileSync(join(root, "scripts", "posttrain.mjs"), join(folder, "scripts", "posttrain.mjs"));
    const result = spawnSync(process.execPath, [join(folder, "scripts", "posttrain.mjs"), "--help"], {
      encoding: "utf8",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("the CLI is not built");
    expect(result.stderr).toContain("npm start");
  });
});
