#!/usr/bin/env node
// Runs the whole suite (one vitest run over every workspace project) and ends with one
// plain line "N passed, N failed, N skipped" that CI reads.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const results = join(root, ".cache", "test-results.json");
mkdirSync(dirname(results), { recursive: true });
const vitest = join(root, "node_modules", ".bin", "vitest");
const run = spawnSync(
  vitest,
  ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${results}`, ...process.argv.slice(2)],
  { stdio: "inherit", cwd: root },
);
if (existsSync(results)) {
  const report = JSON.parse(readFileSync(results, "utf8"));
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
  if (report.numTotalTests === 0) {
    console.error("no test ran");
    process.exit(1);
  }
}
process.exit(run.status ?? 1);
