// Tests of `posttrain plan|lock|run|reproduce|new recipe` through the built bin.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const root = fileURLToPath(new URL("../../../../", import.meta.url));
const posttrain = (args: string[], cwd = root) =>
  spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    cwd,
    env: { ...process.env, CI: "true", HF_HUB_OFFLINE: "1" },
  });

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "posttrain-cli-recipe-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("posttrain plan", () => {
  it("plans tulu3-8b without downloading: 8.03B parameters, rows from the published counts", () => {
    const result = posttrain(["plan", "recipes/tulu3-8b", "--no-measure", "--json"]);
    expect(result.status).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan.parameters).toBe(8_030_261_248);
    expect(plan.stages.map((stage: { name: string }) => stage.name)).toEqual(["sft", "dpo", "rlvr"]);
    expect(plan.stages[0]).toMatchObject({ rows: 939_344 * 2, rowsFrom: "published" });
  });

  it("rejects a bad --efficiency with exit 2", () => {
    expect(posttrain(["plan", "recipes/tulu3-8b", "--efficiency", "3"]).status).toBe(2);
  });
});

describe("posttrain run", () => {
  it("refuses a recipe with unpinned Hub revisions and no lock (exit 1, names them)", () => {
    const result = posttrain(["run", "recipes/olmo2-1b-instruct", "--runs", join(scratch, "runs")]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("recipe_unpinned");
    expect(result.stderr).toContain("allenai/OLMo-2-0425-1B@main");
  });
});

describe("posttrain lock", () => {
  it("locks a copy of the micro recipe and `run` then refuses changed data, printing the difference", {
    timeout: 240_000,
  }, async () => {
    // Same layout as the repository: <scratch>/recipes/micro and <scratch>/datasets/micro.
    const recipeDirectory = join(scratch, "recipes", "micro");
    await mkdir(recipeDirectory, { recursive: true });
    for (const entry of ["dist", "tokenizer", "package.json"])
      await cp(join(root, "recipes/micro", entry), join(recipeDirectory, entry), { recursive: true });
    await cp(join(root, "datasets/micro"), join(scratch, "datasets/micro"), { recursive: true });
    await cp(join(root, "recipes/micro/node_modules"), join(recipeDirectory, "node_modules"), {
      recursive: true,
      verbatimSymlinks: false,
    });
    const locked = posttrain(["lock", recipeDirectory, "--variant", "smoke", "--json"]);
    expect(locked.status, locked.stderr).toBe(0);
    const written = JSON.parse(locked.stdout);
    expect(written.lock.datasets["sft.train[0]"].expect.rows).toBe(4000);
    expect(existsSync(join(recipeDirectory, "recipe.smoke.lock.json"))).toBe(true);
    // Replace the SFT training file: run must refuse before training anything.
    await cp(
      join(scratch, "datasets/micro/sft/test-00000-of-00001.parquet"),
      join(scratch, "datasets/micro/sft/train-00000-of-00001.parquet"),
    );
    const refused = posttrain(["run", recipeDirectory, "--smoke", "--runs", join(scratch, "runs")]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("recipe_lock_mismatch");
    expect(refused.stderr).toContain('datasets["sft.train[0]"].expect.rows: 4000 → 200');
    expect(
      JSON.parse(await readFile(join(recipeDirectory, "recipe.smoke.lock.json"), "utf8")).datasets[
        "sft.train[0]"
      ].expect.rows,
    ).toBe(4000);

    // A truncated lock: the file, line and column, not a bare SyntaxError.
    const lockPath = join(recipeDirectory, "recipe.smoke.lock.json");
    await writeFile(lockPath, (await readFile(lockPath, "utf8")).slice(0, 300));
    const truncated = posttrain(["run", recipeDirectory, "--smoke", "--runs", join(scratch, "runs")]);
    expect(truncated.status).toBe(1);
    expect(truncated.stderr).toContain(`error [recipe_lock_invalid]: ${lockPath}:`);
    expect(truncated.stderr).toContain("the file looks truncated");
    await rm(lockPath);

    // The local dataset folder is gone: lock and run say so (no ENOENT trace) and write nothing.
    await rm(join(scratch, "datasets/micro"), { recursive: true });
    for (const args of [
      ["lock", recipeDirectory, "--variant", "smoke"],
      ["run", recipeDirectory, "--smoke", "--runs", join(scratch, "runs-missing")],
    ]) {
      const missing = posttrain(args);
      expect(missing.status, args[0]).toBe(1);
      expect(missing.stderr).toMatch(
        /(^|\n)posttrain: error \[data_no_files\]: local dataset folder \S+datasets\/micro does not exist\n$/,
      );
      expect(missing.stderr).not.toContain("    at ");
    }
    expect(existsSync(join(scratch, "runs-missing"))).toBe(false);
    expect(existsSync(lockPath)).toBe(false);
  });
});

describe("posttrain new recipe", () => {
  it("scaffolds a recipe package with a first changeset, and refuses a bad name", async () => {
    const result = posttrain([
      "new",
      "recipe",
      "tiny-math",
      "--root",
      scratch,
      "--from",
      join(root, "recipes/micro"),
      "--json",
    ]);
    expect(result.status, result.stderr).toBe(0);
    const packageJson = JSON.parse(await readFile(join(scratch, "recipes/tiny-math/package.json"), "utf8"));
    expect(packageJson.name).toBe("@posttrain-recipes/tiny-math");
    const recipeSource = await readFile(join(scratch, "recipes/tiny-math/src/recipe.ts"), "utf8");
    expect(recipeSource).toContain("defineRecipe({");
    // One version: the scaffolded recipe reads its version from its package.json.
    expect(recipeSource).toContain("version: packageVersionOf({ moduleUrl: import.meta.url }),");
    expect(await readFile(join(scratch, ".changeset/new-recipe-tiny-math.md"), "utf8")).toContain(
      '"@posttrain-recipes/tiny-math": minor',
    );
    expect(posttrain(["new", "recipe", "Bad_Name", "--root", scratch]).status).toBe(2);
    // No starter tokenizer/data: a usage error, and no half-written package.
    expect(posttrain(["new", "recipe", "no-starter", "--root", scratch]).status).toBe(2);
    expect(existsSync(join(scratch, "recipes/no-starter"))).toBe(false);
    expect(posttrain(["new", "recipe", "tiny-math", "--root", scratch]).status).toBe(2);
  });
});
