#!/usr/bin/env node
// Runs the pnpm version pinned in package.json's `packageManager`, so a fresh clone
// needs only Node 20 + npm. If a matching pnpm is on PATH it is used; otherwise the
// pinned version is installed once into .tools/ (from the npm registry) and reused.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const packageManager = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager;
const match = /^pnpm@(\d+\.\d+\.\d+)$/.exec(packageManager ?? "");
if (!match) {
  console.error(`package.json packageManager must be "pnpm@X.Y.Z", got ${JSON.stringify(packageManager)}`);
  process.exit(2);
}
const version = match[1];

function versionOf(command) {
  const result = spawnSync(command, ["--version"], { encoding: "utf8", shell: false });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export function resolvePnpm() {
  if (versionOf("pnpm") === version) return "pnpm";
  const local = join(root, ".tools", "pnpm", "node_modules", ".bin", "pnpm");
  if (existsSync(local) && versionOf(local) === version) return local;
  console.error(`[posttrain] installing pnpm@${version} into .tools/pnpm (once)`);
  const install = spawnSync(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      "--prefix",
      join(root, ".tools", "pnpm"),
      `pnpm@${version}`,
    ],
    { stdio: "inherit" },
  );
  if (install.status !== 0 || versionOf(local) !== version) {
    console.error(`[posttrain] could not install pnpm@${version}`);
    process.exit(1);
  }
  return local;
}

/**
 * The environment for running pnpm and the tools it starts: the pinned pnpm's folder first
 * on PATH (turbo looks pnpm up there), and no package-manager version switching.
 */
export function pnpmEnvironment(pnpm) {
  const path = pnpm === "pnpm" ? process.env.PATH : `${dirname(pnpm)}${delimiter}${process.env.PATH ?? ""}`;
  return {
    ...process.env,
    PATH: path,
    COREPACK_ENABLE_STRICT: "0",
    npm_config_manage_package_manager_versions: "false",
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pnpm = resolvePnpm();
  const result = spawnSync(pnpm, process.argv.slice(2), {
    stdio: "inherit",
    cwd: root,
    env: pnpmEnvironment(pnpm),
  });
  process.exit(result.status ?? 1);
}
