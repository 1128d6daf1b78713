import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadRecipe } from "./load.js";
import { writeFixturePackage } from "./test/index.js";
import { findWorkspacePackage, workspacePatterns } from "./workspace.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

/** A pnpm workspace holding the fixture recipe package at recipes/fixture. */
async function writeWorkspace(yaml: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "posttrain-workspace-"));
  folders.push(root);
  await writeFile(join(root, "pnpm-workspace.yaml"), yaml);
  await mkdir(join(root, "recipes"), { recursive: true });
  await mkdir(join(root, "packages", "tool"), { recursive: true });
  await writeFile(join(root, "packages", "tool", "package.json"), JSON.stringify({ name: "tool" }));
  await rename(await writeFixturePackage(), join(root, "recipes", "fixture"));
  return root;
}

describe("workspace recipe packages", () => {
  it("reads the packages list of pnpm-workspace.yaml, block or flow style", () => {
    const block =
      "packages:\n  - packages/*\n  # a comment\n  - 'recipes/*'\n  - bench # the benchmarks\n\nallowBuilds:\n  x: true\n";
    expect(workspacePatterns({ text: block })).toEqual(["packages/*", "recipes/*", "bench"]);
    expect(workspacePatterns({ text: 'packages: [packages/*, "recipes/*"]\n' })).toEqual([
      "packages/*",
      "recipes/*",
    ]);
    expect(workspacePatterns({ text: "overrides:\n  a: 1\n" })).toEqual([]);
  });

  it("loadRecipe finds a workspace recipe by package name (and name@version) from inside the checkout", async () => {
    const root = await writeWorkspace("packages:\n  - packages/*\n  - recipes/*\n");
    const loaded = await loadRecipe({
      reference: "@posttrain-recipes/fixture@1.2.3",
      from: join(root, "packages", "tool"),
    });
    expect(loaded.packageDirectory).toBe(join(root, "recipes", "fixture"));
    expect(loaded).toMatchObject({ packageName: "@posttrain-recipes/fixture", packageVersion: "1.2.3" });
    expect(findWorkspacePackage({ name: "@posttrain-recipes/missing", from: root })).toBeNull();
  });

  it("outside a workspace, or when the workspace does not list the folder, the name is recipe_not_found", async () => {
    const root = await writeWorkspace("packages:\n  - packages/*\n");
    await expect(loadRecipe({ reference: "@posttrain-recipes/fixture", from: root })).rejects.toMatchObject({
      code: "recipe_not_found",
    });
    const outside = await mkdtemp(join(tmpdir(), "posttrain-no-workspace-"));
    folders.push(outside);
    expect(findWorkspacePackage({ name: "@posttrain-recipes/fixture", from: outside })).toBeNull();
  });
});
