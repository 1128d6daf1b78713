import { spawnSync } from "node:child_process";
import { chmodSync, existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError, sha256Hex } from "@posttrain/core";
import { startTestHub, type TestHub } from "@posttrain/hub/test";
import type { LoadedRecipe, RecipeLock } from "@posttrain/recipe";
import { recipe as tulu3 } from "@posttrain-recipes/tulu3-8b";
import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportOpenInstructBundle } from "./bundle.js";
import { validateArguments } from "./flag-validation.js";

const json = (value: unknown) => JSON.stringify(value);
const messages = (tag: string, index: number) =>
  json([
    { role: "user", content: `${tag} question ${index}` },
    { role: "assistant", content: `${tag} answer ${index}` },
  ]);

/** Three rows per dataset with the columns open-instruct's transforms read (messages as JSON text). */
const tables = {
  sft: [{ name: "messages", data: [0, 1, 2].map((index) => messages("sft", index)), type: "STRING" }],
  dpo: [
    { name: "chosen", data: [0, 1, 2].map((index) => messages("chosen", index)), type: "STRING" },
    { name: "rejected", data: [0, 1, 2].map((index) => messages("rejected", index)), type: "STRING" },
  ],
  rlvr: [
    { name: "messages", data: [0, 1, 2].map((index) => messages("rlvr", index)), type: "STRING" },
    { name: "ground_truth", data: ["1", "2", "3"], type: "STRING" },
    { name: "dataset", data: ["gsm8k", "gsm8k", "math"], type: "STRING" },
  ],
} as const;
const parquet = (stage: keyof typeof tables) =>
  new Uint8Array(
    parquetWriteBuffer({
      columnData: tables[stage].map((column) => ({ ...column, data: [...column.data] })),
    }),
  );

const repos = {
  sft: "allenai/tulu-3-sft-mixture",
  dpo: "allenai/llama-3.1-tulu-3-8b-preference-mixture",
  rlvr: "allenai/RLVR-GSM-MATH-IF-Mixed-Constraints",
} as const;
const dataPath = "data/train-00000-of-00001.parquet";

/** A PATH folder whose `accelerate` and `python` record their argv instead of training. */
async function fakeLaunchers(directory: string): Promise<string> {
  const bin = join(directory, "fake-bin");
  await mkdir(bin, { recursive: true });
  for (const name of ["accelerate", "python"]) {
    const path = join(bin, name);
    await writeFile(path, `#!/bin/bash\nprintf '%s\\n' "$@" > "$LAUNCH_LOG"\n`);
    chmodSync(path, 0o755);
  }
  return bin;
}

describe("exportOpenInstructBundle (Tulu 3 8B against a local Hub)", () => {
  let hub: TestHub;
  let cache: string;
  let lock: RecipeLock;
  const loaded: LoadedRecipe = {
    recipe: tulu3,
    packageDirectory: tmpdir(),
    modulePath: join(tmpdir(), "recipe.js"),
    packageName: "@posttrain-recipes/tulu3-8b",
    packageVersion: "0.1.0",
    variant: null,
  };
  const contents = { sft: parquet("sft"), dpo: parquet("dpo"), rlvr: parquet("rlvr") };
  const hubOptions = () => ({ hubUrl: hub.url, cacheDirectory: cache, accessToken: null });

  beforeAll(async () => {
    hub = await startTestHub({
      repos: Object.entries(repos).map(([stage, name]) => ({
        type: "dataset" as const,
        name,
        commits: [{ files: { "README.md": `# ${name}`, [dataPath]: contents[stage as keyof typeof repos] } }],
      })),
    });
    cache = await mkdtemp(join(tmpdir(), "posttrain-export-cache-"));
    const datasets: RecipeLock["datasets"] = {};
    for (const [stage, name] of Object.entries(repos)) {
      const bytes = contents[stage as keyof typeof repos];
      datasets[`${stage}.train[0]`] = {
        kind: "hub",
        repo: name,
        revision: hub.branchSha(name, "main", "dataset")!,
        split: "train",
        amount: { fraction: 1 },
        expect: { rows: 3, files: [{ path: dataPath, size: bytes.length, sha256: sha256Hex(bytes) }] },
      };
    }
    lock = {
      lockVersion: 1,
      recipe: { name: tulu3.name, version: tulu3.version, variant: null, fingerprint: "a".repeat(64) },
      model: { kind: "hub", repo: "meta-llama/Llama-3.1-8B", revision: "b".repeat(40), files: [] },
      tokenizer: {
        source: { kind: "hub", repo: "meta-llama/Llama-3.1-8B", revision: "b".repeat(40) },
        files: [],
        chatTemplateSha256: null,
      },
      datasets,
      evalTasks: {},
      verifiers: {},
      packages: {},
      referenceImplementation: {
        engine: "open-instruct",
        repository: "https://github.com/allenai/open-instruct",
        commit: "e363290be27225e799c6b7497a6bfb4bca25be68",
        stages: {
          sft: { script: "open_instruct/finetune.py" },
          dpo: {
            script: "open_instruct/dpo_tune.py",
            tokenizer: { repo: "allenai/Llama-3.1-Tulu-3-8B-SFT", revision: "c".repeat(40) },
          },
          rlvr: {
            script: "open_instruct/ppo_vllm_thread_ray_gtrl.py",
            rewardModel: { repo: "allenai/Llama-3.1-Tulu-3-8B-RM", revision: "d".repeat(40) },
          },
        },
      },
    };
  });
  afterAll(async () => {
    await hub?.close();
  });

  it("writes the release-commit bundle: pinned data as JSONL with open-instruct's columns, every argv parsing there", async () => {
    const outputDirectory = await mkdtemp(join(tmpdir(), "posttrain-bundle-"));
    const manifest = await exportOpenInstructBundle({ loaded, lock, outputDirectory, hub: hubOptions() });
    // The recipe pins its reference: e363290 (not the newest table).
    expect(manifest.openInstruct.commit).toBe("e363290");
    const setup = await readFile(join(outputDirectory, "setup.sh"), "utf8");
    expect(setup).toContain("checkout --quiet e363290be27225e799c6b7497a6bfb4bca25be68");
    expect(manifest.data.map((file) => file.path)).toEqual([
      "data/sft/train-0.jsonl",
      "data/dpo/train-0.jsonl",
      "data/rlvr/train-0.jsonl",
    ]);
    for (const file of manifest.data) {
      const text = await readFile(join(outputDirectory, file.path), "utf8");
      expect(sha256Hex(Buffer.from(text))).toBe(file.sha256);
      const rows = text
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(rows).toHaveLength(3);
      expect(file.rows).toBe(3);
      const stage = file.stage as keyof typeof tables;
      expect(Object.keys(rows[0]!).sort()).toEqual(tables[stage].map((column) => column.name).sort());
      expect(file.sourceFiles[0]!.sha256).toBe(sha256Hex(contents[stage]));
      const locked = lock.datasets[file.source];
      expect(file.revision).toBe(locked?.kind === "hub" ? locked.revision : "");
    }
    const [sft, dpo, rlvr] = manifest.stages;
    const value = (args: readonly string[], flag: string) => args[args.indexOf(flag) + 1];
    expect(value(sft!.arguments, "--model_revision")).toBe("b".repeat(40));
    expect(sft!.arguments.slice(sft!.arguments.indexOf("--dataset_mixer_list") + 1).slice(0, 2)).toEqual([
      "data/sft/train-0.jsonl",
      "1.0",
    ]);
    // DPO tokenises with the SFT model's tokenizer at the lock's pin; PPO pins the reward model.
    expect(value(dpo!.arguments, "--tokenizer_name")).toBe("allenai/Llama-3.1-Tulu-3-8B-SFT");
    expect(value(dpo!.arguments, "--tokenizer_revision")).toBe("c".repeat(40));
    expect(value(rlvr!.arguments, "--reward_model_revision")).toBe("d".repeat(40));
    expect(value(rlvr!.arguments, "--dataset_mixer")).toBe('{"data/rlvr/train-0.jsonl": 1.0}');
    for (const stage of manifest.stages) {
      expect(
        validateArguments({ commit: "e363290", script: stage.script, arguments: stage.arguments }),
      ).toEqual([]);
      expect(value(stage.arguments, "--push_to_hub")).toBe("False");
      expect(stage.arguments).not.toContain("--with_tracking");
      for (const path of [stage.commandScript, stage.slurmScript])
        expect(spawnSync("bash", ["-n", join(outputDirectory, path)]).status).toBe(0);
    }
    expect(spawnSync("bash", ["-n", join(outputDirectory, "data/verify.sh")]).status).toBe(0);
  });

  it("runs each stage's data checks on the materialised files before launching, and refuses tampered data", async () => {
    const outputDirectory = await mkdtemp(join(tmpdir(), "posttrain-bundle-run-"));
    const manifest = await exportOpenInstructBundle({ loaded, lock, outputDirectory, hub: hubOptions() });
    const bin = await fakeLaunchers(outputDirectory);
    const log = join(outputDirectory, "launch.log");
    const run = (script: string) =>
      spawnSync("bash", [join(outputDirectory, script)], {
        encoding: "utf8",
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          OPEN_INSTRUCT_DIR: "/oi",
          LAUNCH_LOG: log,
          // The SFT stage is 8 nodes: each node's rank and the rendezvous address (Slurm sets them).
          MACHINE_RANK: "0",
          MAIN_PROCESS_IP: "127.0.0.1",
        },
      });
    const [sft, dpo, rlvrStage] = manifest.stages;
    const first = run(sft!.commandScript);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.stdout).toContain("data check: data/sft/train-0.jsonl ok (3 rows)");
    const launched = (await readFile(log, "utf8")).split("\n");
    expect(launched.slice(0, 2)).toEqual(["launch", "--mixed_precision"]);
    expect(launched).toContain("/oi/open_instruct/finetune.py");
    // The DPO stage reads the SFT output: without it, it stops before training.
    expect(run(dpo!.commandScript).status).toBe(4);
    await mkdir(join(outputDirectory, "output/sft"), { recursive: true });
    await writeFile(join(outputDirectory, "output/sft/config.json"), "{}");
    expect(run(dpo!.commandScript).status).toBe(0);
    // The PPO stage (python on the Ray head) checks its data and the DPO output the same way.
    await mkdir(join(outputDirectory, "output/dpo"), { recursive: true });
    await writeFile(join(outputDirectory, "output/dpo/config.json"), "{}");
    const ppo = run(rlvrStage!.commandScript);
    expect(ppo.status, ppo.stderr).toBe(0);
    expect(ppo.stdout).toContain("data check: data/rlvr/train-0.jsonl ok (3 rows)");
    const ppoArguments = (await readFile(log, "utf8")).split("\n");
    expect(ppoArguments[0]).toBe("/oi/open_instruct/ppo_vllm_thread_ray_gtrl.py");
    expect(ppoArguments[ppoArguments.indexOf("--model_name_or_path") + 1]).toBe("output/dpo");
    // One more row than the lock: the check fails (exit 3) and nothing is launched.
    await writeFile(log, "");
    await appendFile(
      join(outputDirectory, "data/dpo/train-0.jsonl"),
      `${json({ chosen: "x", rejected: "y" })}\n`,
    );
    const tampered = run(dpo!.commandScript);
    expect(tampered.status).toBe(3);
    expect(tampered.stderr).toContain("data/dpo/train-0.jsonl has 4 rows, the lock has 3");
    expect(await readFile(log, "utf8")).toBe("");
  });

  it("chains through 89b4f62's run-name folders: the next stage finds <output>/<exp_name>__<seed>__<time>", async () => {
    const outputDirectory = await mkdtemp(join(tmpdir(), "posttrain-bundle-89b-"));
    const manifest = await exportOpenInstructBundle({
      loaded,
      lock,
      commit: "89b4f62",
      outputDirectory,
      hub: hubOptions(),
    });
    expect(manifest.openInstruct.commit).toBe("89b4f62");
    const [sft, dpo, rlvr] = manifest.stages;
    expect(dpo!.script).toBe("open_instruct/dpo_tune_cache.py");
    // finetune.py is told not to randomise its folder; dpo_tune_cache.py always does.
    expect(sft!.arguments).toContain("--do_not_randomize_output_dir");
    expect(dpo!.outputRunNamePrefix).toBe("dpo__42__");
    expect(rlvr!.inputModel).toEqual({ directory: "output/dpo", runNamePrefix: "dpo__42__" });
    // The 89b4f62 PPO script takes list mixers (not the release's JSON dict).
    expect(rlvr!.arguments).toContain("--dataset_mixer_list");
    expect(rlvr!.arguments).not.toContain("--dataset_mixer");
    for (const stage of manifest.stages)
      expect(
        validateArguments({ commit: "89b4f62", script: stage.script, arguments: stage.arguments }),
      ).toEqual([]);
    const bin = await fakeLaunchers(outputDirectory);
    const log = join(outputDirectory, "launch.log");
    const run = () =>
      spawnSync("bash", [join(outputDirectory, rlvr!.commandScript)], {
        encoding: "utf8",
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          OPEN_INSTRUCT_DIR: "/oi",
          LAUNCH_LOG: log,
        },
      });
    expect(run().status).toBe(4);
    const runFolder = join(outputDirectory, "output/dpo/dpo__42__1717430000");
    await mkdir(runFolder, { recursive: true });
    await writeFile(join(runFolder, "config.json"), "{}");
    const result = run();
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const launched = (await readFile(log, "utf8")).split("\n");
    expect(launched[launched.indexOf("--model_name_or_path") + 1]).toBe("output/dpo/dpo__42__1717430000");
  });

  it("refuses to export without a lock entry for a dataset, naming the field", async () => {
    const { "dpo.train[0]": _dropped, ...datasets } = lock.datasets;
    const error = await exportOpenInstructBundle({
      loaded,
      lock: { ...lock, datasets },
      outputDirectory: await mkdtemp(join(tmpdir(), "posttrain-bundle-")),
      hub: hubOptions(),
    }).catch((caught: unknown) => caught);
    expect(PosttrainError.hasCode(error, "export_unpinned")).toBe(true);
    expect((error as Error).message).toContain("stages[1].data.train[0]");
  });

  it("refuses a lock that does not pin the reference's reward model", async () => {
    const error = await exportOpenInstructBundle({
      loaded,
      lock: { ...lock, referenceImplementation: undefined },
      outputDirectory: await mkdtemp(join(tmpdir(), "posttrain-bundle-")),
      hub: hubOptions(),
    }).catch((caught: unknown) => caught);
    expect(PosttrainError.hasCode(error, "export_unpinned")).toBe(true);
    expect((error as Error).message).toContain("referenceImplementation.stages.dpo.tokenizer");
  });

  it("fails before downloading for a commit without a flag table", async () => {
    const outputDirectory = await mkdtemp(join(tmpdir(), "posttrain-bundle-"));
    const error = await exportOpenInstructBundle({ loaded, lock, commit: "1a2b3c4", outputDirectory }).catch(
      (caught: unknown) => caught,
    );
    expect(PosttrainError.hasCode(error, "export_unknown_commit")).toBe(true);
    expect(existsSync(join(outputDirectory, "data"))).toBe(false);
  });
});
