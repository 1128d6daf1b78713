// The layer rules of the monorepo, checked by scripts/layers.test.ts (part of `npm test`).
//
//   core ← hub ← data;  core ← verifiers;  core ← engine;  (data, verifiers) ← tools;
//   (data, engine, verifiers, tools) ← (sft, dpo, rlvr, evals) ← recipe ← export ← cli
//
// A package may depend on (and import) only the packages listed for it below: never a
// higher layer, never a sibling in its own layer, and the workspace graph has no cycles.
// Inside a package, the files' run-time imports have no cycles either (`file-cycle`): a
// module's exports never depend on which of two files was loaded first. `import type` and
// `export type` statements are erased by the compiler (verbatimModuleSyntax) and are not
// edges; `import { type A } from` stays in the emitted JavaScript and is one.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";

export const allowedDependencies: Record<string, readonly string[]> = {
  core: [],
  hub: ["core"],
  data: ["core", "hub"],
  verifiers: ["core"],
  engine: ["core"],
  tools: ["core", "hub", "data", "verifiers"],
  sft: ["core", "hub", "data", "verifiers", "engine"],
  dpo: ["core", "hub", "data", "verifiers", "engine"],
  rlvr: ["core", "hub", "data", "verifiers", "engine", "tools"],
  evals: ["core", "hub", "data", "verifiers", "engine", "tools"],
  recipe: ["core", "hub", "data", "verifiers", "engine", "tools", "sft", "dpo", "rlvr", "evals"],
  export: ["core", "hub", "data", "verifiers", "engine", "tools", "sft", "dpo", "rlvr", "evals", "recipe"],
  cli: [
    "core",
    "hub",
    "data",
    "verifiers",
    "engine",
    "tools",
    "sft",
    "dpo",
    "rlvr",
    "evals",
    "recipe",
    "export",
  ],
};

export interface LayerViolation {
  kind:
    | "unknown-package"
    | "forbidden-dependency"
    | "forbidden-import"
    | "undeclared-import"
    | "escaping-import"
    | "cycle"
    | "file-cycle";
  message: string;
}

const scope = "@posttrain/";

function sourceFiles(directory: string): string[] {
  if (!existsSync(directory)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(directory)) {
    const path = join(directory, entry);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry) && !entry.endsWith(".d.ts")) files.push(path);
  }
  return files;
}

const importPattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g;

/** A static import or re-export, and whether the compiler erases it (`import type`, `export type`). */
const staticImportPattern =
  /(?:^|[;}\n])\s*(import|export)\s+(type\s+(?![=,]))?(?:[^;"'`]*?\bfrom\s*)?["']([^"']+)["']/g;

/** The source file a relative specifier names (`./x.js` is `./x.ts` in the sources). */
function resolveRelative(file: string, specifier: string): string | undefined {
  const base = resolve(join(file, ".."), specifier);
  const stem = base.replace(/\.(js|mjs|ts|mts|tsx)$/, "");
  for (const candidate of [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/**
 * Cycles among one package's source files through run-time imports, each reported once
 * (by its files in import order, starting from the first in path order).
 */
export function fileCycles({ files }: { files: readonly string[] }): string[][] {
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const targets: string[] = [];
    for (const match of text.matchAll(staticImportPattern)) {
      if (match[2] !== undefined) continue; // type-only: erased
      const specifier = match[3] ?? "";
      if (!specifier.startsWith(".")) continue;
      const target = resolveRelative(file, specifier);
      if (target !== undefined && !targets.includes(target)) targets.push(target);
    }
    edges.set(file, targets);
  }
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "visiting");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === "visiting") {
        const cycle = stack.slice(stack.indexOf(next));
        const key = [...cycle].sort().join("\n");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...cycle, next]);
        }
      } else if (!state.has(next) && edges.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const file of [...edges.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}

/** Checks `packages/*` under `root`; returns every violation found (empty when clean). */
export function checkLayers({ root }: { root: string }): LayerViolation[] {
  const violations: LayerViolation[] = [];
  const packagesDirectory = join(root, "packages");
  const graph = new Map<string, string[]>();
  for (const name of readdirSync(packagesDirectory).sort()) {
    const manifestPath = join(packagesDirectory, name, "package.json");
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const short = manifest.name.startsWith(scope) ? manifest.name.slice(scope.length) : manifest.name;
    const allowed = allowedDependencies[short];
    if (allowed === undefined) {
      violations.push({
        kind: "unknown-package",
        message: `${manifest.name} has no layer: add it to allowedDependencies in scripts/layers.ts`,
      });
      continue;
    }
    const declared = Object.keys({
      ...manifest.dependencies,
      ...manifest.devDependencies,
      ...manifest.peerDependencies,
    })
      .filter((dependency) => dependency.startsWith(scope))
      .map((dependency) => dependency.slice(scope.length));
    graph.set(short, declared);
    for (const dependency of declared) {
      if (!allowed.includes(dependency)) {
        violations.push({
          kind: "forbidden-dependency",
          message: `${manifest.name} depends on ${scope}${dependency}, which its layer may not use (allowed: ${allowed.join(", ") || "none"})`,
        });
      }
    }
    const packageRoot = resolve(packagesDirectory, name);
    const files = sourceFiles(join(packageRoot, "src"));
    for (const cycle of fileCycles({ files })) {
      violations.push({
        kind: "file-cycle",
        message: `file import cycle in ${manifest.name}: ${cycle.map((file) => relative(root, file)).join(" → ")}`,
      });
    }
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      const where = relative(root, file);
      for (const match of text.matchAll(importPattern)) {
        const specifier = match[1] ?? "";
        if (specifier.startsWith(scope)) {
          const target = specifier.slice(scope.length).split("/")[0] ?? "";
          if (target === short) continue;
          if (!allowed.includes(target)) {
            violations.push({
              kind: "forbidden-import",
              message: `${where} imports ${specifier}: ${manifest.name} may not import ${scope}${target}`,
            });
          } else if (!declared.includes(target)) {
            violations.push({
              kind: "undeclared-import",
              message: `${where} imports ${specifier} but ${manifest.name}/package.json does not declare it`,
            });
          }
        } else if (specifier.startsWith(".")) {
          const target = resolve(join(file, ".."), specifier);
          if (!target.startsWith(packageRoot + sep)) {
            violations.push({
              kind: "escaping-import",
              message: `${where} imports ${specifier}, which reaches outside ${manifest.name}: import the package instead`,
            });
          }
        }
      }
    }
  }
  // Cycles in the declared workspace graph (depth-first search with colours).
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "visiting");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "visiting") {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        violations.push({
          kind: "cycle",
          message: `dependency cycle: ${cycle.map((n) => scope + n).join(" → ")}`,
        });
      } else if (!state.has(next) && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return violations;
}
