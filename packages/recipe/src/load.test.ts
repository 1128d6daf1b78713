import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadRecipe, lockPathOf } from "./load.js";
import { fixtureRecipeInput, writeFixturePackage } from "./test-support.js";

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
    await expect(loadRecipe({ reference: directory })).rejects.toMatchObject({ code: "recipe_not_found" });
  });
});
