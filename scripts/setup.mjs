#!/usr/bin/env node
// Idempotent set-up shared by the README's two commands: the pinned pnpm, a frozen
// install (skipped when node_modules already matches the lockfile) and a build (turbo
// caches it, so a second run costs seconds).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pnpmEnvironment, resolvePnpm } from "./pnpm.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pnpm = resolvePnpm();
const env = pnpmEnvironment(pnpm);

function run(args) {
  const result = spawnSync(pnpm, args, { stdio: "inherit", cwd: root, env });
  if (result.status !== 0) {
    console.error(`[posttrain] set-up failed: pnpm ${args.join(" ")}`);
    process.exit(result.status ?? 1);
  }
}

const lockfile = join(root, "pnpm-lock.yaml");
const stamp = join(root, "node_modules", ".posttrain-install-stamp");
const lockHash = existsSync(lockfile)
  ? createHash("sha256").update(readFileSync(lockfile)).digest("hex")
  : "no-lockfile";
const installed = existsSync(stamp) && readFileSync(stamp, "utf8") === lockHash;
if (!installed) {
  run(["install", "--frozen-lockfile", "--reporter=append-only"]);
  writeFileSync(stamp, lockHash);
}
run(["exec", "turbo", "run", "build", "--output-logs=errors-only"]);
