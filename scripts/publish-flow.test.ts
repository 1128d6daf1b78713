// The publishing flow end to end, against a local npm registry (issue 9, item 7): in a
// private copy of this checkout, write a changeset, `pnpm version-packages` (changeset
// version, build, relock the recipes), `pnpm release` (build, changeset publish) to verdaccio,
// then `npm install` the published recipe and CLI into an empty folder and run the installed
// `posttrain reproduce @posttrain-recipes/micro@<version> --smoke`. It needs the npm registry
// (verdaccio proxies every non-posttrain dependency from it) and skips when it is unreachable.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolvePnpm } from "./pnpm.mjs";
import { type LocalRegistry, npmRegistryReachable, startLocalRegistry } from "./publish-flow-registry.js";
import { copyWorkspace, runChecked } from "./publish-flow-workspace.js";

const repositoryRoot = fileURLToPath(new URL("..", import.meta.url));
/** The registry this machine's npm uses (a CI mirror, or the public one): verdaccio's uplink. */
const upstreamRegistry = (() => {
  const configured = spawnSync("npm", ["config", "get", "registry"], { encoding: "utf8" }).stdout?.trim();
  return configured?.startsWith("http") ? configured.replace(/\/?$/, "/") : "https://registry.npmjs.org/";
})();
const registryReachable = await npmRegistryReachable({ url: `${upstreamRegistry}-/ping` });
const recipeName = "@posttrain-recipes/micro";
/** The @posttrain packages a recipe lock records (as @posttrain/recipe's `recordedPackages`). */
const recordedPackages = [
  "core",
  "hub",
  "data",
  "engine",
  "training",
  "tools",
  "sft",
  "dpo",
  "rlvr",
  "verifiers",
  "evals",
  "recipe",
];
const changesetText = `Publish-flow check ${Date.now().toString(36)}: the micro recipe ships its datasets and locks.`;

/** Every regular file of a .tgz by path, with its bytes (ustar; the names here are short). */
function tarEntries(gzipped: Buffer): Map<string, Buffer> {
  const tar = gunzipSync(gzipped);
  const entries = new Map<string, Buffer>();
  const field = (header: Buffer, start: number, end: number) =>
    header
      .subarray(start, end)
      .toString("utf8")
      .replace(/\0[\s\S]*$/, "");
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const name = field(header, 0, 100);
    const prefix = field(header, 345, 500);
    const size = Number.parseInt(field(header, 124, 136).trim() || "0", 8);
    const type = field(header, 156, 157);
    offset += 512;
    if (type === "0" || type === "") {
      entries.set(
        prefix === "" ? name : `${prefix}/${name}`,
        Buffer.from(tar.subarray(offset, offset + size)),
      );
    }
    offset += Math.ceil(size / 512) * 512;
  }
  return entries;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
}

async function versionOf(workspace: string, directory: string): Promise<string> {
  return (await readJson(join(workspace, directory, "package.json")))["version"] as string;
}

describe.skipIf(!registryReachable)("publishing recipes with changesets, through a local registry", () => {
  let scratch = "";
  let workspace = "";
  let registry: LocalRegistry | null = null;
  let environment: NodeJS.ProcessEnv = {};
  const versions: Record<string, string> = {};

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "posttrain-publish-flow-"));
    workspace = join(scratch, "workspace");
    await copyWorkspace({ from: repositoryRoot, to: workspace });
    // The parent's npm/pnpm run settings (npm_config_*, npm_package_*) must not leak in.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !/^npm_(config|package|lifecycle)_/i.test(key)),
    );
    const pnpm = resolvePnpm();
    const path =
      pnpm === "pnpm"
        ? (process.env["PATH"] ?? "")
        : `${dirname(pnpm)}${delimiter}${process.env["PATH"] ?? ""}`;
    environment = {
      ...inherited,
      PATH: path,
      CI: "true",
      COREPACK_ENABLE_STRICT: "0",
      npm_config_manage_package_manager_versions: "false",
    };
    // A release starts from a clean commit (changeset publish tags it).
    const git = (args: string[]) =>
      runChecked({
        command: "git",
        args: ["-c", "user.name=publish-flow", "-c", "user.email=publish-flow@localhost", ...args],
        cwd: workspace,
        env: environment,
      });
    git(["init", "-q", "-b", "main"]);
    git(["add", "-A"]);
    git(["commit", "-q", "-m", "publish-flow snapshot"]);
    // The checkout's own store (the temporary folder may be on another file system, where pnpm
    // would otherwise start an empty store and download everything again).
    const storeDirectory = runChecked({
      command: "pnpm",
      args: ["store", "path"],
      cwd: repositoryRoot,
      env: environment,
    }).trim();
    runChecked({
      command: "pnpm",
      args: [
        "install",
        "--frozen-lockfile",
        "--prefer-offline",
        "--reporter=append-only",
        `--store-dir=${storeDirectory}`,
      ],
      cwd: workspace,
      env: environment,
    });
    registry = await startLocalRegistry({ directory: join(scratch, "registry"), uplink: upstreamRegistry });
    environment = { ...environment, ...registry.environment };
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    // The copy, the registry's storage and the consumer's node_modules: several hundred MB.
    if (scratch !== "") await rm(scratch, { recursive: true, force: true });
  }, 120_000);

  it("pnpm version-packages: bumps, writes CHANGELOG.md and relocks the recipes to the new versions", async () => {
    await writeFile(
      join(workspace, ".changeset", "publish-flow-check.md"),
      `---\n"${recipeName}": patch\n---\n\n${changesetText}\n`,
    );
    const before = await versionOf(workspace, "recipes/micro");
    runChecked({ command: "pnpm", args: ["run", "version-packages"], cwd: workspace, env: environment });

    versions["micro"] = await versionOf(workspace, "recipes/micro");
    versions["cli"] = await versionOf(workspace, "packages/cli");
    for (const name of recordedPackages) versions[name] = await versionOf(workspace, `packages/${name}`);
    expect(versions["micro"]).not.toBe(before);
    // Every pending changeset was consumed.
    expect(existsSync(join(workspace, ".changeset", "publish-flow-check.md"))).toBe(false);

    const changelog = await readFile(join(workspace, "recipes/micro/CHANGELOG.md"), "utf8");
    expect(changelog).toContain(`## ${versions["micro"]}`);
    expect(changelog).toContain(changesetText);

    // The relock: both micro locks record the bumped @posttrain versions, data paths unchanged.
    for (const lockFile of ["recipe.lock.json", "recipe.smoke.lock.json"]) {
      const lock = await readJson(join(workspace, "recipes/micro", lockFile));
      // The lock also records the onnxruntime-node it ran with, which a release does not bump.
      const packages = { ...(lock["packages"] as Record<string, string>) };
      expect(packages["onnxruntime-node"]).toMatch(/^\d+\.\d+\.\d+/);
      delete packages["onnxruntime-node"];
      expect(packages).toEqual(
        Object.fromEntries(recordedPackages.map((name) => [`@posttrain/${name}`, versions[name]])),
      );
      const datasets = lock["datasets"] as Record<string, { directory: string }>;
      expect(datasets["sft.train[0]"]?.directory).toBe("datasets");
    }
  }, 300_000);

  it("pnpm release: changeset publish puts every public package on the registry; the recipe's tarball is self-contained", async () => {
    expect(versions["micro"], "the version step ran").toBeDefined();
    runChecked({ command: "pnpm", args: ["run", "release"], cwd: workspace, env: environment });
    const url = registry!.url;

    const packument = (await (await fetch(`${url}${recipeName.replace("/", "%2f")}`)).json()) as {
      versions: Record<string, { dist: { tarball: string }; dependencies: Record<string, string> }>;
    };
    const published = packument.versions[versions["micro"]!];
    expect(published, `${recipeName}@${versions["micro"]} on ${url}`).toBeDefined();
    expect(published!.dependencies["@posttrain/recipe"]).toBe(`^${versions["recipe"]}`);
    const cli = (await (await fetch(`${url}@posttrain%2fcli`)).json()) as {
      versions: Record<string, unknown>;
    };
    expect(Object.keys(cli.versions)).toContain(versions["cli"]);

    const entries = tarEntries(Buffer.from(await (await fetch(published!.dist.tarball)).arrayBuffer()));
    for (const config of ["sft", "preference", "rlvr"])
      for (const split of ["train", "test"])
        expect(entries.has(`package/datasets/${config}/${split}-00000-of-00001.parquet`)).toBe(true);
    for (const file of [
      "datasets/README.md",
      "tokenizer/tokenizer.json",
      "dist/recipe.js",
      "dist/data-location.js",
      "CHANGELOG.md",
      "README.md",
    ])
      expect(entries.has(`package/${file}`), file).toBe(true);
    // The published locks are the relocked ones, byte for byte.
    for (const lockFile of ["recipe.lock.json", "recipe.smoke.lock.json"])
      expect(entries.get(`package/${lockFile}`)?.toString("utf8")).toBe(
        await readFile(join(workspace, "recipes/micro", lockFile), "utf8"),
      );
    expect([...entries.keys()].some((path) => path.includes(".test."))).toBe(false);
    // The published data is the data the lock pins.
    const dataFile = "datasets/rlvr/test-00000-of-00001.parquet";
    expect(
      entries.get(`package/${dataFile}`)?.equals(await readFile(join(workspace, "recipes/micro", dataFile))),
    ).toBe(true);
    // postpack put the link back in the workspace.
    const link = join(workspace, "recipes/micro/datasets");
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe("../../datasets/micro");
  }, 300_000);

  it("npm install into an empty folder, then the installed `posttrain reproduce --smoke` runs it and checks its table", async () => {
    expect(versions["micro"], "the publish step ran").toBeDefined();
    const consumer = join(scratch, "consumer");
    const packageJson = { name: "publish-flow-consumer", version: "1.0.0", private: true };
    await rm(consumer, { recursive: true, force: true });
    await mkdir(consumer, { recursive: true });
    await writeFile(join(consumer, "package.json"), `${JSON.stringify(packageJson)}\n`);
    // --ignore-scripts: onnxruntime-node's postinstall would download CUDA libraries; its CPU
    // binary ships in the package.
    runChecked({
      command: "npm",
      args: [
        "install",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        `${recipeName}@${versions["micro"]}`,
        `@posttrain/cli@${versions["cli"]}`,
      ],
      cwd: consumer,
      env: environment,
      timeoutMilliseconds: 400_000,
    });
    const installed = join(consumer, "node_modules", "@posttrain-recipes", "micro");
    expect((await lstat(join(installed, "datasets"))).isDirectory()).toBe(true);

    // The installed recipe's expected tables (the full one, and the smoke variant's).
    const tables = JSON.parse(
      runChecked({
        command: process.execPath,
        args: [
          "--input-type=module",
          "-e",
          `const { recipe } = await import("${recipeName}");
           const { applyVariant } = await import("@posttrain/recipe");
           console.log(JSON.stringify({ full: recipe.expected, smoke: applyVariant({ recipe, variant: "smoke" }).expected }));`,
        ],
        cwd: consumer,
        env: environment,
      }),
    ) as { full: Array<{ after: string; task: string; metric: string }>; smoke: unknown[] };
    expect(tables.full.length).toBeGreaterThan(0);

    const bin = join(consumer, "node_modules", ".bin", "posttrain");
    const reproduce = spawnSync(
      bin,
      [
        "reproduce",
        `${recipeName}@${versions["micro"]}`,
        "--smoke",
        "--json",
        "--runs",
        join(consumer, "runs"),
      ],
      {
        cwd: consumer,
        encoding: "utf8",
        env: { ...environment, HF_HUB_OFFLINE: "1", HF_HOME: join(scratch, "hf-home") },
        timeout: 400_000,
        maxBuffer: 256 * 1024 * 1024,
      },
    );
    expect(reproduce.status, reproduce.stderr).toBe(0);
    const summary = JSON.parse(reproduce.stdout) as {
      status: string;
      recipe: { name: string; variant: string | null; packageName: string | null };
      runDirectory: string;
      lock: { packages: Record<string, string>; datasets: Record<string, { directory: string }> };
      stages: Array<{
        name: string;
        status: string;
        evals: Record<string, Record<string, { value: number; count: number }>>;
      }>;
      expected: { passed: boolean; rows: number; failed: number } | null;
    };
    expect(summary.status).toBe("completed");
    expect(summary.recipe).toMatchObject({ name: "micro", variant: "smoke", packageName: recipeName });
    expect(summary.runDirectory.startsWith(join(consumer, "runs"))).toBe(true);
    expect(existsSync(join(summary.runDirectory, "summary.json"))).toBe(true);
    // It ran from the shipped lock (the installed packages' versions, the packaged data).
    expect(summary.lock.packages["@posttrain/recipe"]).toBe(versions["recipe"]);
    expect(summary.lock.datasets["rlvr.train[0]"]?.directory).toBe("datasets");
    expect(summary.stages.map((stage) => [stage.name, stage.status])).toEqual([
      ["sft", "completed"],
      ["dpo", "completed"],
      ["rlvr", "completed"],
    ]);
    // Every row of the expected table has its measurement in the smoke run (a few steps do not
    // reach the full run's values, so the smoke variant checks none of them: expected is null).
    for (const row of tables.full) {
      const estimate = summary.stages.find((stage) => stage.name === row.after)?.evals[row.task]?.[
        row.metric
      ];
      expect(estimate, `${row.after} ${row.task} ${row.metric}`).toBeDefined();
      expect(Number.isFinite(estimate!.value)).toBe(true);
      if (row.metric === "accuracy") {
        expect(estimate!.value).toBeGreaterThanOrEqual(0);
        expect(estimate!.value).toBeLessThanOrEqual(1);
      }
      expect(estimate!.count).toBeGreaterThan(0);
    }
    if (tables.smoke.length === 0) expect(summary.expected).toBeNull();
    else expect(summary.expected).toEqual({ passed: true, rows: tables.smoke.length, failed: 0 });
  }, 600_000);
});
