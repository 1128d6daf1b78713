#!/usr/bin/env node
/**
 * Regenerates src/open-instruct/flag-tables.generated.ts from open-instruct's own source: for
 * each supported commit and script, the fields of every dataclass its ArgumentParserPlus
 * (transformers' HfArgumentParser) is built from, with the file and line of each field.
 *
 *   (build first) node scripts/extract-open-instruct-flags.mjs --git-dir /path/to/open-instruct/.git [--check]
 *
 * `--check` compares with the built table instead of writing (exit 1 on a difference); the
 * vitest suite runs the same extraction when a clone is available (OPEN_INSTRUCT_GIT_DIR).
 * After writing, run `npx biome format --write` on the file.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { extractFlagTables, renderFlagTables } from "../dist/open-instruct/dataclass-fields.js";

const args = process.argv.slice(2);
const gitDirectory = args[args.indexOf("--git-dir") + 1];
if (!args.includes("--git-dir") || gitDirectory === undefined) {
  console.error("usage: extract-open-instruct-flags.mjs --git-dir <open-instruct .git> [--check]");
  process.exit(2);
}
const show = (commit, file) =>
  execFileSync("git", ["--git-dir", gitDirectory, "show", `${commit}:${file}`], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
const tables = extractFlagTables({ show });
const text = renderFlagTables({ tables });
const target = join(dirname(fileURLToPath(import.meta.url)), "../src/open-instruct/flag-tables.generated.ts");
if (args.includes("--check")) {
  const { generatedFlagTables } = await import("../dist/open-instruct/flag-tables.generated.js");
  if (JSON.stringify(generatedFlagTables) !== JSON.stringify(tables)) {
    console.error(`${target} differs from open-instruct's source: regenerate it`);
    process.exit(1);
  }
  console.log("flag tables match open-instruct's source");
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
