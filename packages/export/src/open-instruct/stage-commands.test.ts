/**
 * Golden tests: each recipe × stage exported at its release commit equals the published
 * command value for value (published-commands.ts, copied from docs/tulu3.md at e363290 and
 * docs/olmo2.md at 89b4f62), every argv parses at the target commit (flag-tables.generated.ts,
 * read from that commit's dataclasses), and a wrong, missing or mistyped flag fails.
 */
import { PosttrainError } from "@posttrain/core";
import type { LoadedRecipe, Recipe } from "@posttrain/recipe";
import { recipe as olmo2 } from "@posttrain-recipes/olmo2-1b-instruct";
import { recipe as tulu3 } from "@posttrain-recipes/tulu3-8b";
import { describe, expect, it } from "vitest";
import { previewOpenInstructExport } from "./bundle.js";
import { checkOpenInstructExport } from "./check.js";
import { findOpenInstructCommit, type OpenInstructCommit, openInstructCommits } from "./commits.js";
import { compareWithPublished } from "./fidelity.js";
import { argumentGroups, scriptFlagTable, validateArguments } from "./flag-validation.js";
import { deepspeedConfig } from "./launch.js";
import { findPublishedCommand, publishedCommands } from "./published-commands.js";
import { openInstructStageCommands, type StageCommand } from "./stage-commands.js";

const loadedOf = (recipe: Recipe): LoadedRecipe => ({
  recipe,
  packageDirectory: "/nonexistent",
  modulePath: "/nonexistent/recipe.js",
  packageName: `@posttrain-recipes/${recipe.name}`,
  packageVersion: recipe.version,
  variant: null,
});
const commit = (sha: string): OpenInstructCommit => {
  const table = findOpenInstructCommit({ commit: sha });
  if (table === undefined) throw new Error(`no table ${sha}`);
  return table;
};
const value = (command: StageCommand, flag: string) => {
  const group = argumentGroups(command.arguments).find((candidate) => candidate.flag === flag);
  expect(group, `${command.stage}: ${flag} missing`).toBeDefined();
  return group!.values.join(" ");
};

/**
 * Facts copied by hand from the docs (line of each flag at the commit), checked on our argv
 * independently of published-commands.ts. Numbers compare by value.
 */
const facts: Record<string, Array<[flag: string, value: string, line: number]>> = {
  "tulu3-8b/sft": [
    ["--learning_rate", "5e-06", 40],
    ["--lr_scheduler_type", "linear", 41],
    ["--warmup_ratio", "0.03", 42],
    ["--weight_decay", "0.0", 43],
    ["--num_train_epochs", "2", 44],
    ["--reduce_loss", "sum", 49],
    ["--checkpointing_steps", "epoch", 52],
    ["--seed", "123", 55],
    ["--max_seq_length", "4096", 36],
  ],
  "tulu3-8b/dpo": [
    ["--tokenizer_name", "allenai/Llama-3.1-Tulu-3-8B-SFT", 144],
    ["--max_seq_length", "2048", 145],
    ["--gradient_accumulation_steps", "16", 148],
    ["--learning_rate", "5e-07", 149],
    ["--warmup_ratio", "0.1", 151],
    ["--dpo_loss_type", "dpo_norm", 163],
    ["--dpo_beta", "5", 164],
    ["--checkpointing_steps", "1000", 165],
    ["--use_lora", "False", 162],
  ],
  "tulu3-8b/rlvr": [
    ["--reward_model_path", "allenai/Llama-3.1-Tulu-3-8B-RM", 273],
    ["--learning_rate", "3e-7", 280],
    ["--total_episodes", "10000000", 281],
    ["--penalty_reward_value", "-10.0", 282],
    ["--local_rollout_forward_batch_size", "2", 285],
    ["--local_mini_batch_size", "32", 286],
    ["--local_rollout_batch_size", "32", 287],
    ["--actor_num_gpus_per_node", "7", 288],
    ["--beta", "0.05", 290],
    ["--seed", "3", 293],
    ["--num_evals", "3", 294],
    ["--save_freq", "100", 295],
    ["--stop_token", "eos", 275],
  ],
  "olmo2-1b-instruct/sft": [
    ["--tokenizer_name", "allenai/OLMo-2-1124-7B", 68],
    ["--use_slow_tokenizer", "False", 70],
    ["--add_bos", "", 71],
    ["--per_device_train_batch_size", "2", 75],
    ["--gradient_accumulation_steps", "8", 76],
    ["--learning_rate", "3e-5", 77],
    ["--reduce_loss", "sum", 82],
    ["--seed", "1", 86],
  ],
  "olmo2-1b-instruct/dpo": [
    ["--learning_rate", "2.5e-6", 105],
    ["--seed", "111", 106],
    ["--tokenizer_name_or_path", "allenai/OLMo-2-1124-13B", 110],
    ["--per_device_train_batch_size", "8", 113],
    ["--gradient_accumulation_steps", "2", 114],
    ["--dpo_loss_type", "dpo_norm", 128],
    ["--dpo_beta", "5", 129],
  ],
  "olmo2-1b-instruct/rlvr-mixed": [
    ["--beta", "0.01", 238],
    ["--local_mini_batch_size", "32", 239],
    ["--number_samples_per_prompt", "16", 240],
    ["--local_rollout_batch_size", "4", 241],
    ["--kl_estimator", "kl3", 242],
    ["--learning_rate", "5e-7", 243],
    ["--tokenizer_name_or_path", "allenai/OLMo-2-1124-7B-DPO", 281],
    ["--per_device_train_batch_size", "1", 266],
    ["--actor_num_gpus_per_node", "4 8", 268],
    ["--vllm_tensor_parallel_size", "4", 270],
    ["--lr_scheduler_type", "constant", 271],
    ["--num_evals", "100", 274],
    ["--save_freq", "200", 275],
    ["--deepspeed_stage", "2", 265],
  ],
  "olmo2-1b-instruct/rlvr-math": [
    ["--beta", "0.01", 289],
    ["--kl_estimator", "kl3", 293],
    ["--actor_num_gpus_per_node", "4 8", 317],
    ["--num_evals", "100", 323],
    ["--save_freq", "200", 324],
  ],
};
const same = (ours: string, published: string) =>
  ours === published || (Number.isFinite(Number(ours)) && ours !== "" && Number(ours) === Number(published));

describe.each([
  { recipe: tulu3, release: "e363290", script: { sft: "finetune.py", dpo: "dpo_tune.py" } },
  { recipe: olmo2, release: "89b4f62", script: { sft: "finetune.py", dpo: "dpo_tune_cache.py" } },
])("$recipe.name at its release commit $release", ({ recipe, release }) => {
  const check = checkOpenInstructExport({ loaded: loadedOf(recipe) });
  const { commands } = previewOpenInstructExport({ loaded: loadedOf(recipe) });

  it("the recipe pins the commit and the export uses it", () => {
    expect(recipe.referenceImplementation?.commit.startsWith(release)).toBe(true);
    expect(check.commit.commit).toBe(release);
  });

  it.each(recipe.stages.map((stage) => stage.name))(
    "%s equals the published command value for value",
    (name) => {
      const stage = check.stages.find((candidate) => candidate.stage === name)!;
      const command = commands.find((candidate) => candidate.stage === name)!;
      expect(stage.problems).toEqual([]);
      const unexplained = stage.rows.filter((row) => row.status === "different" || row.status === "missing");
      expect(unexplained).toEqual([]);
      expect(stage.faithful).toBe(true);
      const published = findPublishedCommand({ id: `${recipe.name}/${name}` })!;
      expect(command.script).toBe(published.script);
      expect(command.deepspeedStage).toBe(published.deepspeedStage);
      if (published.processes !== null) expect(command.batch.processes).toBe(published.processes);
      // Every flag the published command passes appears as a row, with its reason when it differs.
      const table = scriptFlagTable({ commit: release, script: command.script })!;
      for (const group of argumentGroups(published.arguments)) {
        const canonical = group.flag.replace(/^--(no_)?/, "");
        const row = stage.rows.find(
          (candidate) => candidate.flag === `--${canonical}` || candidate.flag === group.flag,
        );
        expect(row, `${group.flag} has no row`).toBeDefined();
        if (row!.status !== "same")
          expect(row!.reason, `${group.flag}: ${row!.status} without reason`).toBeTruthy();
        expect(table.flags[canonical] ?? table.flags[group.flag.slice(2)]).toBeDefined();
      }
      for (const [flag, expected, line] of facts[`${recipe.name}/${name}`] ?? []) {
        const ours = value(command, flag);
        expect(same(ours, expected), `${flag} (docs line ${line}): ours ${ours}, published ${expected}`).toBe(
          true,
        );
      }
      // No upload, no wandb.
      expect(value(command, "--push_to_hub")).toBe("False");
      expect(command.arguments).not.toContain("--with_tracking");
    },
  );

  it("the recipe records the real optimizer behaviour: clipping 1.0 and AdamW decay 0.01 on the Ray scripts", () => {
    for (const stage of recipe.stages) {
      expect(stage.hyperparameters.maxGradientNorm).toBe(1);
      if (stage.type === "ppo" || stage.type === "rlvr")
        expect(stage.hyperparameters.adamW.weightDecay).toBe(0.01);
      else expect(stage.hyperparameters.adamW.weightDecay).toBe(0);
    }
  });
});

describe("each recipe at the other supported commit", () => {
  it("tulu3-8b at 89b4f62: every argv parses there (list mixers, dpo_tune_cache.py), and --check shows the script change", () => {
    const check = checkOpenInstructExport({ loaded: loadedOf(tulu3), commit: "89b4f62" });
    expect(check.commit.commit).toBe("89b4f62");
    for (const stage of check.stages) expect(stage.problems).toEqual([]);
    const dpo = check.stages.find((stage) => stage.stage === "dpo")!;
    expect(dpo.script).toBe("open_instruct/dpo_tune_cache.py");
    expect(dpo.rows[0]).toMatchObject({ flag: "(script)", status: "different" });
    expect(check.faithful).toBe(false);
  });

  it("olmo2-1b-instruct at e363290: refused, naming the stages the release cannot run", () => {
    let error: unknown;
    try {
      previewOpenInstructExport({ loaded: loadedOf(olmo2), commit: "e363290" });
    } catch (caught) {
      error = caught;
    }
    expect(PosttrainError.hasCode(error, "export_unsupported")).toBe(true);
    const fields = (error as PosttrainError).details?.fields as string[];
    expect(fields).toContain("stages[2].type");
    expect(fields).toContain("stages[3].type");
  });

  it("olmo2-1b-instruct's GRPO on grpo_fast.py at 89b4f62 when the reference does not name the Ray script", () => {
    const reference = olmo2.referenceImplementation!;
    const { "rlvr-mixed": _mixed, "rlvr-math": _math, ...trainingStages } = reference.stages;
    const fast = {
      ...olmo2,
      referenceImplementation: { ...reference, stages: trainingStages },
      stages: olmo2.stages.map((stage) =>
        stage.type === "rlvr"
          ? {
              ...stage,
              // grpo_fast.py at 89b4f62 has no held-out evaluation cadence flag: no monitor.
              hyperparameters: {
                ...stage.hyperparameters,
                monitor: null,
                batch: {
                  devices: 8,
                  perDeviceBatchSize: 8,
                  gradientAccumulationSteps: 6,
                  effectiveBatchSize: 384,
                },
              },
            }
          : stage,
      ),
    };
    const { commands } = previewOpenInstructExport({ loaded: loadedOf(fast) });
    const rlvr = commands[2]!;
    expect(rlvr.script).toBe("open_instruct/grpo_fast.py");
    expect(validateArguments({ commit: "89b4f62", script: rlvr.script, arguments: rlvr.arguments })).toEqual(
      [],
    );
    expect(value(rlvr, "--clip_lower")).toBe("0.2");
    expect(value(rlvr, "--num_mini_batches")).toBe("2");
    expect(value(rlvr, "--weight_decay")).toBe("0.01");
    expect(rlvr.arguments).toContain("--add_bos");
  });

  it("a commit without a flag table is refused", () => {
    expect(() => previewOpenInstructExport({ loaded: loadedOf(tulu3), commit: "1a2b3c4" })).toThrow(
      /no flag table for open-instruct commit 1a2b3c4/,
    );
  });
});

describe("flag checks against the commit's dataclasses", () => {
  it("every published command parses at its commit", () => {
    for (const published of publishedCommands)
      expect(
        validateArguments({
          commit: published.commit,
          script: published.script,
          arguments: published.arguments,
        }),
        published.id,
      ).toEqual([]);
  });

  it("every flag name of every commit table exists in that commit's generated table", () => {
    for (const table of openInstructCommits)
      for (const kind of ["sft", "dpo", "ppo", "grpo", "grpoRay"] as const) {
        const script = table.scripts[kind];
        const names = table[kind] as Record<string, string | null> | null;
        if (script === null || names === null) continue;
        const flags = scriptFlagTable({ commit: table.commit, script })!.flags;
        for (const [logical, name] of Object.entries(names))
          if (name !== null)
            expect(flags[name.slice(2)], `${table.commit} ${script} ${logical} ${name}`).toBeDefined();
      }
  });

  it("rejects a flag the commit does not have, a mistyped value, a value outside a Literal, a missing value", () => {
    const script = "open_instruct/ppo_vllm_thread_ray_gtrl.py";
    const problems = (argv: string[]) => validateArguments({ commit: "e363290", script, arguments: argv });
    // The 89b4f62 name at the release: the release PPO script only knows --dataset_mixer.
    expect(problems(["--dataset_mixer_list", "x.jsonl", "1.0"])[0]?.message).toMatch(
      /has no flag --dataset_mixer_list/,
    );
    expect(problems(["--num_evals", "3.5"])[0]?.message).toMatch(
      /ppo_vllm_thread_ray_gtrl\.py:\d+\): "3\.5" is not an int/,
    );
    expect(problems(["--beta", "high"])[0]?.message).toMatch(/not a float/);
    expect(problems(["--kl_estimator", "kl4"])[0]?.message).toMatch(/not one of kl1, kl2, kl3/);
    expect(problems(["--seed"])[0]?.message).toMatch(/exactly one value/);
    expect(problems(["--apply_verifiable_reward", "maybe"])[0]?.message).toMatch(/not a bool/);
    // argparse's forms: bare bool, --no_ for a True default, a unique prefix.
    expect(problems(["--non_stop_penalty", "--no_push_to_hub", "--vf_coef", "0.1"])).toEqual([]);
    expect(problems(["--local_rollout_forward", "2"])).toEqual([]);
    expect(problems(["--local_rollout", "2"])[0]?.message).toMatch(/has no flag/);
  });

  it("a recipe value the published run did not use shows as different; a dropped published flag as missing", () => {
    const { commands } = previewOpenInstructExport({ loaded: loadedOf(tulu3) });
    const dpo = commands.find((command) => command.stage === "dpo")!;
    const published = findPublishedCommand({ id: "tulu3-8b/dpo" })!;
    const reference = tulu3.referenceImplementation?.stages.dpo;
    const compare = (argv: string[]) =>
      compareWithPublished({
        command: { ...dpo, arguments: argv },
        commit: "e363290",
        published,
        ...(reference === undefined ? {} : { reference }),
        localSources: { "data/dpo/train-0.jsonl": "allenai/llama-3.1-tulu-3-8b-preference-mixture" },
        chainedFrom: { path: "output/sft", repo: "allenai/Llama-3.1-Tulu-3-8B-SFT" },
      });
    expect(compare(dpo.arguments).faithful).toBe(true);
    const beta = dpo.arguments.indexOf("--dpo_beta");
    const changed = compare(dpo.arguments.map((part, index) => (index === beta + 1 ? "0.1" : part)));
    expect(changed.faithful).toBe(false);
    expect(changed.rows.find((row) => row.flag === "--dpo_beta")).toMatchObject({
      ours: "0.1",
      published: "5",
      status: "different",
    });
    // --use_slow_tokenizer defaults to True there: dropping it keeps the value but not the command.
    const slow = dpo.arguments.indexOf("--use_slow_tokenizer");
    const dropped = compare(dpo.arguments.filter((_, index) => index !== slow));
    expect(dropped.rows.find((row) => row.flag === "--use_slow_tokenizer")?.status).toBe("missing");
    expect(dropped.faithful).toBe(false);
    const bad = compare([...dpo.arguments, "--dpo_bta", "5"]);
    expect(bad.problems[0]?.message).toMatch(/has no flag --dpo_bta/);
    expect(bad.faithful).toBe(false);
  });

  it("an export a commit cannot parse fails naming the stage (a k4 KL estimator at the release)", () => {
    const rlvr = tulu3.stages[2]!;
    if (rlvr.type !== "ppo") throw new Error("ppo stage");
    const k4 = {
      ...tulu3,
      stages: [
        {
          ...rlvr,
          hyperparameters: { ...rlvr.hyperparameters, kl: { beta: 0.05, estimator: "k4" as const } },
        },
      ],
    };
    expect(() =>
      openInstructStageCommands({
        recipe: k4,
        commit: commit("e363290"),
        datasetPaths: { "rlvr.train[0]": ["data/rlvr/train-0.jsonl"] },
      }),
    ).toThrow(/stages\[0\].*--kl_estimator.*not one of kl1, kl2, kl3/s);
  });

  it("DeepSpeed configs as published: ZeRO-2 as stage2_accelerate.conf (89b4f62), clipping left to accelerate", () => {
    const zero2 = deepspeedConfig({ stage: 2 });
    expect(zero2.zero_optimization).toEqual({
      stage: 2,
      overlap_comm: true,
      contiguous_gradients: true,
      reduce_bucket_size: "auto",
    });
    expect(zero2.gradient_clipping).toBe("auto");
    expect(deepspeedConfig({ stage: 3 }).zero_optimization).toMatchObject({ stage: 3, sub_group_size: 1e9 });
  });

  it("refuses a reference naming a stage the recipe does not have", () => {
    const reference = tulu3.referenceImplementation!;
    const renamed = {
      ...tulu3,
      referenceImplementation: { ...reference, stages: { ...reference.stages, rl: reference.stages.rlvr! } },
    };
    expect(() => previewOpenInstructExport({ loaded: loadedOf(renamed) })).toThrow(
      /referenceImplementation\.stages\.rl: the reference names a stage "rl"/,
    );
  });

  it("refuses a batch that does not multiply out and non-default AdamW betas", () => {
    const sft = tulu3.stages[0]!;
    if (sft.type !== "sft") throw new Error("expected sft");
    const withBatch = (batch: typeof sft.hyperparameters.batch) => ({
      ...tulu3,
      stages: [{ ...sft, hyperparameters: { ...sft.hyperparameters, batch } }],
    });
    const paths = { "sft.train[0]": ["data/sft/train-0.jsonl"] };
    expect(() =>
      openInstructStageCommands({
        recipe: withBatch({ ...sft.hyperparameters.batch, effectiveBatchSize: 256 }),
        commit: commit("e363290"),
        datasetPaths: paths,
      }),
    ).toThrow(/effectiveBatchSize is 256/);
    const betas = {
      ...tulu3,
      stages: [
        {
          ...sft,
          hyperparameters: { ...sft.hyperparameters, adamW: { ...sft.hyperparameters.adamW, beta2: 0.95 } },
        },
      ],
    };
    expect(() =>
      openInstructStageCommands({ recipe: betas, commit: commit("e363290"), datasetPaths: paths }),
    ).toThrow(/stages\[0\]\.hyperparameters\.adamW\.beta2/);
  });
});
