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

describe("posttrain export", () => {
  it("--dry-run --json: Tulu 3 8B at the release commit with the published launch and flags", async () => {
    const result = await posttrain(
      "export",
      tulu3,
      "--engine",
      "open-instruct",
      "--commit",
      "e363290",
      "--start-from",
      "published",
      "--reward-model",
      "rlvr=allenai/Llama-3.1-Tulu-3-8B-RM",
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
    expect(flag(1, "--dpo_loss_type")).toBe("dpo_norm");
    expect(flag(1, "--model_name_or_path")).toBe("allenai/Llama-3.1-Tulu-3-8B-SFT");
    expect(flag(2, "--kl_estimator")).toBe("kl1");
    expect(preview.stages.map((stage) => stage.batch.effectiveBatchSize)).toEqual([128, 128, 224]);
  });

  it("fails (exit 1) naming the fields a commit cannot express; exit 2 on an unknown engine", async () => {
    const unsupported = await posttrain(
      "export",
      tulu3,
      "--engine",
      "open-instruct",
      "--commit",
      "e6c3044",
      "--dry-run",
    );
    expect(unsupported.status).toBe(1);
    expect(unsupported.stderr).toContain("stages[0].hyperparameters.reduction");
    const engine = await posttrain("export", tulu3, "--engine", "torchtune", "--dry-run");
    expect(engine.status).toBe(2);
    expect(engine.stderr).toContain("open-instruct");
  });
});
