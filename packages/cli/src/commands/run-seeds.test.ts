// `posttrain run --seed/--seeds` through the built bin on the micro recipe's smoke variant (the
// real trainers and evals): the root seed reaches every stage, and a seed is bit-identical twice.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const root = fileURLToPath(new URL("../../../../", import.meta.url));
const micro = join(root, "recipes/micro");
const posttrain = (args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    cwd: root,
    env: { ...process.env, CI: "true", HF_HUB_OFFLINE: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });

/** Training metrics without the wall-clock ones (tokens per second), which differ run to run. */
const withoutTimings = (metrics: Record<string, number | null>) =>
  Object.fromEntries(Object.entries(metrics).filter(([key]) => !/persecond|seconds|elapsed/i.test(key)));

let scratch = "";
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "posttrain-cli-seeds-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const ready = existsSync(join(micro, "dist/recipe.js")) && existsSync(join(micro, "recipe.smoke.lock.json"));

describe.skipIf(!ready)("posttrain run --seed / --seeds (micro smoke)", () => {
  it("two seeds give different models at every stage, both recorded; the same seed again is bit-identical", {
    timeout: 900_000,
  }, async () => {
    const runs = join(scratch, "runs");
    const many = posttrain(["run", micro, "--smoke", "--seeds", "1,2", "--runs", runs, "--json"]);
    expect(many.status, many.stderr).toBe(0);
    const aggregate = JSON.parse(many.stdout);
    expect(aggregate).toMatchObject({ kind: "seeds", seeds: [1, 2], status: "completed" });
    const [first, second] = aggregate.runs as Array<{ seed: number; modelSha256: Record<string, string> }>;
    for (const stage of ["sft", "dpo", "rlvr"]) {
      expect(first?.modelSha256[stage], stage).toMatch(/^[0-9a-f]{64}$/);
      expect(second?.modelSha256[stage], stage).toMatch(/^[0-9a-f]{64}$/);
      expect(first?.modelSha256[stage], `${stage}: seed 1 and seed 2 give the same model`).not.toBe(
        second?.modelSha256[stage],
      );
    }
    // Each seed's folder records its root seed and the overridden recipe.
    for (const seed of [1, 2]) {
      const folder = join(aggregate.runDirectory, `seed-${seed}`);
      const summary = JSON.parse(await readFile(join(folder, "summary.json"), "utf8"));
      expect(summary.seed).toEqual({ root: seed, overridden: true });
      const recipe = JSON.parse(await readFile(join(folder, "recipe.json"), "utf8"));
      expect(recipe.seed).toBe(seed);
      expect(recipe.model.seed).toBe(seed);
      for (const stage of recipe.stages) expect(stage.hyperparameters.seed, stage.name).toBe(seed);
      expect(await readFile(join(folder, "report.md"), "utf8")).toContain(`**Root seed:** ${seed} (--seed)`);
    }
    const report = await readFile(join(aggregate.runDirectory, "report.md"), "utf8");
    expect(report).toContain("| seed 1 | seed 2 |");

    // The same root seed in a separate run: the same model bytes at every stage and the same evals.
    const again = posttrain(["run", micro, "--smoke", "--seed", "2", "--runs", runs, "--json"]);
    expect(again.status, again.stderr).toBe(0);
    const single = JSON.parse(again.stdout);
    expect(single.seed).toEqual({ root: 2, overridden: true });
    const seedTwo = JSON.parse(
      await readFile(join(aggregate.runDirectory, "seed-2", "summary.json"), "utf8"),
    );
    for (const [index, stage] of single.stages.entries()) {
      expect(stage.modelSha256, stage.name).toBe(second?.modelSha256[stage.name]);
      expect(stage.evals, stage.name).toEqual(seedTwo.stages[index].evals);
      expect(withoutTimings(stage.trainingMetrics), stage.name).toEqual(
        withoutTimings(seedTwo.stages[index].trainingMetrics),
      );
    }

    // One CI method: `posttrain eval` on the run's SFT model gives the interval the run reports
    // (the same bootstrap seed, 0, whatever the run's root seed).
    const sftModel = single.stages[0].modelDirectory as string;
    const evaluated = posttrain([
      "eval",
      "--task",
      "micro_ifeval",
      "--model",
      sftModel,
      "--data",
      join(root, "datasets/micro"),
      "--limit",
      "4",
      "--output",
      join(scratch, "eval"),
      "--json",
    ]);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    const standalone = JSON.parse(evaluated.stdout).tasks[0].metrics.accuracy;
    const inRun = JSON.parse(
      await readFile(join(single.runDirectory, "evals", "sft", "results.json"), "utf8"),
    ).tasks.find((task: { task: { name: string } }) => task.task.name === "micro_ifeval").metrics.accuracy;
    expect(inRun.confidenceInterval).toEqual(standalone.confidenceInterval);
    expect(inRun.confidenceInterval.seed).toBe(0);
    expect(single.stages[0].evals.micro_ifeval.accuracy.confidenceInterval).toEqual({
      lower: standalone.confidenceInterval.lower,
      upper: standalone.confidenceInterval.upper,
    });
  });

  it("refuses a malformed seed and --seed with --seeds (exit 2)", () => {
    expect(posttrain(["run", micro, "--smoke", "--seed", "-1"]).status).toBe(2);
    expect(posttrain(["run", micro, "--smoke", "--seeds", "1,1"]).status).toBe(2);
    expect(posttrain(["run", micro, "--smoke", "--seed", "1", "--seeds", "2"]).status).toBe(2);
  });
});
