/**
 * Metric helpers: point estimates with uncertainty.
 *
 * - `meanWithStandardError`: the mean of per-item scores and the standard error of the mean,
 *   s / √n with the sample standard deviation s (n − 1 denominator); for binary scores this is
 *   √(p(1 − p)/(n − 1)). Zero items give mean 0 and standard error null; one item gives a
 *   standard error of null (undefined from one observation).
 * - `bootstrapConfidenceInterval`: a percentile bootstrap over items, seeded through core's
 *   Random, so the same scores and seed always give the same interval.
 * - `passAtK`: Chen et al. (2021)'s unbiased estimator 1 − C(n − c, k)/C(n, k), computed as a
 *   product of ratios so that it never forms a large binomial coefficient.
 */
import { Random } from "@posttrain/core";
import { EvaluationError } from "./errors.js";

/** A point estimate with its uncertainty. */
export interface MetricEstimate {
  /** The mean over items. */
  value: number;
  /** Standard error of the mean (null with fewer than two items). */
  standardError: number | null;
  /** Percentile-bootstrap interval at `confidence`, when computed. */
  confidenceInterval?: { lower: number; upper: number; confidence: number; resamples: number; seed: number };
  /** Number of items the estimate is over. */
  count: number;
}

/** Mean and standard error of the mean of `values`. */
export function meanWithStandardError(params: { values: readonly number[] }): MetricEstimate {
  const { values } = params;
  const count = values.length;
  if (count === 0) return { value: 0, standardError: null, count };
  const mean = values.reduce((sum, value) => sum + value, 0) / count;
  if (count < 2) return { value: mean, standardError: null, count };
  const squared = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  const sampleVariance = squared / (count - 1);
  return { value: mean, standardError: Math.sqrt(sampleVariance / count), count };
}

/**
 * Percentile bootstrap CI of the mean: `resamples` resamples of the items with replacement
 * (default 1,000), each mean computed, the (1 − confidence)/2 and (1 + confidence)/2
 * quantiles taken (linear interpolation between order statistics). Seeded (default 0).
 */
export function bootstrapConfidenceInterval(params: {
  values: readonly number[];
  confidence?: number;
  resamples?: number;
  seed?: number;
}): { lower: number; upper: number; confidence: number; resamples: number; seed: number } {
  const confidence = params.confidence ?? 0.95;
  const resamples = params.resamples ?? 1000;
  const seed = params.seed ?? 0;
  if (!(confidence > 0 && confidence < 1)) {
    throw new EvaluationError({
      code: "eval_invalid_argument",
      message: `confidence must be in (0, 1), got ${confidence}`,
    });
  }
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new EvaluationError({
      code: "eval_invalid_argument",
      message: `resamples must be a positive integer, got ${resamples}`,
    });
  }
  const { values } = params;
  if (values.length === 0) return { lower: 0, upper: 0, confidence, resamples, seed };
  const random = Random.fromSeed(seed).stream("bootstrap");
  const means = new Float64Array(resamples);
  for (let resample = 0; resample < resamples; resample += 1) {
    let sum = 0;
    for (let draw = 0; draw < values.length; draw += 1)
      sum += values[random.nextInt(values.length)] as number;
    means[resample] = sum / values.length;
  }
  means.sort();
  const quantile = (probability: number): number => {
    const position = probability * (resamples - 1);
    const below = Math.floor(position);
    const above = Math.min(below + 1, resamples - 1);
    const fraction = position - below;
    return (means[below] as number) * (1 - fraction) + (means[above] as number) * fraction;
  };
  return {
    lower: quantile((1 - confidence) / 2),
    upper: quantile((1 + confidence) / 2),
    confidence,
    resamples,
    seed,
  };
}

/**
 * Unbiased pass@k from `samples` generations of which `correct` passed (Chen et al. 2021):
 * 1 − C(n − c, k)/C(n, k) = 1 − Π_{i = n − c + 1}^{n} (1 − k/i). Needs k ≤ n.
 */
export function passAtK(params: { samples: number; correct: number; k: number }): number {
  const { samples, correct, k } = params;
  if (
    !Number.isInteger(samples) ||
    !Number.isInteger(correct) ||
    !Number.isInteger(k) ||
    k < 1 ||
    samples < 1
  ) {
    throw new EvaluationError({
      code: "eval_invalid_argument",
      message: `pass@k needs positive integers (samples ${samples}, correct ${correct}, k ${k})`,
    });
  }
  if (correct < 0 || correct > samples) {
    throw new EvaluationError({
      code: "eval_invalid_argument",
      message: `correct (${correct}) must be in [0, ${samples}]`,
    });
  }
  if (k > samples) {
    throw new EvaluationError({
      code: "eval_invalid_argument",
      message: `pass@${k} needs at least ${k} samples, got ${samples}`,
    });
  }
  if (samples - correct < k) return 1;
  let allFail = 1;
  for (let i = samples - correct + 1; i <= samples; i += 1) allFail *= 1 - k / i;
  return 1 - allFail;
}

/** The unweighted mean of group means (e.g. MATH subjects); groups with no items are skipped. */
export function macroAverage(params: { groups: ReadonlyMap<string, readonly number[]> }): number {
  const means = [...params.groups.values()]
    .filter((values) => values.length > 0)
    .map((values) => values.reduce((sum, value) => sum + value, 0) / values.length);
  return means.length === 0 ? 0 : means.reduce((sum, value) => sum + value, 0) / means.length;
}

/** `meanWithStandardError` plus a bootstrap interval, the form every reported metric takes. */
export function estimateMetric(params: {
  values: readonly number[];
  seed: number;
  resamples?: number;
  confidence?: number;
}): MetricEstimate {
  return {
    ...meanWithStandardError({ values: params.values }),
    confidenceInterval: bootstrapConfidenceInterval({
      values: params.values,
      seed: params.seed,
      ...(params.resamples === undefined ? {} : { resamples: params.resamples }),
      ...(params.confidence === undefined ? {} : { confidence: params.confidence }),
    }),
  };
}

/**
 * A macro average over groups with its uncertainty: the value is the unweighted mean of group
 * means; the standard error is √(Σ SE_g²)/G (groups independent); the interval is a
 * stratified percentile bootstrap (each group resampled within itself), seeded.
 */
export function estimateMacroMetric(params: {
  groups: ReadonlyMap<string, readonly number[]>;
  seed: number;
  resamples?: number;
  confidence?: number;
}): MetricEstimate {
  const groups = [...params.groups.entries()]
    .filter(([, values]) => values.length > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const count = groups.reduce((sum, [, values]) => sum + values.length, 0);
  if (groups.length === 0) return { value: 0, standardError: null, count };
  const value = macroAverage({ groups: new Map(groups) });
  const errors = groups.map(([, values]) => meanWithStandardError({ values }).standardError);
  const standardError = errors.some((error) => error === null)
    ? null
    : Math.sqrt(errors.reduce((sum: number, error) => sum + (error as number) ** 2, 0)) / groups.length;
  const resamples = params.resamples ?? 1000;
  const confidence = params.confidence ?? 0.95;
  const random = Random.fromSeed(params.seed).stream("bootstrap-macro");
  const means = new Float64Array(resamples);
  for (let resample = 0; resample < resamples; resample += 1) {
    let total = 0;
    for (const [, values] of groups) {
      let sum = 0;
      for (let draw = 0; draw < values.length; draw += 1)
        sum += values[random.nextInt(values.length)] as number;
      total += sum / values.length;
    }
    means[resample] = total / groups.length;
  }
  means.sort();
  const quantile = (probability: number) => {
    const position = probability * (resamples - 1);
    const below = Math.floor(position);
    const above = Math.min(below + 1, resamples - 1);
    return (
      (means[below] as number) * (1 - (position - below)) + (means[above] as number) * (position - below)
    );
  };
  return {
    value,
    standardError,
    count,
    confidenceInterval: {
      lower: quantile((1 - confidence) / 2),
      upper: quantile((1 + confidence) / 2),
      confidence,
      resamples,
      seed: params.seed,
    },
  };
}
