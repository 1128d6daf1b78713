/**
 * Provenance: what code ran a run. The git commit and dirty flag of the checkout the
 * `@posttrain/*` packages were loaded from (outside a checkout: null, and the installed package
 * versions say it instead), every `@posttrain/*` package version actually resolved, the
 * onnxruntime-node version the engine loads, Node, the command line and the seed(s). The
 * machine (CPU model, instruction sets, threads) is in {@link RunEnvironment}; together they are
 * `environment.json`, part of summary.json, shown in the report, and compared by `reproduce`
 * and `compare` ({@link provenanceDifferences}: a difference is reported, never fatal).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { onnxruntimeNodeVersion, type RunEnvironment } from "./environment.js";
import type { Recipe } from "./schema.js";
import { findPackageDirectory } from "./version.js";

export const provenanceSchema = z.strictObject({
  /** The checkout the posttrain code ran from; null outside a git checkout (an npm install). */
  git: z
    .strictObject({
      commit: z.string(),
      /** Tracked files differ from the commit (untracked files are not counted). */
      dirty: z.boolean(),
      branch: z.string().nullable(),
    })
    .nullable(),
  /** Every `@posttrain/*` package the run loaded (and the recipe package), name → version. */
  packages: z.record(z.string(), z.string()),
  /** onnxruntime-node as resolved from @posttrain/engine; null when it could not be read. */
  onnxruntimeNode: z.string().nullable(),
  node: z.string(),
  /** `process.argv` after the Node executable: the command that started the run. */
  commandLine: z.array(z.string()),
  /** The recipe's root seed and, for a multi-seed run, every root seed. */
  seeds: z.strictObject({ root: z.number().int(), all: z.array(z.number().int()).nullable() }),
});
export type Provenance = z.infer<typeof provenanceSchema>;

/** The package.json at or above a path: its folder, name, version and `@posttrain/*` dependencies. */
function packageAbove(path: string): {
  directory: string;
  name: string;
  version: string;
  dependencies: string[];
} | null {
  const directory = findPackageDirectory(dirname(path));
  if (directory === null) return null;
  try {
    const json = JSON.parse(readFileSync(join(directory, "package.json"), "utf8")) as {
      name?: unknown;
      version?: unknown;
      dependencies?: unknown;
    };
    if (typeof json.name !== "string" || typeof json.version !== "string") return null;
    const dependencies =
      typeof json.dependencies === "object" && json.dependencies !== null
        ? Object.keys(json.dependencies).filter((name) => name.startsWith("@posttrain/"))
        : [];
    return { directory, name: json.name, version: json.version, dependencies };
  } catch {
    return null;
  }
}

/**
 * Every `@posttrain/*` package the code that ran can load: starting from this package and the
 * entry point (the CLI, or a script, when it is a posttrain package; a symlinked bin such as
 * npx's is followed to its file), each package's `@posttrain/*` dependencies as Node resolves
 * them from that package's folder (so `@posttrain/training` under the stages and
 * `@posttrain/tools` under the evals are in, at the versions really installed there).
 */
function resolvedPackages(): Record<string, string> {
  const packages: Record<string, string> = {};
  const queue: string[] = [fileURLToPath(import.meta.url)];
  const entry = process.argv[1];
  if (entry !== undefined && existsSync(entry)) {
    const real = realpathSync(entry);
    if (packageAbove(real)?.name.startsWith("@posttrain/") === true) queue.push(real);
  }
  const visited = new Set<string>();
  while (queue.length > 0) {
    const found = packageAbove(queue.shift() as string);
    if (found === null || visited.has(found.directory)) continue;
    visited.add(found.directory);
    if (found.name.startsWith("@posttrain/")) packages[found.name] ??= found.version;
    const require = createRequire(join(found.directory, "package.json"));
    for (const name of found.dependencies) {
      try {
        queue.push(require.resolve(`${name}/package.json`));
      } catch {
        // declared but not installed here: not loadable, not recorded
      }
    }
  }
  return Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a.localeCompare(b)));
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
      maxBuffer: 16 * 2 ** 20,
    }).trim();
  } catch {
    return null;
  }
}

/** The git state of the checkout at `directory` (default: the one this package was loaded from). */
export function gitState(params: { directory?: string } = {}): Provenance["git"] {
  const directory = params.directory ?? dirname(fileURLToPath(import.meta.url));
  const commit = git(["rev-parse", "HEAD"], directory);
  if (commit === null || !/^[0-9a-f]{40,64}$/.test(commit)) return null;
  const status = git(["status", "--porcelain", "--untracked-files=no"], directory);
  const branch = git(["rev-parse", "--abbrev-ref", "HEAD"], directory);
  return { commit, dirty: status === null ? true : status !== "", branch: branch === "HEAD" ? null : branch };
}

/** This process's provenance, with the run's seed(s) and the recipe package's own version. */
export function describeProvenance(params: {
  seed: number;
  seeds?: readonly number[];
  recipePackage?: { name: string | null; version: string | null };
}): Provenance {
  const packages = resolvedPackages();
  const recipePackage = params.recipePackage;
  if (recipePackage?.name != null && recipePackage.version !== null)
    packages[recipePackage.name] = recipePackage.version;
  return {
    git: gitState(),
    packages,
    onnxruntimeNode: onnxruntimeNodeVersion(),
    node: process.versions.node,
    commandLine: process.argv.slice(1),
    seeds: { root: params.seed, all: params.seeds === undefined ? null : [...params.seeds] },
  };
}

/** One provenance difference between two runs (or a run and what its recipe recorded). */
export interface ProvenanceDifference {
  /** `git.commit`, `packages.@posttrain/engine`, `onnxruntimeNode`, `cpu`, `instructionSets`, … */
  field: string;
  reference: string;
  current: string;
}

function text(value: unknown): string {
  if (value === undefined || value === null) return "—";
  return Array.isArray(value) ? value.join(",") || "none" : String(value);
}

/**
 * The differences that can change numbers between two runs: code (commit, dirty flag, package
 * and onnxruntime versions, Node) and machine (CPU, instruction sets, threads). The command line
 * and seeds are not compared (they are what a comparison varies on purpose).
 */
export function provenanceDifferences(params: {
  reference: { provenance?: Provenance | null; environment?: Partial<RunEnvironment> | null };
  current: { provenance?: Provenance | null; environment?: Partial<RunEnvironment> | null };
}): ProvenanceDifference[] {
  const differences: ProvenanceDifference[] = [];
  const compare = (field: string, reference: unknown, current: unknown) => {
    if (text(reference) !== text(current))
      differences.push({ field, reference: text(reference), current: text(current) });
  };
  const a = params.reference.provenance ?? null;
  const b = params.current.provenance ?? null;
  if (a !== null && b !== null) {
    compare("git.commit", a.git?.commit, b.git?.commit);
    compare("git.dirty", a.git?.dirty, b.git?.dirty);
    for (const name of new Set([...Object.keys(a.packages), ...Object.keys(b.packages)]))
      compare(`packages.${name}`, a.packages[name], b.packages[name]);
    compare("onnxruntimeNode", a.onnxruntimeNode, b.onnxruntimeNode);
    compare("node", a.node, b.node);
  }
  const x = params.reference.environment ?? null;
  const y = params.current.environment ?? null;
  if (x !== null && y !== null) {
    compare("cpu", x.cpu, y.cpu);
    compare("instructionSets", x.instructionSets, y.instructionSets);
    compare("threads", x.threads, y.threads);
  }
  return differences;
}

/**
 * What a `reproduce` run differs in from what its recipe recorded: the lock's package versions
 * and the machines that recorded the expected rows (a machine counts as matching when any
 * recording machine has the same CPU, instruction sets and threads).
 */
export function differencesFromRecipe(params: {
  recipe: Recipe;
  lockPackages: Record<string, string>;
  provenance: Provenance;
  environment: RunEnvironment;
}): ProvenanceDifference[] {
  const differences: ProvenanceDifference[] = [];
  for (const [name, version] of Object.entries(params.lockPackages)) {
    const current =
      name === "onnxruntime-node"
        ? (params.provenance.onnxruntimeNode ?? undefined)
        : params.provenance.packages[name];
    if (current !== version)
      differences.push({ field: `packages.${name}`, reference: version, current: current ?? "—" });
  }
  const machines = params.recipe.expected.flatMap((row) => row.machines ?? []);
  if (machines.length > 0) {
    const environment = params.environment;
    const same = machines.some(
      (machine) =>
        machine.cpu === environment.cpu &&
        text(machine.instructionSets) === text(environment.instructionSets) &&
        machine.threads === environment.threads,
    );
    if (!same) {
      const recorded = [
        ...new Set(
          machines.map(
            (machine) => `${machine.cpu} (${text(machine.instructionSets)}, ${machine.threads} threads)`,
          ),
        ),
      ];
      differences.push({
        field: "machine",
        reference: recorded.join("; "),
        current: `${environment.cpu} (${text(environment.instructionSets)}, ${environment.threads} threads)`,
      });
    }
  }
  return differences;
}

/** One line per difference, for the terminal and report.md. */
export function formatProvenanceDifferences(differences: ProvenanceDifference[]): string[] {
  return differences.map(
    (difference) => `${difference.field}: ${difference.reference} → ${difference.current}`,
  );
}
