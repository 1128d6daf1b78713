import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { loadRecipe, lockPathOf } from "./load.js";
import { fixtureRecipeInput, repositoryRoot, writeFixturePackage } from "./test/index.js";
import { packageVersionOf } from "./version.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

describe("loadRecipe", () => {
  it("loads a recipe package folder, its package name and version, and the lock path", async () => {
    const directory = await writeFixturePackage();
    folders.push(directory);
    const loaded = await loadRecipe({ reference: directory });
    expect(loaded).toMatchObject({
      packageName: "@posttrain-recipes/fixture",
      packageVersion: "1.2.3",
      variant: null,
    });
    expect(loaded.recipe.name).toBe("fixture");
    expect(lockPathOf({ loaded })).toBe(join(directory, "recipe.lock.json"));
    const smoke = await loadRecipe({ reference: directory, variant: "smoke" });
    expect(lockPathOf({ loaded: smoke })).toBe(join(directory, "recipe.smoke.lock.json"));
  });

  it("validates the exported object and names the field", async () => {
    const input = fixtureRecipeInput();
    input["seed"] = "seven";
    const directory = await writeFixturePackage({ recipe: input });
    folders.push(directory);
    await expect(loadRecipe({ reference: directory })).rejects.toThrow(/seed/);
  });

  it("fails with recipe_not_found for a missing module, package or export", async () => {
    await expect(loadRecipe({ reference: "@posttrain-recipes/does-not-exist" })).rejects.toMatchObject({
      code: "recipe_not_found",
    });
    const directory = await writeFixturePackage();
    folders.push(directory);
    await writeFile(join(directory, "recipe.js"), "export const other = 1;\n");
    await expect(loadRecipe({ reference: directory })).rejects.toMatchObject({ code: "recipe_no_export" });
  });

  it("a path typo says `no recipe at <path>` and suggests close names", async () => {
    // The fixture gets a parent folder of its own: other tests' temporary folders beside it in
    // the system temp folder would be close names too.
    const parent = await mkdtemp(join(tmpdir(), "posttrain-typo-"));
    folders.push(parent);
    const directory = join(parent, "recipe-fixture");
    await rename(await writeFixturePackage(), directory);
    const typo = `${basename(directory).slice(0, -1)}X`;
    const failure = await loadRecipe({ reference: `./${typo}`, from: parent }).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: "recipe_path_not_found" });
    expect((failure as Error).message).toBe(
      `no recipe at ${join(parent, typo)} — did you mean ${basename(directory)}?`,
    );
    await mkdir(join(directory, "unbuilt"));
    await expect(loadRecipe({ reference: join(directory, "unbuilt") })).rejects.toMatchObject({
      code: "recipe_not_built",
    });
  });

  it("one version: refuses a recipe whose version differs from its package.json (recipe_version_mismatch)", async () => {
    const input = fixtureRecipeInput();
    input["version"] = "1.2.4";
    const directory = await writeFixturePackage({ recipe: input });
    folders.push(directory);
    await expect(loadRecipe({ reference: directory })).rejects.toMatchObject({
      code: "recipe_version_mismatch",
      message: expect.stringContaining("says version 1.2.4 but"),
    });
    // packageVersionOf reads the package.json above a module: the way a recipe takes its version.
    expect(packageVersionOf({ moduleUrl: pathToFileURL(join(directory, "recipe.js")).href })).toBe("1.2.3");
  });
});

const recipesDirectory = join(repositoryRoot, "recipes");
const shipped = existsSync(recipesDirectory)
  ? readdirSync(recipesDirectory).filter((name) => existsSync(join(recipesDirectory, name, "dist/recipe.js")))
  : [];

describe.skipIf(shipped.length === 0)("the shipped recipes have one version", () => {
  it.each(shipped)("%s: recipe.ts, package.json and every lock agree", async (name) => {
    const directory = join(recipesDirectory, name);
    const packageJson = JSON.parse(await readFile(join(directory, "package.json"), "utf8")) as {
      version: string;
    };
    const loaded = await loadRecipe({ reference: directory });
    expect(loaded.recipe.version).toBe(packageJson.version);
    for (const file of readdirSync(directory).filter((entry) =>
      /^recipe(\.[a-z0-9-]+)?\.lock\.json$/.test(entry),
    )) {
      const lock = JSON.parse(await readFile(join(directory, file), "utf8")) as {
        recipe: { version: string };
      };
      expect(lock.recipe.version, file).toBe(packageJson.version);
    }
  });
});
