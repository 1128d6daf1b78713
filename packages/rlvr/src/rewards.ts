/**
 * Rewards and group advantages (plain functions, unit-tested):
 * - reward = verificationReward × score, gated by the format reward when configured
 *   (no format match → no verification reward; a match adds the format reward);
 * - a truncated completion's reward is replaced by the non-stop penalty when configured;
 * - advantages per prompt group: `centered` r − mean, `standard` (r − mean)/(std + 1e-8) with
 *   the population std (numpy's default, as open-instruct computes it);
 * - a group whose rewards are all equal has zero variance (no signal) and can be filtered.
 */
import type { Config } from "./config.js";

export function completionReward(params: {
  rewards: Pick<Config["rewards"], "verificationReward" | "format" | "nonStopPenalty">;
  score: number;
  response: string;
  truncated: boolean;
}): number {
  const { rewards } = params;
  if (params.truncated && rewards.nonStopPenalty !== null) return rewards.nonStopPenalty.value;
  let reward = rewards.verificationReward * params.score;
  if (rewards.format !== null) {
    const matches = new RegExp(`^(?:${rewards.format.pattern})$`, "s").test(params.response);
    reward = matches ? reward + rewards.format.reward : 0;
  }
  return reward;
}

export interface GroupAdvantages {
  advantages: number[];
  mean: number;
  std: number;
  zeroVariance: boolean;
}

export function groupAdvantages(params: {
  rewards: readonly number[];
  kind: Config["advantages"];
}): GroupAdvantages {
  const { rewards } = params;
  const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
  const variance = rewards.reduce((total, reward) => total + (reward - mean) ** 2, 0) / rewards.length;
  const std = Math.sqrt(variance);
  const zeroVariance = rewards.every((reward) => reward === rewards[0]);
  const advantages = rewards.map((reward) =>
    params.kind === "centered" ? reward - mean : (reward - mean) / (std + 1e-8),
  );
  return { advantages, mean, std, zeroVariance };
}

/** Per-token KL estimate from log π and log π_ref (`k1`, `k2`, `k3`; see config). */
export function klEstimate(params: {
  estimator: Config["kl"]["estimator"];
  logProb: number;
  referenceLogProb: number;
}): number {
  const logRatio = params.referenceLogProb - params.logProb;
  if (params.estimator === "k1") return -logRatio;
  if (params.estimator === "k2") return 0.5 * logRatio * logRatio;
  return Math.expm1(logRatio) - logRatio;
}
