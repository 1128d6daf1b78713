import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEventLog } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeEnvironment } from "./environment.js";
import {
  collectWarnings,
  describeStatus,
  expectedVerdict,
  exponentialMovingAverage,
  renderMarkdown,
  smoothingWeight,
  summarizeCurve,
  writeReports,
} from "./report.js";
import { defineRecipe, type RecipeInput } from "./schema.js";
import type { RunSummary, StageSummary } from "./summary.js";
import { fixtureRecipeInput } from "./test/index.js";
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
  it("leads with the status and verdict, then evals across stages with item counts, curves by their first/last 10%, probes, provenance, lock", async () => {
    const { markdown } = await writeReports({
      summary: summaryOf([stage("sft", 0.3), stage("rlvr", 0.2, "rlvr")]),
      recipe,
    });
    const text = await readFile(markdown, "utf8");
    const row =
      "| sft | fixture_gsm | accuracy | 0.300 | [0.2800, 0.3200] | 100 | tolerance 0.100 ± 0.010 | +0.200 | FAIL |";
    expect(text).toContain(row);
    // The verdict table comes before the curves, the stages and the lock.
    expect(text.indexOf(row)).toBeLessThan(text.indexOf("## Curves"));
    expect(text.indexOf("FAIL (2 of 2 rows outside their band)")).toBeLessThan(text.indexOf("## Verdict"));
    expect(text).toContain(
      "| fixture_gsm | accuracy | 0.300 [0.2800, 0.3200] (n=100) | 0.200 [0.1800, 0.2200] (n=100) |",
    );
    expect(text).toContain(
      "- rewards.gsm8k: 0.200 (mean of the first 10%) → 1.000 (mean of the last 10%), rising; 5 points, steps 1–5",
    );
    expect(text).not.toMatch(/→ [0-9.]+ over \d+ points/);
    // A series with one point is a table row, not a curve.
    expect(text).toContain("| sft | held-out accuracy | 5 | 0.400 |");
    expect(text).toContain("| gsm8k | 1.0.0 | 5 | 1 | hedged-answer |");
    expect(text).toContain("@posttrain/recipe");
    expect(text).toContain("## Provenance");
  });

  it("a task that allows tools has its `<task>+tools` row next to its own, in both tables", async () => {
    const withTools = defineRecipe({
      ...(fixtureRecipeInput() as unknown as RecipeInput),
      evals: {
        ...(fixtureRecipeInput() as unknown as RecipeInput).evals,
        tasks: recipe.evals.tasks.map((task) => ({ ...task, tools: { allow: ["calculator"] } })),
      },
      expected: [],
    } as RecipeInput);
    const sft = stage("sft", 0.1);
    sft.evals["fixture_gsm+tools"] = {
      accuracy: {
        value: 0.9,
        standardError: 0.01,
        confidenceInterval: { lower: 0.88, upper: 0.92 },
        count: 100,
      },
    };
    sft.comparison = null;
    const { markdown } = await writeReports({ summary: summaryOf([sft]), recipe: withTools });
    const text = await readFile(markdown, "utf8");
    expect(text).toContain("| fixture_gsm | accuracy | 0.100 [0.0800, 0.1200] (n=100) |");
    expect(text).toContain("| fixture_gsm+tools | accuracy | 0.900 [0.8800, 0.9200] (n=100) |");
    expect(text).toContain("| sft | fixture_gsm+tools | accuracy | 0.900 | [0.8800, 0.9200] | 100 |");
  });

  it("says an interrupted run was interrupted and how to resume it", () => {
    const summary = {
      ...summaryOf([
        { ...stage("sft", 0.3), status: "interrupted" as const },
        { ...stage("rlvr", 0.2, "rlvr"), status: "pending" as const },
      ]),
      status: "interrupted" as const,
      recipe: {
        name: "fixture",
        version: "1.2.3",
        variant: "smoke",
        packageName: "@posttrain-recipes/fixture",
      },
      runDirectory: "/runs/fixture-1.2.3-smoke/20260101-000000Z",
    };
    expect(describeStatus(summary)).toBe(
      "interrupted in stage sft; not run: rlvr — continue with `posttrain run @posttrain-recipes/fixture --smoke --resume 20260101-000000Z --runs /runs`",
    );
    // The finished stages' rows passing is no PASS for the run: the headline says not judged.
    const partial = { ...summary, expected: { passed: true, rows: 10, failed: 0 } };
    expect(expectedVerdict(partial)).toBe(
      "expected table: not judged — the run was interrupted (10 of 10 rows of the finished stages inside their band)",
    );
    expect(expectedVerdict({ ...partial, status: "failed" as const })).toMatch(
      /^expected table: not judged — the run failed \(10 of 10/,
    );
    expect(expectedVerdict({ ...partial, status: "completed" as const })).toBe(
      "expected table: PASS (10 of 10 rows inside their band)",
    );
    expect(renderMarkdown({ summary: partial, recipe, curves: [] })).toContain(
      "**expected table: not judged — the run was interrupted",
    );
  });
});

describe("curve smoothing and summaries", () => {
  it("smooths with a debiased EMA (the first point is kept, a constant stays constant)", () => {
    expect(exponentialMovingAverage({ values: [4, 4, 4], weight: 0.9 })).toEqual(
      [4, 4, 4].map(() => expect.closeTo(4, 12)),
    );
    const smoothed = exponentialMovingAverage({ values: [0, 10, 0, 10, 0, 10], weight: 0.5 });
    expect(smoothed[0]).toBe(0);
    expect(Math.max(...smoothed.slice(2))).toBeLessThan(10);
    expect(Math.min(...smoothed.slice(2))).toBeGreaterThan(0);
    expect(exponentialMovingAverage({ values: [1, 2], weight: 0 })).toEqual([1, 2]);
    expect(smoothingWeight(5)).toBe(0);
    expect(smoothingWeight(100)).toBeCloseTo(1 - 2 / 11, 12);
  });

  it("summarises a noisy falling reward by its first and last 10%, not its last point", () => {
    // Falls from ~5 to ~4 with ±1 noise; the last point alone (6) would read as a rise.
    const points: Array<[number, number]> = Array.from({ length: 100 }, (_, index) => [
      index + 1,
      5 - index / 99 + (index % 2 === 0 ? 1 : -1) * 0.5,
    ]);
    points[99] = [100, 6];
    const summary = summarizeCurve(points);
    expect(summary?.trend).toBe("falling");
    expect(summary?.startMean).toBeCloseTo(4.95, 1);
    expect(summary?.endMean).toBeLessThan(4.3);
    const flat = summarizeCurve(Array.from({ length: 50 }, (_, index) => [index, index % 2 === 0 ? 1 : -1]));
    expect(flat?.trend).toBe("flat");
  });
});

describe.skipIf(!existsSync(chromium))("report.html in headless Chromium", () => {
  it("renders offline with the verdict in the first screen, evals across stages and every curve drawn", async () => {
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
          "--window-size=1280,900",
          `--user-data-dir=${profile}`,
          "--virtual-time-budget=5000",
          "--dump-dom",
          `file://${html}`,
        ],
        { encoding: "utf8", timeout: 50_000 },
      );
      expect(result.status).toBe(0);
      const dom = result.stdout;
      // The verdict box (status, PASS/FAIL, the checked rows) ends inside the first 900 px.
      const bottom = Number(/data-verdict-bottom="(\d+)"/.exec(dom)?.[1]);
      expect(bottom).toBeGreaterThan(0);
      expect(bottom).toBeLessThanOrEqual(900);
      const verdict = /<section id="verdict"[\s\S]*?<\/section>/.exec(dom)?.[0] ?? "";
      expect(verdict).toContain("expected table: FAIL (2 of 2 rows outside their band)");
      expect(verdict).toContain("[0.2800, 0.3200]");
      expect(dom.indexOf('id="verdict"')).toBeLessThan(dom.indexOf('id="charts"'));
      // Two stages × (loss, learningRate, kl, rewards.gsm8k) with 5 points each; held-out accuracy has one point: a row.
      expect(dom).toContain('data-charts-rendered="8"');
      expect(dom).toContain('data-across-rendered="1"');
      expect(dom).toContain("sft: loss");
      expect(dom).not.toContain('data-series="sft: held-out accuracy"');
      expect(dom).toContain("held-out accuracy</td>");
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  });
});
