import { readFile, rm, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadRecipe } from "./load.js";
import { compareLocks, computeLock, readLock, unpinnedReferences, verifyLock, writeLock } from "./lock.js";
import { fixtureRecipeInput, writeFixturePackage } from "./test/index.js";

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

async function fixture(recipe?: Record<string, unknown>) {
  const directory = await writeFixturePackage(recipe === undefined ? {} : { recipe });
  folders.push(directory);
  return { directory, loaded: await loadRecipe({ reference: directory }) };
}

describe("recipe lock", () => {
  it("carries the recipe's reference implementation, with its Hub models pinned", async () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const { loaded } = await fixture({
      ...fixtureRecipeInput(),
      referenceImplementation: {
        engine: "open-instruct",
        repository: "https://github.com/allenai/open-instruct",
        commit: "e363290be27225e799c6b7497a6bfb4bca25be68",
        stages: {
          sft: {
            script: "open_instruct/finetune.py",
            published: { file: "docs/tulu3.md", lines: [22, 55] },
            tokenizer: { repo: "allenai/Llama-3.1-Tulu-3-8B-SFT", revision: sha },
          },
        },
      },
    });
    const lock = await computeLock({ loaded });
    expect(lock.referenceImplementation).toEqual({
      engine: "open-instruct",
      repository: "https://github.com/allenai/open-instruct",
      commit: "e363290be27225e799c6b7497a6bfb4bca25be68",
      stages: {
        sft: {
          script: "open_instruct/finetune.py",
          tokenizer: { repo: "allenai/Llama-3.1-Tulu-3-8B-SFT", revision: sha },
        },
      },
    });
    // Without a reference the lock has no such section (older locks stay valid).
    expect((await computeLock({ loaded: (await fixture()).loaded })).referenceImplementation).toBeUndefined();
  });

  it("records datasets (rows, file hashes), tokenizer and template hashes, versions", async () => {
    const { loaded } = await fixture();
    const lock = await computeLock({ loaded });
    const sft = lock.datasets["sft.train[0]"];
    expect(sft?.expect?.rows).toBe(4000);
    expect(sft?.expect?.files.map((file) => file.path)).toEqual(["sft/train-00000-of-00001.parquet"]);
    expect(sft?.expect?.files[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lock.datasets["evals.fixture_gsm"]?.expect?.rows).toBe(200);
    expect(lock.tokenizer.files.map((file) => file.path)).toContain("tokenizer.json");
    expect(lock.tokenizer.chatTemplateSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lock.model.kind).toBe("initialize");
    expect(lock.packages["@posttrain/data"]).toMatch(/^\d+\.\d+\.\d+/);
    // Every package a run executes: the stage seam and the tools of tool-use rollouts too.
    for (const name of ["@posttrain/training", "@posttrain/tools", "@posttrain/rlvr"])
      expect(lock.packages[name], name).toMatch(/^\d+\.\d+\.\d+/);
    expect(lock.packages["onnxruntime-node"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(lock.verifiers["gsm8k"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(lock.evalTasks["fixture_gsm"]?.version).toBe("1.0.0");
    expect(lock.recipe).toMatchObject({ name: "fixture", version: "1.2.3", variant: null });
  });

  it("a run refuses data that no longer matches, printing the difference; --relock accepts it", async () => {
    const { directory, loaded } = await fixture();
    await writeLock({ loaded, lock: await computeLock({ loaded }) });
    // Unchanged: verifies.
    await expect(verifyLock({ loaded })).resolves.toMatchObject({ written: false });
    // Change the training data file.
    const file = join(directory, "data/sft/train-00000-of-00001.parquet");
    await writeFile(file, await readFile(join(directory, "data/sft/test-00000-of-00001.parquet")));
    const failure = await verifyLock({ loaded }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "recipe_lock_mismatch" });
    const message = (failure as Error).message;
    expect(message).toContain('datasets["sft.train[0]"].expect.rows: 4000 → 200');
    expect(message).toContain(
      'datasets["sft.train[0]"].expect.files[sft/train-00000-of-00001.parquet].sha256',
    );
    const relocked = await verifyLock({ loaded, relock: true });
    expect(relocked.written).toBe(true);
    expect((await readLock({ loaded }))?.datasets["sft.train[0]"]?.expect?.rows).toBe(200);
    await expect(verifyLock({ loaded })).resolves.toMatchObject({ written: false });
  });

  it("a changed tokenizer or chat template is blocking; a recipe edit is only a note", async () => {
    const { loaded } = await fixture();
    const locked = await computeLock({ loaded });
    const input = fixtureRecipeInput() as { tokenizer: { chatTemplate: string }; description: string };
    input.tokenizer.chatTemplate = "chatml";
    input.description = "edited";
    const { loaded: edited } = await fixture(input);
    const current = await computeLock({ loaded: edited });
    const { blocking, notes } = compareLocks({ locked, current });
    expect(blocking.map((difference) => difference.path)).toEqual(["tokenizer.chatTemplateSha256"]);
    expect(notes.map((difference) => difference.path)).toEqual(["recipe.fingerprint"]);
  });

  it("lists unpinned Hub references, and a run refuses them without a lock", async () => {
    const input = fixtureRecipeInput() as { stages: Array<{ data: { train: unknown[] } }> };
    input.stages[0]?.data.train.push({ kind: "hub", repo: "allenai/tulu-3-sft-mixture", revision: "main" });
    const { loaded } = await fixture(input);
    expect(unpinnedReferences(loaded.recipe)).toEqual(["sft.train[1] allenai/tulu-3-sft-mixture@main"]);
    await expect(verifyLock({ loaded })).rejects.toMatchObject({ code: "recipe_unpinned" });
  });

  it("a truncated lock names the file, line and column (recipe_lock_invalid), not a bare SyntaxError", async () => {
    const { directory, loaded } = await fixture();
    await verifyLock({ loaded });
    const path = join(directory, "recipe.lock.json");
    const text = await readFile(path, "utf8");
    await writeFile(path, text.slice(0, 300));
    const failure = await readLock({ loaded }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "recipe_lock_invalid", details: { path } });
    const lines = text.slice(0, 300).split("\n");
    expect((failure as Error).message).toContain(`${path}:${lines.length}:`);
    expect((failure as Error).message).toMatch(/at position \d+; the file looks truncated/);
    // The remedy writes this very lock: the variant's lock is written with its --variant.
    const folder = relative(process.cwd(), directory);
    expect((failure as Error).message).toContain(`run \`posttrain lock ${folder}\` to write it again`);
    const smoke = await loadRecipe({ reference: directory, variant: "smoke" });
    await writeFile(join(directory, "recipe.smoke.lock.json"), text.slice(0, 300));
    const smokeFailure = await readLock({ loaded: smoke }).catch((error: unknown) => error);
    expect(smokeFailure).toMatchObject({
      code: "recipe_lock_invalid",
      details: { path: join(directory, "recipe.smoke.lock.json") },
    });
    expect((smokeFailure as Error).message).toContain(
      `run \`posttrain lock ${folder} --variant smoke\` to write it again`,
    );
  });

  it("a missing local dataset folder fails lock and run with data_no_files, naming the folder", async () => {
    const { directory, loaded } = await fixture();
    await rm(join(directory, "data"), { recursive: true });
    for (const attempt of [() => computeLock({ loaded }), () => verifyLock({ loaded })])
      await expect(attempt()).rejects.toMatchObject({
        code: "data_no_files",
        message: `local dataset folder ${join(directory, "data")} does not exist`,
      });
    await rm(join(directory, "tokenizer"), { recursive: true });
    await expect(computeLock({ loaded })).rejects.toMatchObject({ code: "recipe_tokenizer_missing" });
  });
});
