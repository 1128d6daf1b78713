/**
 * Recipe package names inside a checkout: `posttrain plan @posttrain-recipes/tulu3-8b` run
 * anywhere in this repository finds `recipes/tulu3-8b`, although no workspace package is
 * installed under the root's node_modules. {@link loadRecipe} asks here before Node's own
 * resolution: inside a checkout, its own recipe package is the one a name means.
 *
 * The workspace is the nearest folder at or above `from` holding a `pnpm-workspace.yaml`;
 * its package folders are the `packages:` entries of that file. Only the forms pnpm
 * workspaces use in practice are read: a folder (`bench`) or a folder's children
 * (`recipes/*`), in block (`- recipes/*`) or flow (`[recipes/*, bench]`) style; negations
 * (`!…`) and deeper globs are ignored (they never name a recipe package here).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { readPackageJson } from "./version.js";

/** The nearest folder at or above `from` that holds a pnpm-workspace.yaml, or null. */
export function findWorkspaceRoot(params: { from: string }): string | null {
  let current = params.from;
  for (;;) {
    if (existsSync(join(current, "pnpm-workspace.yaml"))) return current;
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

/** The `packages:` patterns of a pnpm-workspace.yaml text (block or flow list). */
export function workspacePatterns(params: { text: string }): string[] {
  const lines = params.text.split(/\r?\n/);
  const start = lines.findIndex((line) => /^packages\s*:/.test(line));
  if (start === -1) return [];
  const unquote = (value: string) => value.trim().replace(/^(["'])(.*)\1$/, "$2");
  const inline = /^packages\s*:\s*\[(.*)\]\s*(#.*)?$/.exec(lines[start] ?? "");
  if (inline !== null)
    return (inline[1] ?? "")
      .split(",")
      .map(unquote)
      .filter((pattern) => pattern !== "");
  const patterns: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const item = /^\s+-\s+([^#]*)/.exec(line);
    if (item === null) break;
    patterns.push(unquote(item[1] ?? ""));
  }
  return patterns;
}

/** The folders a pattern names (`dir` or `dir/*`); other globs name none. */
function foldersOf(params: { root: string; pattern: string }): string[] {
  const { root, pattern } = params;
  if (pattern.startsWith("!") || pattern.includes("**")) return [];
  if (pattern.endsWith("/*")) {
    const parent = join(root, pattern.slice(0, -2));
    if (parent.includes("*") || !existsSync(parent)) return [];
    return readdirSync(parent, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(parent, entry.name));
  }
  return pattern.includes("*") ? [] : [join(root, pattern)];
}

/**
 * The folder of the workspace package called `name` in the checkout around `from`, or null
 * (not in a pnpm workspace, or no package of that name).
 */
export function findWorkspacePackage(params: { name: string; from: string }): string | null {
  const root = findWorkspaceRoot({ from: params.from });
  if (root === null) return null;
  const patterns = workspacePatterns({ text: readFileSync(join(root, "pnpm-workspace.yaml"), "utf8") });
  for (const pattern of patterns) {
    for (const folder of foldersOf({ root, pattern })) {
      if (!existsSync(join(folder, "package.json"))) continue;
      try {
        if (readPackageJson({ directory: folder }).name === params.name) return folder;
      } catch {
        // An unreadable package.json is not the package asked for; keep looking.
      }
    }
  }
  return null;
}
