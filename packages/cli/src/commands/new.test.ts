// `posttrain new recipe` end to end: the scaffold builds, and its smoke variant runs through the
// CLI to `expected table: PASS` on the first try (its own tokenizer and data, a gsm8k eval that
// only sees gsm8k rows). Then an interrupt: exit 130, the resume command, and a resume that
// finishes the run.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const root = fileURLToPath(new URL("../../../../", import.meta.url));
const environment = { ...process.env, CI: "true", HF_HUB_OFFLINE: "1" };
const posttrain = (args: string[], cwd: string) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd, env: environment });

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "posttrain-cli-new-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/**
 * What `pnpm install` and `tsc -b` do for the scaffold, in a folder outside the workspace:
 * link @posttrain/recipe, and compile src/recipe.ts to dist/recipe.js (TypeScript's transpiler).
 */
async function installAndBuild(directory: string): Promise<void> {
  await mkdir(join(directory, "node_modules/@posttrain"), { recursive: true });
  await symlink(join(root, "packages/recipe"), join(directory, "node_modules/@posttrain/recipe"), "dir");
  const source = await readFile(join(directory, "src/recipe.ts"), "utf8");
  const output = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  await mkdir(join(directory, "dist"), { recursive: true });
  await writeFile(join(directory, "dist/recipe.js"), output.outputText);
}

const ready =
  existsSync(join(root, "recipes/micro/tokenizer")) && existsSync(join(root, "packages/recipe/dist"));

describe.skipIf(!ready)("posttrain new recipe: a scaffold that runs on its first try", () => {
  it("scaffolds a package that holds its tokenizer and data, and its smoke variant passes", {
    timeout: 240_000,
  }, async () => {
    const created = posttrain(
      ["new", "recipe", "first-try", "--root", scratch, "--from", join(root, "recipes/micro")],
      scratch,
    );
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toContain("build it: npx tsc -b recipes/first-try");
    // Every command in the hint runs as printed from the root (no bare `posttrain` on the PATH).
    expect(created.stdout).toContain("try it: npx posttrain run recipes/first-try --smoke");
    expect(created.stdout).not.toMatch(/(^|[^x] )posttrain (run|lock) /m);
    const directory = join(scratch, "recipes/first-try");
    const packageJson = JSON.parse(await readFile(join(directory, "package.json"), "utf8"));
    for (const shipped of ["tokenizer", "datasets", "recipe.smoke.lock.json"])
      expect(packageJson.files).toContain(shipped);
    for (const file of [
      "tokenizer/tokenizer.json",
      "datasets/sft/train-00000-of-00001.parquet",
      "datasets/rlvr/test-00000-of-00001.parquet",
    ])
      expect(existsSync(join(directory, file)), file).toBe(true);
    const recipeSource = await readFile(join(directory, "src/recipe.ts"), "utf8");
    expect(recipeSource).not.toContain("../");
    // The repository's lint passes on the scaffold as written (`npm run lint` right after `new`).
    const biome = join(root, "node_modules/.bin/biome");
    if (existsSync(biome)) {
      const lint = spawnSync(
        biome,
        ["check", "--config-path", join(root, "biome.json"), "--vcs-enabled=false", directory],
        { encoding: "utf8" },
      );
      expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    }

    await installAndBuild(directory);
    const runs = join(scratch, "runs");
    // From the repository's parent folder, as a user would after `cd`.
    const run = posttrain(["run", "recipes/first-try", "--smoke", "--runs", runs], scratch);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/expected table: PASS \(1\/1\)/);
    expect(run.stderr).not.toMatch(/invalid_label|unexpected error/);
    expect(existsSync(join(directory, "recipe.smoke.lock.json"))).toBe(true);

    // Interrupted: SIGINT once the stage runs → exit 130, "interrupted", the exact resume command.
    const child = spawn(process.execPath, [bin, "run", "recipes/first-try", "--runs", runs], {
      cwd: scratch,
      env: environment,
    });
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk);
    });
    const exit = new Promise<number | null>((resolveExit) => child.on("close", (code) => resolveExit(code)));
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
      if (/\[sft\] \d+\/\d+ steps|stage sft \(sft\): running/.test(stderr) && !child.killed)
        child.kill("SIGINT");
    });
    expect(await exit, stderr).toBe(130);
    expect(stderr).toContain("posttrain: interrupted (SIGINT)");
    const command = /resume with:\n {2}(posttrain run .+)\n/.exec(stderr)?.[1];
    expect(command).toMatch(/^posttrain run recipes\/first-try --resume \d{8}-\d{6}Z --runs /);
    expect(stdout).toMatch(/expected table: not judged — the run was interrupted/);
    const runId = /--resume (\S+)/.exec(command as string)?.[1] as string;
    const summaryPath = join(runs, "first-try-0.0.0", runId, "summary.json");
    expect(JSON.parse(await readFile(summaryPath, "utf8")).status).toBe("interrupted");

    // A run id that does not exist, or one that escapes --runs: errors, and nothing written.
    const missing = posttrain(
      ["run", "recipes/first-try", "--resume", "20990101-000000Z", "--runs", runs],
      scratch,
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`error [run_not_found]: no run 20990101-000000Z to resume`);
    expect(missing.stderr).toContain(runId);
    const escaped = posttrain(
      ["run", "recipes/first-try", "--resume", "../../escaped", "--runs", runs],
      scratch,
    );
    expect(escaped.status).toBe(2);
    expect(existsSync(join(dirname(runs), "escaped"))).toBe(false);
  });
});
