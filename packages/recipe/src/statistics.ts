/**
 * The statistics behind seed-distribution expected rows and ordering claims: Student's t
 * quantiles, the mean and sample standard deviation of per-seed values, the prediction interval
 * for one new run, the interval for the mean of k new runs, and the paired t interval of a
 * claim's per-seed differences.
 *
 * Written here rather than taken from a statistics library: it needs one distribution (t) and
 * five formulas, and pulling a general-purpose package into the recipe layer for that would add
 * more surface than it removes. The t CDF goes through the regularized incomplete beta function
 * (continued fraction, modified Lentz), the quantile is found by bisection; statistics.test.ts
 * checks it against printed t tables.
 */

const lanczos = [
  676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const shifted = x - 1;
  let sum = 0.99999999999980993;
  for (const [index, coefficient] of lanczos.entries()) sum += coefficient / (shifted + index + 1);
  const t = shifted + lanczos.length - 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(sum);
}

function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 300; m += 1) {
    const m2 = 2 * m;
    let term = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + term * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + term / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    result *= d * c;
    term = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + term * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + term / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    result *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return result;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedIncompleteBeta(params: { x: number; a: number; b: number }): number {
  const { x, a, b } = params;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `degreesOfFreedom`. */
export function studentTCumulative(params: { t: number; degreesOfFreedom: number }): number {
  const { t, degreesOfFreedom: v } = params;
  const tail = 0.5 * regularizedIncompleteBeta({ x: v / (v + t * t), a: v / 2, b: 0.5 });
  return t >= 0 ? 1 - tail : tail;
}

/** The `probability` quantile of Student's t with `degreesOfFreedom` (e.g. 0.975 → the 95% two-sided critical value). */
export function studentTQuantile(params: { probability: number; degreesOfFreedom: number }): number {
  const { probability, degreesOfFreedom } = params;
  if (!(probability > 0 && probability < 1) || !(degreesOfFreedom > 0))
    throw new RangeError(
      `studentTQuantile: probability ${probability}, degrees of freedom ${degreesOfFreedom}`,
    );
  if (probability < 0.5) return -studentTQuantile({ probability: 1 - probability, degreesOfFreedom });
  let low = 0;
  let high = 1;
  while (studentTCumulative({ t: high, degreesOfFreedom }) < probability) high *= 2;
  for (let iteration = 0; iteration < 200 && high - low > 1e-12; iteration += 1) {
    const middle = (low + high) / 2;
    if (studentTCumulative({ t: middle, degreesOfFreedom }) < probability) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/** Mean and sample standard deviation (n − 1); the deviation is null with fewer than two values. */
export function describeSample(values: readonly number[]): {
  count: number;
  mean: number;
  standardDeviation: number | null;
} {
  const count = values.length;
  const mean = values.reduce((sum, value) => sum + value, 0) / count;
  if (count < 2) return { count, mean, standardDeviation: null };
  const squares = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  return { count, mean, standardDeviation: Math.sqrt(squares / (count - 1)) };
}

export interface Interval {
  lower: number;
  upper: number;
}

/** The confidence level every interval of this module uses. */
export const confidenceLevel = 0.95;

function criticalValue(degreesOfFreedom: number): number {
  return studentTQuantile({ probability: 1 - (1 - confidenceLevel) / 2, degreesOfFreedom });
}

/**
 * Where a new result is expected to fall, from n recorded per-seed values (mean m, sd s):
 * for the mean of `runs` new runs (k), m ± t(0.975, n − 1) · s · √(1/k + 1/n). With k = 1 this
 * is the prediction interval for one new run. Needs n ≥ 2.
 */
export function predictionInterval(params: { values: readonly number[]; runs: number }): Interval {
  const { mean, standardDeviation, count } = describeSample(params.values);
  if (standardDeviation === null) throw new RangeError("predictionInterval needs at least two values");
  const halfWidth = criticalValue(count - 1) * standardDeviation * Math.sqrt(1 / params.runs + 1 / count);
  return { lower: mean - halfWidth, upper: mean + halfWidth };
}

/**
 * {@link predictionInterval} with the seeds' standard deviation raised to at least `floor`
 * (e.g. the item-level binomial noise of the eval) when it is smaller.
 */
export function flooredPredictionInterval(params: {
  values: readonly number[];
  runs: number;
  floor: number;
}): Interval & { standardDeviation: number } {
  const { mean, standardDeviation, count } = describeSample(params.values);
  if (standardDeviation === null) throw new RangeError("predictionInterval needs at least two values");
  const spread = Math.max(standardDeviation, params.floor);
  const halfWidth = criticalValue(count - 1) * spread * Math.sqrt(1 / params.runs + 1 / count);
  return { lower: mean - halfWidth, upper: mean + halfWidth, standardDeviation: spread };
}

/**
 * The item-level standard deviation of a proportion `mean` over `items` items, with the
 * Agresti–Coull adjustment (two successes and two failures added) so it is not 0 at 0 or 1.
 */
export function proportionStandardDeviation(params: { mean: number; items: number }): number {
  const adjusted = (params.mean * params.items + 2) / (params.items + 4);
  return Math.sqrt((adjusted * (1 - adjusted)) / params.items);
}

/** The 95% t interval of the mean of `values` (the seed-level interval); null with fewer than two. */
export function meanInterval(values: readonly number[]): Interval | null {
  const { mean, standardDeviation, count } = describeSample(values);
  if (standardDeviation === null) return null;
  const halfWidth = (criticalValue(count - 1) * standardDeviation) / Math.sqrt(count);
  return { lower: mean - halfWidth, upper: mean + halfWidth };
}

/** A paired t test of `better − worse` over the same seeds. */
export interface PairedTest {
  seeds: number;
  differences: number[];
  meanDifference: number;
  standardDeviation: number | null;
  /** 95% interval of the mean difference; null with fewer than two seeds. */
  interval: Interval | null;
  /** Two-sided p-value of "mean difference = 0"; null with fewer than two seeds or no spread. */
  pValue: number | null;
}

export function pairedTest(params: { better: readonly number[]; worse: readonly number[] }): PairedTest {
  const differences = params.better.map((value, index) => value - (params.worse[index] as number));
  const { mean, standardDeviation, count } = describeSample(differences);
  const interval = meanInterval(differences);
  let pValue: number | null = null;
  if (standardDeviation !== null && standardDeviation > 0) {
    const t = mean / (standardDeviation / Math.sqrt(count));
    pValue = 2 * (1 - studentTCumulative({ t: Math.abs(t), degreesOfFreedom: count - 1 }));
  }
  return { seeds: count, differences, meanDifference: mean, standardDeviation, interval, pValue };
}
