import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeEnvironment } from "./environment.js";
import {
  describeProvenance,
  differencesFromRecipe,
  gitState,
  provenanceDifferences,
  provenanceSchema,
} from "./provenance.js";
import { defineRecipe, type RecipeInput } from "./schema.js";
import { fixtureRecipeInput, repositoryRoot } from "./test/index.js";

const cliBin = join(repositoryRoot, "packages", "cli", "dist", "bin.js");

const hasGit = (() => {
  try {
    execFileSync("git", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("describeProvenance", () => {
  it("records every loaded @posttrain package, onnxruntime-node, Node, the command line and the seeds", () => {
    const provenance = describeProvenance({
      seed: 3,
      seeds: [3, 4],
      recipePackage: { name: "@posttrain-recipes/fixture", version: "9.9.9" },
    });
    expect(provenanceSchema.parse(provenance)).toEqual(provenance);
    for (const name of ["@posttrain/core", "@posttrain/engine", "@posttrain/recipe", "@posttrain/evals"])
      expect(provenance.packages[name]).toMatch(/^\d+\.\d+\.\d+/);
    expect(provenance.packages["@posttrain-recipes/fixture"]).toBe("9.9.9");
    expect(provenance.onnxruntimeNode).toMatch(/^\d+\.\d+\.\d+/);
    expect(provenance.node).toBe(process.versions.node);
    expect(provenance.commandLine).toEqual(process.argv.slice(1));
    expect(provenance.seeds).toEqual({ root: 3, all: [3, 4] });
    // Beyond the lock's list: what the stages and evals load under them.
    for (const name of ["@posttrain/training", "@posttrain/tools", "@posttrain/verifiers"])
      expect(provenance.packages[name], name).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.skipIf(!existsSync(cliBin))(
    "records the CLI and what it loads when it is the entry point, through a symlinked bin (npx)",
    async () => {
      const folder = await mkdtemp(join(tmpdir(), "posttrain-provenance-"));
      const entry = process.argv[1];
      try {
        await symlink(cliBin, join(folder, "posttrain"));
        process.argv[1] = join(folder, "posttrain");
        const packages = describeProvenance({ seed: 1 }).packages;
        const version = (name: string) =>
          (
            JSON.parse(readFileSync(join(repositoryRoot, "packages", name, "package.json"), "utf8")) as {
              version: string;
            }
          ).version;
        expect(packages["@posttrain/cli"]).toBe(version("cli"));
        expect(packages["@posttrain/export"]).toBe(version("export"));
        process.argv[1] = join(folder, "no-such-bin");
        expect(describeProvenance({ seed: 1 }).packages["@posttrain/cli"]).toBeUndefined();
      } finally {
        if (entry === undefined) process.argv.splice(1, 1);
        else process.argv[1] = entry;
        await rm(folder, { recursive: true, force: true });
      }
    },
  );
});

describe.skipIf(!hasGit)("gitState", () => {
  it("reads the commit and the dirty flag of a checkout, and null outside one", async () => {
    const directory = await mkdtemp(join(tmpdir(), "posttrain-git-"));
    try {
      expect(gitState({ directory })).toBeNull();
      const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.email=t@t", "-c", "user.name=t", ...args], { cwd: directory });
      git("init", "-q", "-b", "work");
      await writeFile(join(directory, "a.txt"), "one");
      git("add", "a.txt");
      git("commit", "-q", "-m", "one");
      const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: directory, encoding: "utf8" }).trim();
      expect(gitState({ directory })).toEqual({ commit, dirty: false, branch: "work" });
      await writeFile(join(directory, "untracked.txt"), "ignored for dirtiness");
      expect(gitState({ directory })?.dirty).toBe(false);
      await writeFile(join(directory, "a.txt"), "two");
      expect(gitState({ directory })).toEqual({ commit, dirty: true, branch: "work" });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe("provenanceDifferences", () => {
  it("reports code and machine differences, not the command line or seeds", () => {
    const reference = describeProvenance({ seed: 1 });
    const environment = describeEnvironment();
    const current = {
      ...reference,
      git: { commit: "b".repeat(40), dirty: true, branch: null },
      packages: { ...reference.packages, "@posttrain/engine": "9.9.9" },
      commandLine: ["other"],
      seeds: { root: 2, all: null },
    };
    const differences = provenanceDifferences({
      reference: {
        provenance: { ...reference, git: { commit: "a".repeat(40), dirty: false, branch: "main" } },
        environment,
      },
      current: {
        provenance: current,
        environment: { ...environment, cpu: "Other CPU", threads: environment.threads + 1 },
      },
    });
    expect(differences.map((difference) => difference.field)).toEqual([
      "git.commit",
      "git.dirty",
      "packages.@posttrain/engine",
      "cpu",
      "threads",
    ]);
    expect(differences[2]).toMatchObject({ current: "9.9.9" });
    expect(
      provenanceDifferences({
        reference: { provenance: reference, environment },
        current: { provenance: reference, environment },
      }),
    ).toEqual([]);
  });

  it("compares a reproduction with the lock's packages and the recipe's recording machines", () => {
    const base = fixtureRecipeInput() as unknown as RecipeInput;
    const recipe = defineRecipe({
      ...base,
      expected: [
        {
          after: "sft",
          task: "fixture_gsm",
          metric: "accuracy",
          perSeed: { "1": 0.5, "2": 0.6 },
          machines: [{ cpu: "Recorded CPU", instructionSets: ["avx2"], threads: 2 }],
          codeVersion: "1.0.0",
          source: "test",
        },
      ],
    } as RecipeInput);
    const provenance = describeProvenance({ seed: 1 });
    const environment = describeEnvironment();
    const differences = differencesFromRecipe({
      recipe,
      lockPackages: {
        "@posttrain/core": "0.0.1",
        "onnxruntime-node": provenance.onnxruntimeNode ?? "unknown",
      },
      provenance,
      environment,
    });
    expect(differences).toEqual([
      {
        field: "packages.@posttrain/core",
        reference: "0.0.1",
        current: provenance.packages["@posttrain/core"],
      },
      expect.objectContaining({ field: "machine", reference: "Recorded CPU (avx2, 2 threads)" }),
    ]);
  });
});
