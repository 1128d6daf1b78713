// scripts/relock-recipes.mjs (the relock step of `pnpm version-packages`) on a copy of the
// micro recipe package laid out like the repository: <scratch>/recipes/micro (with its
// `datasets` link) and <scratch>/datasets/micro.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repositoryRoot = fileURLToPath(new URL("..", import.meta.url));
const script = join(repositoryRoot, "scripts", "relock-recipes.mjs");
const built =
  existsSync(join(repositoryRoot, "packages/recipe/dist/index.js")) &&
  existsSync(join(repositoryRoot, "recipes/micro/dist/recipe.js"));

let scratch = "";
const recipeDirectory = () => join(scratch, "recipes", "micro");
const relock = () =>
  spawnSync(process.execPath, [script, "--root", scratch], {
    encoding: "utf8",
    env: { ...process.env, HF_HUB_OFFLINE: "1" },
  });
const readLock = async (file: string) =>
  JSON.parse(await readFile(join(recipeDirectory(), file), "utf8")) as {
    packages: Record<string, string>;
    datasets: Record<string, { expect: { rows: number } }>;
  };

describe.skipIf(!built)("relock-recipes.mjs", () => {
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "posttrain-relock-"));
    await mkdir(recipeDirectory(), { recursive: true });
    for (const entry of ["dist", "tokenizer", "package.json", "recipe.lock.json", "recipe.smoke.lock.json"])
      await cp(join(repositoryRoot, "recipes/micro", entry), join(recipeDirectory(), entry), {
        recursive: true,
      });
    await cp(join(repositoryRoot, "recipes/micro/node_modules"), join(recipeDirectory(), "node_modules"), {
      recursive: true,
      verbatimSymlinks: false,
    });
    await cp(join(repositoryRoot, "datasets/micro"), join(scratch, "datasets/micro"), { recursive: true });
    await symlink("../../datasets/micro", join(recipeDirectory(), "datasets"), "dir");
  });
  afterAll(async () => {
    if (scratch !== "") await rm(scratch, { recursive: true, force: true });
  });

  it("relocks every lock of every recipe, and then writes nothing (every lock current)", () => {
    // The first run brings the copied locks up to this checkout's build (a recipe edit that is
    // not relocked yet shows as a changed fingerprint); the second has nothing to do.
    const first = relock();
    expect(first.status, first.stderr).toBe(0);
    const locks = (stdout: string) =>
      stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { lock: string });
    expect(locks(first.stdout).map((line) => line.lock)).toEqual([
      "recipes/micro/recipe.lock.json",
      "recipes/micro/recipe.smoke.lock.json",
    ]);
    const second = relock();
    expect(second.status, second.stderr).toBe(0);
    expect(locks(second.stdout)).toEqual([
      { lock: "recipes/micro/recipe.lock.json", written: false, changed: [] },
      { lock: "recipes/micro/recipe.smoke.lock.json", written: false, changed: [] },
    ]);
  });

  it("records changed @posttrain package versions (a version bump)", async () => {
    const current = await readLock("recipe.smoke.lock.json");
    const stale = { ...current, packages: { ...current.packages, "@posttrain/core": "0.0.1" } };
    await writeFile(join(recipeDirectory(), "recipe.smoke.lock.json"), `${JSON.stringify(stale, null, 2)}\n`);
    const result = relock();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      JSON.stringify({
        lock: "recipes/micro/recipe.smoke.lock.json",
        written: true,
        changed: ['packages["@posttrain/core"]'],
      }),
    );
    expect((await readLock("recipe.smoke.lock.json")).packages).toEqual(current.packages);
  });

  it("refuses changed data (exit 1), naming the difference and leaving the locks as they were", async () => {
    const before = await readFile(join(recipeDirectory(), "recipe.lock.json"), "utf8");
    await cp(
      join(scratch, "datasets/micro/sft/test-00000-of-00001.parquet"),
      join(scratch, "datasets/micro/sft/train-00000-of-00001.parquet"),
    );
    const result = relock();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("recipes/micro: the model, tokenizer or data differ");
    expect(result.stderr).toContain('datasets["sft.train[0]"]');
    expect(await readFile(join(recipeDirectory(), "recipe.lock.json"), "utf8")).toBe(before);
  });
});
