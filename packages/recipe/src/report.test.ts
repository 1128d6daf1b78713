import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEventLog } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeEnvironment } from "./environment.js";
import { collectWarnings, writeReports } from "./report.js";
import { defineRecipe, type RecipeInput } from "./schema.js";
import type { RunSummary, StageSummary } from "./summary.js";
import { fixtureRecipeInput } from "./test-support.js";
import { judgeRow } from "./verdict.js";

const chromium = "/usr/bin/chromium";
const recipe = defineRecipe(fixtureRecipeInput() as unknown as RecipeInput);
let runDirectory = "";

function stage(name: string, accuracy: number, type: StageSummary["type"] = "sft"): StageSummary {
  return {
    name,
    type,
    status: "completed",
    fingerprint: "f".repeat(64),
    wallSeconds: 12.5,
    modelDirectory: null,
    modelSha256: null,
    trainingMetrics: { loss: 1.2 },
    evals: {
      fixture_gsm: {
        accuracy: {
          value: accuracy,
          standardError: 0.01,
          confidenceInterval: { lower: accuracy - 0.02, upper: accuracy + 0.02 },
          count: 100,
        },
      },
    },
    evalWallSeconds: 3,
    comparison: {
      passed: false,
      rows: [
        judgeRow({
          row: {
            after: "sft",
            task: "fixture_gsm",
            metric: "accuracy",
            value: 0.1,
            tolerance: 0.01,
            source: "test",
          },
          observed: [accuracy],
        }),
      ],
    },
    error: null,
  };
}

function summaryOf(stages: StageSummary[]): RunSummary {
  return {
    schemaVersion: 1,
    recipe: { name: "fixture", version: "1.2.3", variant: null, packageName: null },
    runId: "test-run",
    runDirectory,
    seed: { root: 7, overridden: false },
    status: "completed",
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    wallSeconds: 60,
    environment: describeEnvironment(),
    lock: {
      lockVersion: 1,
      recipe: { name: "fixture", version: "1.2.3", variant: null, fingerprint: "a".repeat(64) },
      model: { kind: "initialize", fingerprint: "b".repeat(64) },
      tokenizer: {
        source: { kind: "local", directory: "tokenizer" },
        files: [],
        chatTemplateSha256: "c".repeat(64),
      },
      datasets: {},
      evalTasks: {},
      verifiers: { gsm8k: "1.0.0" },
      packages: { "@posttrain/recipe": "0.1.0" },
    },
    stages,
    probes: [{ verifier: "gsm8k", version: "1.0.0", passed: 5, failed: 1, failedProbes: ["hedged-answer"] }],
    claims: [],
    warnings: [],
    expected: { passed: false, rows: 2, failed: 2 },
  };
}

beforeAll(async () => {
  runDirectory = await mkdtemp(join(tmpdir(), "posttrain-report-"));
  for (const [index, name] of ["sft", "rlvr"].entries()) {
    const directory = join(runDirectory, "stages", `${index + 1}-${name}`);
    await mkdir(directory, { recursive: true });
    const events = createEventLog({ path: join(directory, "events.jsonl") });
    for (let step = 1; step <= 5; step += 1)
      events.write({
        type: "step-end",
        step,
        loss: 3 / step,
        learningRate: 1e-3,
        rewards: { gsm8k: step / 5 },
        kl: step * 0.01,
      });
    events.write({ type: "evaluation", step: 5, accuracy: 0.4 });
    if (name === "rlvr")
      events.write({ type: "over-optimisation-warning", step: 4, message: "reward up, held-out down" });
  }
});
afterAll(async () => {
  await rm(runDirectory, { recursive: true, force: true });
});

describe("collectWarnings", () => {
  it("reports monitor warnings and held-out drops beyond the interval after a stage", async () => {
    const stages = [stage("sft", 0.3), stage("rlvr", 0.2, "rlvr")];
    const warnings = await collectWarnings({ runDirectory, stages, recipe });
    expect(warnings).toEqual([
      "rlvr step 4: reward up, held-out down",
      "possible over-optimisation: held-out fixture_gsm accuracy fell from 0.300 to 0.200 after rlvr",
    ]);
    expect(
      await collectWarnings({
        runDirectory,
        stages: [stage("sft", 0.3), stage("rlvr", 0.29, "rlvr")],
        recipe,
      }),
    ).toHaveLength(1);
  });
});

describe("report.md", () => {
  it("has the eval table with expected, delta, CI and verdict, curves, probes, lock and environment", async () => {
    const { markdown } = await writeReports({
      summary: summaryOf([stage("sft", 0.3), stage("rlvr", 0.2, "rlvr")]),
      recipe,
    });
    const text = await readFile(markdown, "utf8");
    expect(text).toContain(
      "| sft | fixture_gsm | accuracy | 0.300 | [0.2800, 0.3200] | tolerance 0.100 ± 0.010 | +0.200 | FAIL |",
    );
    expect(text).toContain("- rewards.gsm8k: 0.200 → 1.000 over 5 points");
    expect(text).toContain("- held-out accuracy: 0.400 → 0.400");
    expect(text).toContain("| gsm8k | 1.0.0 | 5 | 1 | hedged-answer |");
    expect(text).toContain("FAIL (2 of 2 rows outside their band)");
    expect(text).toContain("@posttrain/recipe");
  });
});

describe.skipIf(!existsSync(chromium))("report.html in headless Chromium", () => {
  it("renders offline with every chart drawn", async () => {
    const { html } = await writeReports({
      summary: summaryOf([stage("sft", 0.3), stage("rlvr", 0.2, "rlvr")]),
      recipe,
    });
    const profile = await mkdtemp(join(tmpdir(), "posttrain-chromium-"));
    try {
      const result = spawnSync(
        chromium,
        [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
          `--user-data-dir=${profile}`,
          "--virtual-time-budget=5000",
          "--dump-dom",
          `file://${html}`,
        ],
        { encoding: "utf8", timeout: 50_000 },
      );
      expect(result.status).toBe(0);
      const dom = result.stdout;
      // Two stages × (loss, learningRate, kl, rewards.gsm8k + held-out accuracy) = 10 charts.
      expect(dom).toContain('data-charts-rendered="10"');
      expect((dom.match(/<canvas/g) ?? []).length).toBe(10);
      expect(dom).toContain("sft: loss");
      expect(dom).toContain("rlvr: held-out accuracy");
      expect(dom).toContain("FAIL");
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  });
});
