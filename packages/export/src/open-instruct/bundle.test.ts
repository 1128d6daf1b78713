import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError, sha256Hex } from "@posttrain/core";
import { startTestHub, type TestHub } from "@posttrain/hub/test";
import type { LoadedRecipe, RecipeLock } from "@posttrain/recipe";
import { recipe as tulu3 } from "@posttrain-recipes/tulu3-8b";
import { parquetWriteBuffer } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BundleManifest, exportOpenInstructBundle } from "./bundle.js";

const parquet = (tag: string) =>
  new Uint8Array(
    parquetWriteBuffer({
      columnData: [{ name: "text", data: [`${tag} a`, `${tag} b`, `${tag} c`], type: "STRING" }],
    }),
  );

const repos = {
  sft: "allenai/tulu-3-sft-mixture",
  dpo: "allenai/llama-3.1-tulu-3-8b-preference-mixture",
  rlvr: "allenai/RLVR-GSM-MATH-IF-Mixed-Constraints",
} as const;

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

  beforeAll(async () => {
    hub = await startTestHub({
      repos: Object.entries(repos).map(([stage, name]) => ({
        type: "dataset" as const,
        name,
        commits: [
          {
            files: {
              "README.md": `# ${name}`,
              "data/train-00000-of-00001.parquet": contents[stage as keyof typeof repos],
            },
          },
        ],
      })),
    });
    cache = await mkdtemp(join(tmpdir(), "posttrain-export-cache-"));
    const datasets: RecipeLock["datasets"] = {};
    for (const [stage, name] of Object.entries(repos))
      datasets[`${stage}.train[0]`] = {
        kind: "hub",
        repo: name,
        revision: hub.branchSha(name, "main", "dataset")!,
        split: "train",
        amount: { fraction: 1 },
      };
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
    };
  });
  afterAll(async () => {
    await hub?.close();
  });

  const layouts = {
    rlvr: {
      learnersPerNode: [7],
      vllmEngines: 1,
      vllmTensorParallelSize: 1,
      perDeviceTrainBatchSize: 2,
      rewardModel: "allenai/Llama-3.1-Tulu-3-8B-RM",
    },
  };

  it("materialises every dataset at its pinned SHA and writes the stage launchers", async () => {
    const outputDirectory = await mkdtemp(join(tmpdir(), "posttrain-bundle-"));
    const manifest = await exportOpenInstructBundle({
      loaded,
      lock,
      outputDirectory,
      options: { reinforcementLayouts: layouts },
      slurm: { partition: "gpu", time: "48:00:00" },
      hub: { hubUrl: hub.url, cacheDirectory: cache, accessToken: null },
    });
    // auto picks the newest commit that expresses the recipe: HEAD has no sum loss and no PPO.
    expect(manifest.openInstruct.commit).toBe("89b4f62");
    expect(manifest.data).toHaveLength(3);
    for (const file of manifest.data) {
      const bytes = await readFile(join(outputDirectory, file.path));
      expect(sha256Hex(bytes)).toBe(file.sha256);
      const stage = file.source.split(".")[0] as keyof typeof contents;
      expect(Buffer.compare(bytes, Buffer.from(contents[stage]))).toBe(0);
      expect(file.revision).toMatch(/^[0-9a-f]{40}$/);
    }
    const sft = manifest.stages[0]!;
    expect(sft.arguments).toContain("--model_revision");
    expect(sft.arguments[sft.arguments.indexOf("--model_revision") + 1]).toBe("b".repeat(40));
    const mixer = sft.arguments[sft.arguments.indexOf("--dataset_mixer_list") + 1]!;
    expect(mixer).toBe(manifest.data[0]!.path);
    expect(mixer.endsWith(".parquet")).toBe(true);
    const written = JSON.parse(
      await readFile(join(outputDirectory, "bundle.json"), "utf8"),
    ) as BundleManifest;
    expect(written.stages.map((stage) => stage.stage)).toEqual(["sft", "dpo", "rlvr"]);
    expect(existsSync(join(outputDirectory, "configs/ds_stage3.json"))).toBe(true);
    // Every generated shell script parses, and the Slurm scripts are complete.
    for (const stage of written.stages) {
      for (const script of [stage.commandScript, stage.slurmScript]) {
        const check = spawnSync("bash", ["-n", join(outputDirectory, script)], { encoding: "utf8" });
        expect(check.status, `${script}: ${check.stderr}`).toBe(0);
      }
    }
    const sftSlurm = await readFile(join(outputDirectory, "slurm/sft.sbatch"), "utf8");
    expect(sftSlurm).toContain("#SBATCH --nodes=8");
    expect(sftSlurm).toContain("#SBATCH --gpus-per-node=8");
    expect(sftSlurm).toContain("#SBATCH --partition=gpu");
    expect(sftSlurm).toContain("#SBATCH --time=48:00:00");
    expect(sftSlurm).toContain("bash stages/01-sft.sh");
    expect(sftSlurm).toContain("MAIN_PROCESS_IP=");
    expect(sftSlurm).not.toMatch(/hf_[A-Za-z0-9]/);
    const sftScript = await readFile(join(outputDirectory, "stages/01-sft.sh"), "utf8");
    expect(sftScript).toContain("--num_machines 8 --num_processes 64");
    expect(sftScript).toContain('--machine_rank "$MACHINE_RANK"');
    expect(sftScript).toContain("--reduce_loss sum");
    const rlvrSlurm = await readFile(join(outputDirectory, "slurm/rlvr.sbatch"), "utf8");
    expect(rlvrSlurm).toContain("ray start --head");
    expect(rlvrSlurm).toContain("#SBATCH --nodes=2");
    const ray = JSON.parse(await readFile(join(outputDirectory, "ray/rlvr.json"), "utf8"));
    expect(ray.entrypoint).toBe("bash stages/03-rlvr.sh");
    expect(ray.metadata).toMatchObject({
      recipe: "tulu3-8b",
      stage: "rlvr",
      open_instruct_commit: "89b4f62",
    });
    const readme = await readFile(join(outputDirectory, "README.md"), "utf8");
    expect(readme).toContain("`sbatch slurm/sft.sbatch`");
    expect(readme).toContain("64 GPUs × 1 per device × 2 accumulation = 128");
    const setup = await readFile(join(outputDirectory, "setup.sh"), "utf8");
    expect(setup).toContain("checkout --quiet 89b4f62");
  });

  it("refuses to export without a lock entry for a dataset, naming the field", async () => {
    const outputDirectory = await mkdtemp(join(tmpdir(), "posttrain-bundle-"));
    const { ["dpo.train[0]"]: _dropped, ...datasets } = lock.datasets;
    const error = await exportOpenInstructBundle({
      loaded,
      lock: { ...lock, datasets },
      commit: "e363290",
      outputDirectory,
      options: { reinforcementLayouts: layouts },
      hub: { hubUrl: hub.url, cacheDirectory: cache, accessToken: null },
    }).catch((caught: unknown) => caught);
    expect(PosttrainError.hasCode(error, "export_unpinned")).toBe(true);
    expect((error as Error).message).toContain("stages[1].data.train[0]");
  });

  it("fails before downloading when the named commit cannot express the recipe", async () => {
    const outputDirectory = await mkdtemp(join(tmpdir(), "posttrain-bundle-"));
    const before = hub.requests.length;
    const error = await exportOpenInstructBundle({
      loaded,
      lock,
      commit: "e6c3044",
      outputDirectory,
      hub: { hubUrl: hub.url, cacheDirectory: cache, accessToken: null },
    }).catch((caught: unknown) => caught);
    expect(PosttrainError.hasCode(error, "export_unsupported")).toBe(true);
    expect(hub.requests.length).toBe(before);
  });
});
