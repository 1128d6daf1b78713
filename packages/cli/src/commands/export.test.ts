import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

// Runs the built `posttrain` bin (turbo's test task depends on build).
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const tulu3 = fileURLToPath(new URL("../../../../recipes/tulu3-8b", import.meta.url));
const run = promisify(execFile);
const posttrain = async (...args: string[]) =>
  run(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } }).then(
    (result) => ({ status: 0, ...result }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      status: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );

const olmo2 = fileURLToPath(new URL("../../../../recipes/olmo2-1b-instruct", import.meta.url));

describe("posttrain export", () => {
  it("--dry-run --json: Tulu 3 8B at its pinned release commit with the published launch and flags", async () => {
    const result = await posttrain(
      "export",
      tulu3,
      "--engine",
      "open-instruct",
      "--start-from",
      "published",
      "--dry-run",
      "--json",
    );
    expect(result.status, result.stderr).toBe(0);
    const preview = JSON.parse(result.stdout) as {
      openInstructCommit: string;
      stages: Array<{
        stage: string;
        script: string;
        arguments: string[];
        batch: { effectiveBatchSize: number };
      }>;
    };
    // No --commit: the recipe's referenceImplementation.commit.
    expect(preview.openInstructCommit).toBe("e363290");
    expect(preview.stages.map((stage) => stage.script)).toEqual([
      "open_instruct/finetune.py",
      "open_instruct/dpo_tune.py",
      "open_instruct/ppo_vllm_thread_ray_gtrl.py",
    ]);
    const flag = (stage: number, name: string) => {
      const argv = preview.stages[stage]!.arguments;
      return argv[argv.indexOf(name) + 1];
    };
    expect(flag(0, "--reduce_loss")).toBe("sum");
    expect(Number(flag(0, "--learning_rate"))).toBe(5e-6);
    expect(flag(0, "--push_to_hub")).toBe("False");
    expect(flag(1, "--dpo_loss_type")).toBe("dpo_norm");
    expect(flag(1, "--model_name_or_path")).toBe("allenai/Llama-3.1-Tulu-3-8B-SFT");
    expect(flag(1, "--tokenizer_name")).toBe("allenai/Llama-3.1-Tulu-3-8B-SFT");
    expect(flag(2, "--kl_estimator")).toBe("kl1");
    expect(flag(2, "--reward_model_path")).toBe("allenai/Llama-3.1-Tulu-3-8B-RM");
    expect(flag(2, "--num_evals")).toBe("3");
    expect(preview.stages.map((stage) => stage.batch.effectiveBatchSize)).toEqual([128, 128, 224]);
  });

  it("--check prints ours vs published per stage; exit 0 when faithful, 1 when not", async () => {
    const check = await posttrain("export", olmo2, "--engine", "open-instruct", "--check");
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toContain("olmo2-1b-instruct on open-instruct 89b4f62");
    expect(check.stdout).toContain(
      "rlvr-mixed: open_instruct/grpo_vllm_thread_ray_gtrl.py at 89b4f62 vs docs/olmo2.md:236-281 at 89b4f62 — faithful",
    );
    expect(check.stdout).toMatch(/--dpo_beta\s+5\s+5\s+same/);
    expect(check.stdout).toMatch(/--total_episodes\s+1999872\s+2000000\s+deliberate/);
    const json = await posttrain("export", tulu3, "--engine", "open-instruct", "--check", "--json");
    const parsed = JSON.parse(json.stdout) as {
      faithful: boolean;
      stages: Array<{ stage: string; faithful: boolean }>;
    };
    expect(parsed.faithful).toBe(true);
    expect(parsed.stages.map((stage) => stage.stage)).toEqual(["sft", "dpo", "rlvr"]);
    // At the OLMo 2 commit the Tulu 3 DPO runs dpo_tune_cache.py, not the published dpo_tune.py.
    const other = await posttrain(
      "export",
      tulu3,
      "--engine",
      "open-instruct",
      "--commit",
      "89b4f62",
      "--check",
    );
    expect(other.status).toBe(1);
    expect(other.stdout).toContain("NOT FAITHFUL");
    expect(other.stdout).toMatch(
      /\(script\)\s+open_instruct\/dpo_tune_cache\.py\s+open_instruct\/dpo_tune\.py\s+different/,
    );
  });

  it("fails (exit 1) naming the fields a commit cannot express; exit 2 on an unknown engine", async () => {
    const unsupported = await posttrain(
      "export",
      olmo2,
      "--engine",
      "open-instruct",
      "--commit",
      "e363290",
      "--dry-run",
    );
    expect(unsupported.status).toBe(1);
    expect(unsupported.stderr).toContain("stages[2].type");
    const unknown = await posttrain(
      "export",
      tulu3,
      "--engine",
      "open-instruct",
      "--commit",
      "1a2b3c4",
      "--dry-run",
    );
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("no flag table for open-instruct commit 1a2b3c4");
    const engine = await posttrain("export", tulu3, "--engine", "torchtune", "--dry-run");
    expect(engine.status).toBe(2);
    expect(engine.stderr).toContain("open-instruct");
  });
});
