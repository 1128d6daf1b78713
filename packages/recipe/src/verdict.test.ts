import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { loadRecipe } from "./load.js";
import { computeLock, writeLock } from "./lock.js";
import { defineRecipe, type RecipeInput, type RecordingMachine } from "./schema.js";
import { fixtureRecipeInput, writeFixturePackage } from "./test/index.js";
import { judgeClaim, judgeExpected, judgeRow, publishProblems, rowBand } from "./verdict.js";

const machines: RecordingMachine[] = [
  { cpu: "Intel Xeon (test)", instructionSets: ["avx2", "avx512f"], threads: 2 },
];
const perSeed = (values: number[]) =>
  Object.fromEntries(values.map((value, index) => [String(index + 1), value]));

// Two stages (sft, then polish) and per-seed values after each: polish beats sft on every seed.
const sftValues = [0.5, 0.52, 0.47, 0.55, 0.49, 0.51];
const polishValues = [0.6, 0.63, 0.58, 0.64, 0.57, 0.62];

function twoStageInput(overrides: { polish?: number[]; claims?: unknown[] } = {}): Record<string, unknown> {
  const input = fixtureRecipeInput();
  const [sft] = input["stages"] as Array<Record<string, unknown>>;
  input["stages"] = [sft, { ...structuredClone(sft), name: "polish" }];
  const row = (after: string, values: number[]) => ({
    after,
    task: "fixture_gsm",
    metric: "accuracy",
    perSeed: perSeed(values),
    machines,
    codeVersion: "1.2.3",
    source: "synthetic",
  });
  input["expected"] = [row("sft", sftValues), row("polish", overrides.polish ?? polishValues)];
  input["claims"] = overrides.claims ?? [
    {
      statement: "polish beats sft on fixture_gsm",
      task: "fixture_gsm",
      metric: "accuracy",
      better: "polish",
      worse: "sft",
    },
  ];
  return input;
}

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

describe("expected rows as seed distributions", () => {
  const recipe = defineRecipe(twoStageInput() as RecipeInput);
  const sftRow = recipe.expected[0]!;

  it("a run inside the prediction interval passes, one outside fails, and the verdict says why", () => {
    const band = rowBand({ row: sftRow, runs: 1 });
    expect(band.kind).toBe("seeds");
    expect(band.center).toBeCloseTo(0.50667, 4);
    const inside = judgeRow({ row: sftRow, observed: [0.53] });
    expect(inside).toMatchObject({ passed: true, reason: "inside_band", kind: "seeds" });
    expect(inside.explanation).toContain("inside");
    expect(inside.explanation).toContain("prediction interval for one run from 6 seeds");
    expect(inside.explanation).toContain("Intel Xeon (test)");
    const below = judgeRow({ row: sftRow, observed: [0.4] });
    expect(below).toMatchObject({ passed: false, reason: "below_band" });
    expect(below.explanation).toMatch(/below \(by 0\.\d{3}\)/);
    expect(judgeRow({ row: sftRow, observed: [0.65] }).reason).toBe("above_band");
    expect(judgeRow({ row: sftRow, observed: [null] })).toMatchObject({ passed: false, reason: "missing" });
  });

  it("the band for the mean of k runs is tighter: a mean that one run may reach fails as a 5-seed mean", () => {
    const one = rowBand({ row: sftRow, runs: 1 }).band;
    const five = rowBand({ row: sftRow, runs: 5 }).band;
    expect(five.upper - five.lower).toBeLessThan(one.upper - one.lower);
    const value = (one.upper + five.upper) / 2; // inside one run's band, outside the 5-run mean's
    expect(judgeRow({ row: sftRow, observed: [value] }).passed).toBe(true);
    expect(judgeRow({ row: sftRow, observed: [value, value, value, value, value] }).passed).toBe(false);
  });

  it("seeds that all agree (every seed 1.0) leave the item-level noise when the row gives its item count", () => {
    const agreeing = {
      after: "sft",
      task: "t",
      metric: "m",
      perSeed: perSeed([1, 1, 1, 1, 1]),
      machines,
      codeVersion: "1",
      source: "s",
    };
    // Without the count the band is the point 1.0: a one-item miss on another CPU fails.
    expect(judgeRow({ row: agreeing, observed: [52 / 53] }).passed).toBe(false);
    const counted = judgeRow({ row: { ...agreeing, items: 53 }, observed: [52 / 53] });
    expect(counted.passed).toBe(true);
    expect(counted.explanation).toContain("raised to the item-level");
    // Agresti–Coull: p̃ = 55/57, sd = √(p̃(1 − p̃)/53); band = 1 ± t(0.975, 4) · sd · √(1 + 1/5).
    const sd = Math.sqrt(((55 / 57) * (2 / 57)) / 53);
    expect(counted.band.lower).toBeCloseTo(1 - 2.7764 * sd * Math.sqrt(1.2), 3);
    expect(judgeRow({ row: { ...agreeing, items: 53 }, observed: [0.85] }).passed).toBe(false);
    // A seed spread above the item-level noise is used as it is.
    // (RLVR micro_gsm on the issue's 8 seeds: sd 0.088 over 147 items, whose own noise is 0.041.)
    const issue = { ...agreeing, perSeed: perSeed([0.537, 0.578, 0.544, 0.354, 0.51, 0.653, 0.517, 0.449]) };
    expect(rowBand({ row: { ...issue, items: 147 }, runs: 1 }).band).toEqual(
      rowBand({ row: issue, runs: 1 }).band,
    );
  });

  it("a tolerance row is an explicit override, marked as such", () => {
    const row = { after: "sft", task: "t", metric: "m", value: 0.5, tolerance: 0.02, source: "paper" };
    const verdict = judgeRow({ row, observed: [0.515] });
    expect(verdict).toMatchObject({ kind: "tolerance", passed: true, tolerance: 0.02 });
    expect(verdict.explanation).toContain("tolerance override: no seed data");
    expect(judgeRow({ row, observed: [0.53] }).passed).toBe(false);
  });

  it("the schema names the wrong field: both shapes, too few seeds, a claim on an unknown stage", () => {
    const both = twoStageInput();
    (both["expected"] as Array<Record<string, unknown>>)[0]!["tolerance"] = 0.1;
    expect(() => defineRecipe(both as RecipeInput)).toThrow(/expected\[0\]\.tolerance/);
    const few = twoStageInput();
    (few["expected"] as Array<Record<string, unknown>>)[1]!["perSeed"] = { "1": 0.5 };
    expect(() => defineRecipe(few as RecipeInput)).toThrow(/expected\[1\]\.perSeed/);
    const unknown = twoStageInput({
      claims: [{ statement: "x", task: "fixture_gsm", metric: "accuracy", better: "dpo", worse: "sft" }],
    });
    expect(() => defineRecipe(unknown as RecipeInput)).toThrow(/claims\[0\]\.better/);
  });
});

describe("ordering claims", () => {
  it("a paired test over seeds: supported, reversed (fails) and inconclusive", () => {
    const claim = { statement: "b beats a", task: "t", metric: "m", better: "b", worse: "a" };
    const map = (values: number[]) => new Map(values.map((value, index) => [index + 1, value]));
    const supported = judgeClaim({ claim, better: map(polishValues), worse: map(sftValues) });
    expect(supported).toMatchObject({ status: "supported", passed: true, reversedSeeds: [] });
    const reversed = judgeClaim({ claim, better: map(sftValues), worse: map(polishValues) });
    expect(reversed).toMatchObject({ status: "reversed", passed: false });
    const noisy = judgeClaim({ claim, better: map([0.5, 0.4, 0.6]), worse: map([0.45, 0.5, 0.55]) });
    expect(noisy).toMatchObject({ status: "inconclusive", passed: true, reversedSeeds: [2] });
    const oneSeed = judgeClaim({ claim, better: map([0.4]), worse: map([0.5]) });
    expect(oneSeed.status).toBe("inconclusive");
    expect(oneSeed.explanation).toContain("one seed");
  });

  it("judgeExpected checks rows and claims on a multi-seed set of runs", () => {
    const recipe = defineRecipe(twoStageInput() as RecipeInput);
    const observed: Record<string, number[]> = { sft: [0.5, 0.51, 0.49], polish: [0.45, 0.44, 0.46] };
    const verdict = judgeExpected({
      recipe,
      seeds: [11, 12, 13],
      observe: ({ after, seed }) => observed[after]?.[seed - 11] ?? null,
    });
    expect(verdict.rows.map((row) => row.passed)).toEqual([true, false]);
    expect(verdict.claims[0]).toMatchObject({ status: "reversed", passed: false, seeds: [11, 12, 13] });
    expect(verdict).toMatchObject({ passed: false, failed: 2 });
  });

  it("publishing refuses a claim reversed on one recorded seed, and seed rows with fewer than 5 seeds", async () => {
    expect(publishProblems({ recipe: defineRecipe(twoStageInput() as RecipeInput) })).toEqual([]);
    // Seed 4: polish 0.54 < sft 0.55; the mean difference stays clearly positive.
    const flipped = defineRecipe(
      twoStageInput({ polish: [0.6, 0.63, 0.58, 0.54, 0.57, 0.62] }) as RecipeInput,
    );
    const problems = publishProblems({ recipe: flipped });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe("claims[0]");
    expect(problems[0]?.message).toContain("reversed or tied on seed(s) 4");
    const short = twoStageInput();
    for (const row of short["expected"] as Array<Record<string, unknown>>)
      row["perSeed"] = { "1": 0.5, "2": 0.6, "3": 0.55 };
    const shortProblems = publishProblems({ recipe: defineRecipe(short as RecipeInput) });
    expect(shortProblems.map((problem) => problem.path)).toEqual([
      "expected[0].perSeed",
      "expected[1].perSeed",
      "claims[0]",
    ]);

    // A variant that empties the table (smoke) checks no claims: nothing to publish them against.
    const emptied = twoStageInput({ polish: [0.6, 0.63, 0.58, 0.54, 0.57, 0.62] });
    emptied["expected"] = [];
    expect(publishProblems({ recipe: defineRecipe(emptied as RecipeInput) })).toEqual([]);

    // `posttrain lock` (writeLock) refuses to pin the flipped table.
    const directory = await writeFixturePackage({
      recipe: twoStageInput({ polish: [0.6, 0.63, 0.58, 0.54, 0.57, 0.62] }),
    });
    folders.push(directory);
    const loaded = await loadRecipe({ reference: directory });
    const lock = await computeLock({ loaded });
    await expect(writeLock({ loaded, lock })).rejects.toMatchObject({
      code: "recipe_not_publishable",
      message: expect.stringContaining("claims[0]"),
    });
  });

  it("the issue's Intel table: RLVR beats DPO on micro_gsm may not be published (reversed on seeds 2, 4, 8)", () => {
    const input = twoStageInput({
      claims: [
        {
          statement: "RLVR (polish) beats DPO (sft) on micro_gsm",
          task: "fixture_gsm",
          metric: "accuracy",
          better: "polish",
          worse: "sft",
        },
      ],
    });
    const rows = input["expected"] as Array<Record<string, unknown>>;
    rows[0]!["perSeed"] = perSeed([0.503, 0.612, 0.537, 0.374, 0.463, 0.599, 0.51, 0.476]); // DPO
    rows[1]!["perSeed"] = perSeed([0.537, 0.578, 0.544, 0.354, 0.51, 0.653, 0.517, 0.449]); // RLVR
    const problems = publishProblems({ recipe: defineRecipe(input as RecipeInput) });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toContain("reversed or tied on seed(s) 2, 4, 8");
    // And the shipped one-seed band (0.619 ± 0.060) against the prediction interval from these 8
    // seeds: the Intel seed-1 run (0.537) fails the first and passes the second.
    const rlvr = defineRecipe(input as RecipeInput).expected[1]!;
    expect(judgeRow({ row: rlvr, observed: [0.537] }).passed).toBe(true);
    expect(
      judgeRow({
        row: {
          after: "polish",
          task: "fixture_gsm",
          metric: "accuracy",
          value: 0.619,
          tolerance: 0.06,
          source: "0.3.0",
        },
        observed: [0.537],
      }).passed,
    ).toBe(false);
  });
});
