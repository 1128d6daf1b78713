import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError } from "@posttrain/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  microPackageDirectory,
  packagedDataDirectory,
  repositoryDataDirectory,
  resolveMicroDataDirectory,
} from "./data-location.js";
import { linkDatasets, materializeDatasets } from "./package-datasets.js";

// A checkout-shaped tree: <root>/datasets/micro (the data) and <root>/recipes/micro (the package).
let root = "";
let packageDirectory = "";
let data = "";
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "posttrain-micro-pack-"));
  packageDirectory = join(root, "recipes", "micro");
  data = join(root, "datasets", "micro");
  await mkdir(join(data, "rlvr"), { recursive: true });
  await mkdir(packageDirectory, { recursive: true });
  await writeFile(join(data, "README.md"), "card\n");
  await writeFile(join(data, "rlvr", "test-00000-of-00001.parquet"), "rows\n");
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("resolveMicroDataDirectory", () => {
  it("is `datasets` when the package has the data beside it (link or copy), else the repository path", async () => {
    expect(resolveMicroDataDirectory({ packageDirectory })).toBe(repositoryDataDirectory);
    await symlink(repositoryDataDirectory, join(packageDirectory, packagedDataDirectory), "dir");
    expect(resolveMicroDataDirectory({ packageDirectory })).toBe(packagedDataDirectory);
    await materializeDatasets({ packageDirectory });
    expect(resolveMicroDataDirectory({ packageDirectory })).toBe(packagedDataDirectory);
  });

  it("resolves to the committed link in this repository", () => {
    expect(existsSync(join(microPackageDirectory, repositoryDataDirectory, "rlvr"))).toBe(true);
    expect(resolveMicroDataDirectory()).toBe(packagedDataDirectory);
  });
});

describe("materializeDatasets / linkDatasets (prepack / postpack)", () => {
  it("replaces the link by a real copy, then puts the link back", async () => {
    const path = join(packageDirectory, packagedDataDirectory);
    await symlink(repositoryDataDirectory, path, "dir");
    const packed = await materializeDatasets({ packageDirectory });
    expect(packed).toEqual({ path, before: "link", files: 2 });
    expect((await lstat(path)).isDirectory()).toBe(true);
    expect(await readFile(join(path, "rlvr", "test-00000-of-00001.parquet"), "utf8")).toBe("rows\n");
    // A second prepack (an interrupted pack) refreshes the copy from the repository's data.
    await writeFile(join(data, "README.md"), "card v2\n");
    expect(await materializeDatasets({ packageDirectory })).toMatchObject({ before: "copy", files: 2 });
    expect(await readFile(join(path, "README.md"), "utf8")).toBe("card v2\n");

    expect(await linkDatasets({ packageDirectory })).toEqual({ path, before: "copy" });
    expect((await lstat(path)).isSymbolicLink()).toBe(true);
    expect(await readlink(path)).toBe(repositoryDataDirectory);
    expect(await linkDatasets({ packageDirectory })).toEqual({ path, before: "link" });
  });

  it("creates the copy (and later the link) when there is neither", async () => {
    expect(await materializeDatasets({ packageDirectory })).toMatchObject({ before: "absent", files: 2 });
    await rm(join(packageDirectory, packagedDataDirectory), { recursive: true });
    expect(await linkDatasets({ packageDirectory })).toMatchObject({ before: "absent" });
    expect(await readlink(join(packageDirectory, packagedDataDirectory))).toBe(repositoryDataDirectory);
  });

  it("keeps a copy that differs from the repository's data (micro_datasets_diverged)", async () => {
    await materializeDatasets({ packageDirectory });
    await writeFile(
      join(packageDirectory, packagedDataDirectory, "rlvr", "test-00000-of-00001.parquet"),
      "edited\n",
    );
    const error = await linkDatasets({ packageDirectory }).catch((caught: unknown) => caught);
    expect(PosttrainError.hasCode(error, "micro_datasets_diverged")).toBe(true);
    expect((error as PosttrainError).details?.["differing"]).toEqual(["rlvr/test-00000-of-00001.parquet"]);
    expect((await lstat(join(packageDirectory, packagedDataDirectory))).isDirectory()).toBe(true);
  });

  it("fails with micro_datasets_missing when there is no data to copy", async () => {
    await rm(data, { recursive: true });
    const error = await materializeDatasets({ packageDirectory }).catch((caught: unknown) => caught);
    expect(PosttrainError.hasCode(error, "micro_datasets_missing")).toBe(true);
    expect(existsSync(join(packageDirectory, packagedDataDirectory))).toBe(false);
  });
});
