/**
 * The statistical verdict: where observed eval numbers fall against a recipe's expected rows
 * (seed rows: a band derived from the recorded per-seed values; tolerance rows: value ±
 * tolerance, an explicit override), whether the recipe's ordering claims hold on a set of
 * seeds (paired test), and whether a recipe's table may be published at all
 * ({@link publishProblems}: ≥ 5 seeds per seed row, every claim holding on every recorded seed).
 */
import type { Claim, ExpectedRow, Recipe } from "./schema.js";
import {
  confidenceLevel,
  describeSample,
  flooredPredictionInterval,
  type Interval,
  type PairedTest,
  pairedTest,
  proportionStandardDeviation,
} from "./statistics.js";

/** Seeds a seed row needs before its table may be published. */
export const minimumPublishedSeeds = 5;

/** The recorded values of a seed row, in seed order. */
export function recordedSeeds(row: ExpectedRow): Array<{ seed: number; value: number }> {
  return Object.entries(row.perSeed ?? {})
    .map(([seed, value]) => ({ seed: Number(seed), value }))
    .sort((a, b) => a.seed - b.seed);
}

/** The acceptance band of a row for the mean of `runs` new runs, and how it was derived. */
export interface RowBand {
  kind: "seeds" | "tolerance";
  /** Seed rows: the recorded mean; tolerance rows: the published value. */
  center: number;
  band: Interval;
  /** Seed rows: how many seeds, their standard deviation; null for tolerance rows. */
  recordedSeeds: number | null;
  recordedStandardDeviation: number | null;
  /** Tolerance rows: the tolerance; null for seed rows. */
  tolerance: number | null;
  /** A sentence: "95% prediction interval of 8 seeds (mean 0.536, sd 0.075) for one run". */
  description: string;
}

const format = (value: number) => value.toFixed(3);

export function rowBand(params: { row: ExpectedRow; runs: number }): RowBand {
  const { row, runs } = params;
  if (row.perSeed === undefined) {
    const value = row.value as number;
    const tolerance = row.tolerance as number;
    return {
      kind: "tolerance",
      center: value,
      band: { lower: value - tolerance, upper: value + tolerance },
      recordedSeeds: null,
      recordedStandardDeviation: null,
      tolerance,
      description: `published ${format(value)} ± ${format(tolerance)} (tolerance override: no seed data)`,
    };
  }
  const values = recordedSeeds(row).map((entry) => entry.value);
  const { mean, standardDeviation } = describeSample(values);
  // A proportion with its item count: the spread is at least the item-level binomial noise.
  const floor =
    row.items === undefined || mean < 0 || mean > 1
      ? 0
      : proportionStandardDeviation({ mean, items: row.items });
  const { standardDeviation: spread, ...band } = flooredPredictionInterval({ values, runs, floor });
  const floored = spread > (standardDeviation ?? 0);
  const machines = (row.machines ?? []).map((machine) => machine.cpu).join(", ");
  return {
    kind: "seeds",
    center: mean,
    band,
    recordedSeeds: values.length,
    recordedStandardDeviation: standardDeviation,
    tolerance: null,
    description: `${Math.round(confidenceLevel * 100)}% ${runs === 1 ? "prediction interval for one run" : `interval for the mean of ${runs} runs`} from ${values.length} seeds (mean ${format(mean)}, sd ${format(standardDeviation ?? 0)}${floored ? `, raised to the item-level ${format(spread)} of ${row.items} items` : ""}; ${machines}; ${row.codeVersion})`,
  };
}

/** One expected row judged against the observed value(s). */
export interface RowVerdict {
  after: string;
  task: string;
  metric: string;
  source: string;
  kind: "seeds" | "tolerance";
  /** The observed value of each run (one per seed; null where the metric is missing). */
  observed: Array<number | null>;
  /** The mean of the observed values (null when any is missing). */
  observedMean: number | null;
  /** The expected center (recorded mean or published value) and the band. */
  expected: number;
  band: Interval;
  tolerance: number | null;
  /** observedMean − expected. */
  difference: number | null;
  passed: boolean;
  reason: "inside_band" | "below_band" | "above_band" | "missing";
  /** Where the observed value falls and why it passes or fails, in words. */
  explanation: string;
}

export function judgeRow(params: { row: ExpectedRow; observed: Array<number | null> }): RowVerdict {
  const { row, observed } = params;
  const runs = Math.max(1, observed.length);
  const band = rowBand({ row, runs });
  const common = {
    after: row.after,
    task: row.task,
    metric: row.metric,
    source: row.source,
    kind: band.kind,
    observed,
    expected: band.center,
    band: band.band,
    tolerance: band.tolerance,
  };
  if (observed.length === 0 || observed.some((value) => value === null)) {
    return {
      ...common,
      observedMean: null,
      difference: null,
      passed: false,
      reason: "missing",
      explanation: `no ${row.task} ${row.metric} after ${row.after} to compare`,
    };
  }
  const mean = describeSample(observed as number[]).mean;
  // A hair of slack so a value printed at the band's edge is inside it.
  const slack = 1e-9;
  const reason =
    mean < band.band.lower - slack
      ? "below_band"
      : mean > band.band.upper + slack
        ? "above_band"
        : "inside_band";
  const what = runs === 1 ? `observed ${format(mean)}` : `mean of ${runs} seeds ${format(mean)}`;
  const where =
    reason === "inside_band"
      ? "inside"
      : reason === "below_band"
        ? `below (by ${format(band.band.lower - mean)})`
        : `above (by ${format(mean - band.band.upper)})`;
  return {
    ...common,
    observedMean: mean,
    difference: mean - band.center,
    passed: reason === "inside_band",
    reason,
    explanation: `${what} is ${where} [${format(band.band.lower)}, ${format(band.band.upper)}], the ${band.description}`,
  };
}

/** A claim judged on the seeds of one set of runs (or on a recipe's recorded seeds). */
export interface ClaimVerdict {
  statement: string;
  claim: Claim;
  /** The seeds both stages have a value for. */
  seeds: number[];
  test: PairedTest | null;
  /** Seeds on which `better` ≤ `worse`. */
  reversedSeeds: number[];
  /**
   * `supported`: the paired 95% interval is above 0; `reversed`: below 0 (fails the verdict);
   * `inconclusive`: it contains 0 or there is one seed (reported, does not fail a run).
   */
  status: "supported" | "inconclusive" | "reversed" | "missing";
  passed: boolean;
  explanation: string;
}

export function judgeClaim(params: {
  claim: Claim;
  /** seed → value of `better` and of `worse` on the claim's task and metric. */
  better: ReadonlyMap<number, number>;
  worse: ReadonlyMap<number, number>;
}): ClaimVerdict {
  const { claim } = params;
  const seeds = [...params.better.keys()].filter((seed) => params.worse.has(seed)).sort((a, b) => a - b);
  if (seeds.length === 0)
    return {
      statement: claim.statement,
      claim,
      seeds,
      test: null,
      reversedSeeds: [],
      status: "missing",
      passed: false,
      explanation: `no seed has both ${claim.better} and ${claim.worse} on ${claim.task} ${claim.metric}`,
    };
  const better = seeds.map((seed) => params.better.get(seed) as number);
  const worse = seeds.map((seed) => params.worse.get(seed) as number);
  const test = pairedTest({ better, worse });
  const reversedSeeds = seeds.filter((_, index) => (test.differences[index] as number) <= 0);
  const mean = `${test.meanDifference >= 0 ? "+" : ""}${format(test.meanDifference)}`;
  if (test.interval === null) {
    return {
      statement: claim.statement,
      claim,
      seeds,
      test,
      reversedSeeds,
      status: "inconclusive",
      passed: true,
      explanation: `one seed: ${claim.better} − ${claim.worse} = ${mean}; a claim needs a paired test over seeds (--seeds)`,
    };
  }
  const interval = `[${format(test.interval.lower)}, ${format(test.interval.upper)}]`;
  const status =
    test.interval.lower > 0 ? "supported" : test.interval.upper < 0 ? "reversed" : "inconclusive";
  const p = test.pValue === null ? "" : `, p = ${test.pValue.toPrecision(2)}`;
  return {
    statement: claim.statement,
    claim,
    seeds,
    test,
    reversedSeeds,
    status,
    passed: status !== "reversed",
    explanation: `${claim.better} − ${claim.worse} over ${seeds.length} seeds: mean ${mean}, paired 95% interval ${interval}${p}; holds on ${seeds.length - reversedSeeds.length} of ${seeds.length} seeds`,
  };
}

/** seed → value of one stage/task/metric in a recipe's recorded seed rows. */
export function recordedValues(params: {
  recipe: Recipe;
  after: string;
  task: string;
  metric: string;
}): Map<number, number> {
  const row = params.recipe.expected.find(
    (candidate) =>
      candidate.after === params.after &&
      candidate.task === params.task &&
      candidate.metric === params.metric,
  );
  return new Map((row === undefined ? [] : recordedSeeds(row)).map((entry) => [entry.seed, entry.value]));
}

/**
 * The claims a recipe (or variant) checks: claims belong to the expected table, so a recipe
 * or variant without expected rows (the `smoke` variant empties its table) checks none.
 */
export function claimsInForce(recipe: Recipe): Claim[] {
  return recipe.expected.length === 0 ? [] : recipe.claims;
}

/** One reason a recipe's expected table may not be published. */
export interface PublishProblem {
  path: string;
  message: string;
}

/**
 * Why a recipe's table may not be published (empty: it may): a seed row with fewer than
 * {@link minimumPublishedSeeds} seeds; a claim without recorded seed rows for both stages, with
 * fewer than {@link minimumPublishedSeeds} common seeds, reversed or tied on any recorded seed,
 * or whose paired interval does not exclude zero.
 */
export function publishProblems(params: { recipe: Recipe }): PublishProblem[] {
  const { recipe } = params;
  const problems: PublishProblem[] = [];
  recipe.expected.forEach((row, index) => {
    const seeds = Object.keys(row.perSeed ?? {}).length;
    if (row.perSeed !== undefined && seeds < minimumPublishedSeeds)
      problems.push({
        path: `expected[${index}].perSeed`,
        message: `${row.after}/${row.task}/${row.metric} has ${seeds} seeds; publishing needs at least ${minimumPublishedSeeds}`,
      });
  });
  claimsInForce(recipe).forEach((claim, index) => {
    const lookup = (after: string) =>
      recordedValues({ recipe, after, task: claim.task, metric: claim.metric });
    const verdict = judgeClaim({ claim, better: lookup(claim.better), worse: lookup(claim.worse) });
    const path = `claims[${index}]`;
    if (verdict.seeds.length < minimumPublishedSeeds)
      problems.push({
        path,
        message: `"${claim.statement}": ${verdict.seeds.length} seeds with both ${claim.better} and ${claim.worse} seed rows; publishing needs at least ${minimumPublishedSeeds}`,
      });
    else if (verdict.reversedSeeds.length > 0)
      problems.push({
        path,
        message: `"${claim.statement}" is reversed or tied on seed(s) ${verdict.reversedSeeds.join(", ")} (${verdict.explanation})`,
      });
    else if (verdict.status !== "supported")
      problems.push({
        path,
        message: `"${claim.statement}": the paired interval does not exclude zero (${verdict.explanation})`,
      });
  });
  return problems;
}

/** The verdict over every expected row and claim (those in force), from per-seed observations. */
export interface ExpectedVerdict {
  passed: boolean;
  rows: RowVerdict[];
  claims: ClaimVerdict[];
  failed: number;
}

/**
 * Judges a recipe's table on observations: `observe(after, task, metric)` gives the observed
 * value of each seed (seed → value, null where missing).
 */
export function judgeExpected(params: {
  recipe: Recipe;
  seeds: readonly number[];
  observe: (where: { after: string; task: string; metric: string; seed: number }) => number | null;
  /** Only the rows of these stages (default: all). */
  stages?: readonly string[];
  /** Judge the rows (default true); false: only the claims. */
  rows?: boolean;
}): ExpectedVerdict {
  const { recipe, seeds, observe } = params;
  const stages = params.stages === undefined ? null : new Set(params.stages);
  const rows = (params.rows === false ? [] : recipe.expected)
    .filter((row) => stages === null || stages.has(row.after))
    .map((row) =>
      judgeRow({
        row,
        observed: seeds.map((seed) =>
          observe({ after: row.after, task: row.task, metric: row.metric, seed }),
        ),
      }),
    );
  const claims = claimsInForce(recipe)
    .filter((claim) => stages === null || (stages.has(claim.better) && stages.has(claim.worse)))
    .map((claim) => {
      const collect = (after: string) => {
        const values = new Map<number, number>();
        for (const seed of seeds) {
          const value = observe({ after, task: claim.task, metric: claim.metric, seed });
          if (value !== null) values.set(seed, value);
        }
        return values;
      };
      return judgeClaim({ claim, better: collect(claim.better), worse: collect(claim.worse) });
    });
  const failed = rows.filter((row) => !row.passed).length + claims.filter((claim) => !claim.passed).length;
  return { passed: failed === 0, rows, claims, failed };
}
