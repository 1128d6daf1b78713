/**
 * Over-optimisation monitor: at each check it records the mean training reward since the
 * previous check and the held-out accuracy (greedy answers to held-out prompts, same verifiers),
 * and warns when the training reward rose while held-out accuracy fell by more than the check's
 * size allows (reward hacking / over-fitting the training prompts), or when the KL to the
 * reference passes the bound. Its state travels in checkpoints.
 *
 * Noise: a held-out accuracy over n items moves by a few items between checks even when
 * nothing is wrong (a one-item drop on 200 items is 0.005). A drop counts only when it is
 * significant against every earlier check it could be measured from:
 *
 * - with per-item correctness (`heldOutScores`), an exact one-sided McNemar test on the same
 *   items: of the items that changed, how many went right → wrong (b) against wrong → right
 *   (c); under no change b ~ Binomial(b + c, ½);
 * - with only counts (`heldOutAccuracy` + `heldOutCount`), a one-sided two-proportion
 *   (binomial) z test.
 *
 * The check is made against every earlier check whose training reward is below the current one
 * (so a slow decline over several checks — a trend — is caught against its start, not only a
 * step-to-step drop), at level {@link driftSignificance} divided by the number of earlier checks
 * compared (Bonferroni), so a run of many checks does not raise the false-alarm rate.
 */

/** One-sided significance level of a held-out drop, before the Bonferroni division. */
export const driftSignificance = 0.01;

export interface OverOptimizationCheck {
  step: number;
  heldOutAccuracy: number;
  /** Items in the held-out check (null when not given). */
  heldOutCount: number | null;
  /** Per-item correctness as a string of "0"/"1" (null when only the accuracy was given). */
  heldOutCorrect: string | null;
  /** Mean training reward of the steps since the previous check (null at the first check). */
  trainingReward: number | null;
  kl: number;
  /** The most significant held-out drop against an earlier check with a lower training reward, if any was tested. */
  drop: {
    fromStep: number;
    from: number;
    to: number;
    test: "mcnemar" | "binomial";
    pValue: number;
    /** The level it was compared with (driftSignificance / checks compared). */
    level: number;
  } | null;
  warnings: string[];
}

function logChoose(n: number, k: number): number {
  let sum = 0;
  for (let index = 1; index <= k; index += 1) sum += Math.log((n - k + index) / index);
  return sum;
}

/** P(X ≥ b) for X ~ Binomial(b + c, ½): the exact one-sided McNemar p-value of b right→wrong against c wrong→right. */
export function mcnemarOneSided(params: { worsened: number; improved: number }): number {
  const n = params.worsened + params.improved;
  if (n === 0) return 1;
  let p = 0;
  for (let k = params.worsened; k <= n; k += 1) p += Math.exp(logChoose(n, k) - n * Math.LN2);
  return Math.min(1, p);
}

/** The standard normal upper tail P(Z ≥ z) (erfc by Abramowitz–Stegun 7.1.26, absolute error < 1.5e-7). */
function normalUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
    Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/** One-sided p-value that accuracy fell from `before` (n1 items) to `after` (n2 items), pooled two-proportion z test. */
export function binomialDropPValue(params: {
  before: number;
  beforeCount: number;
  after: number;
  afterCount: number;
}): number {
  const { before, beforeCount, after, afterCount } = params;
  const pooled = (before * beforeCount + after * afterCount) / (beforeCount + afterCount);
  const variance = pooled * (1 - pooled) * (1 / beforeCount + 1 / afterCount);
  if (variance === 0) return before > after ? 0 : 1;
  return normalUpperTail((before - after) / Math.sqrt(variance));
}

function dropPValue(
  earlier: OverOptimizationCheck,
  current: OverOptimizationCheck,
): { test: "mcnemar" | "binomial"; pValue: number } | null {
  if (
    earlier.heldOutCorrect !== null &&
    current.heldOutCorrect !== null &&
    earlier.heldOutCorrect.length === current.heldOutCorrect.length
  ) {
    let worsened = 0;
    let improved = 0;
    for (let index = 0; index < current.heldOutCorrect.length; index += 1) {
      const was = earlier.heldOutCorrect[index] === "1";
      const is = current.heldOutCorrect[index] === "1";
      if (was && !is) worsened += 1;
      else if (!was && is) improved += 1;
    }
    return { test: "mcnemar", pValue: mcnemarOneSided({ worsened, improved }) };
  }
  if (earlier.heldOutCount === null || current.heldOutCount === null) return null;
  return {
    test: "binomial",
    pValue: binomialDropPValue({
      before: earlier.heldOutAccuracy,
      beforeCount: earlier.heldOutCount,
      after: current.heldOutAccuracy,
      afterCount: current.heldOutCount,
    }),
  };
}

export class OverOptimizationMonitor {
  checks: OverOptimizationCheck[] = [];
  private rewards: number[] = [];

  constructor(private readonly params: { klBound: number | null }) {}

  recordReward(reward: number): void {
    this.rewards.push(reward);
  }

  /**
   * Records a check. Give the held-out result as per-item scores (`heldOutScores`, ≥ 1 =
   * correct: the paired test) or as `heldOutAccuracy` with `heldOutCount` (the binomial test);
   * an accuracy without a count is recorded but never judged a significant drop.
   */
  check(params: {
    step: number;
    kl: number;
    heldOutScores?: readonly number[];
    heldOutAccuracy?: number;
    heldOutCount?: number;
  }): OverOptimizationCheck {
    const trainingReward =
      this.rewards.length === 0 ? null : this.rewards.reduce((a, b) => a + b, 0) / this.rewards.length;
    this.rewards = [];
    const scores = params.heldOutScores;
    const heldOutCorrect =
      scores === undefined ? null : scores.map((score) => (score >= 1 ? "1" : "0")).join("");
    const heldOutCount = scores?.length ?? params.heldOutCount ?? null;
    const heldOutAccuracy =
      scores === undefined
        ? (params.heldOutAccuracy ?? 0)
        : scores.length === 0
          ? 0
          : (heldOutCorrect?.split("").filter((bit) => bit === "1").length ?? 0) / scores.length;
    const current: OverOptimizationCheck = {
      step: params.step,
      heldOutAccuracy,
      heldOutCount,
      heldOutCorrect,
      trainingReward,
      kl: params.kl,
      drop: null,
      warnings: [],
    };

    // Earlier checks the training reward has risen from (the first check, before any step,
    // counts as the lowest reward), each a possible start of an over-optimisation.
    const firstReward = this.checks.find((check) => check.trainingReward !== null)?.trainingReward ?? null;
    const baseline = (check: OverOptimizationCheck) => check.trainingReward ?? firstReward;
    const candidates =
      trainingReward === null
        ? []
        : this.checks.filter((check) => {
            const reward = baseline(check);
            return reward !== null && trainingReward > reward && check.heldOutAccuracy > heldOutAccuracy;
          });
    const compared = this.checks.length;
    const level = compared === 0 ? driftSignificance : driftSignificance / compared;
    for (const earlier of candidates) {
      const tested = dropPValue(earlier, current);
      if (tested === null) continue;
      if (current.drop === null || tested.pValue < current.drop.pValue)
        current.drop = {
          fromStep: earlier.step,
          from: earlier.heldOutAccuracy,
          to: heldOutAccuracy,
          test: tested.test,
          pValue: tested.pValue,
          level,
        };
    }
    if (current.drop !== null && current.drop.pValue < level) {
      const fromCheck = this.checks.find((check) => check.step === current.drop?.fromStep);
      const fromReward = fromCheck === undefined ? null : baseline(fromCheck);
      current.warnings.push(
        `training reward rose (${fromReward?.toFixed(3) ?? "?"} → ${trainingReward?.toFixed(3)}) while held-out accuracy fell (${current.drop.from.toFixed(3)} at step ${current.drop.fromStep} → ${heldOutAccuracy.toFixed(3)} on ${heldOutCount} items; ${current.drop.test} p = ${current.drop.pValue.toPrecision(2)} < ${level.toPrecision(2)})`,
      );
    }
    if (this.params.klBound !== null && params.kl > this.params.klBound)
      current.warnings.push(
        `KL to the reference ${params.kl.toFixed(4)} passed the bound ${this.params.klBound}`,
      );
    this.checks.push(current);
    return current;
  }

  state(): { checks: OverOptimizationCheck[]; rewards: number[] } {
    return { checks: this.checks, rewards: this.rewards };
  }

  restore(saved: unknown): void {
    if (typeof saved !== "object" || saved === null) return;
    const value = saved as { checks?: Array<Partial<OverOptimizationCheck>>; rewards?: number[] };
    // Checkpoints from before the noise test have no count or per-item record: kept, never tested.
    this.checks = (value.checks ?? []).map((check) => ({
      step: check.step ?? 0,
      heldOutAccuracy: check.heldOutAccuracy ?? 0,
      heldOutCount: check.heldOutCount ?? null,
      heldOutCorrect: check.heldOutCorrect ?? null,
      trainingReward: check.trainingReward ?? null,
      kl: check.kl ?? 0,
      drop: check.drop ?? null,
      warnings: check.warnings ?? [],
    }));
    this.rewards = value.rewards ?? [];
  }
}
