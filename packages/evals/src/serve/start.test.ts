import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultServedModelName } from "./start.js";

describe("the default served model name", () => {
  let root: string;
  const folder = async (path: string, config: Record<string, unknown> = {}) => {
    const directory = join(root, path);
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, "config.json"), JSON.stringify(config));
    return directory;
  };
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "serve-name-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("is config.json's Hub id, else the folder's name, else its run and stage, never a generic `model`", async () => {
    expect(defaultServedModelName({ directory: await folder("tulu-sft") })).toBe("tulu-sft");
    expect(
      defaultServedModelName({
        directory: await folder("download", { _name_or_path: "allenai/Llama-3.1-Tulu-3-8B" }),
      }),
    ).toBe("allenai/Llama-3.1-Tulu-3-8B");
    // A local path recorded by transformers is not a name.
    expect(
      defaultServedModelName({ directory: await folder("local", { _name_or_path: "/tmp/x/ckpt" }) }),
    ).toBe("local");
    expect(
      defaultServedModelName({ directory: await folder("runs/20261206-smoke/stages/2-dpo/model") }),
    ).toBe("20261206-smoke/2-dpo");
    expect(defaultServedModelName({ directory: await folder("experiments/qwen-rl/final") })).toBe("qwen-rl");
    expect(
      defaultServedModelName({ directory: await folder("no-config/model", { _name_or_path: "model" }) }),
    ).toBe("no-config");
  });
});
