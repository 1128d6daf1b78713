/**
 * Preference metrics from per-pair log-probs (plain numbers, for logging and held-out
 * evaluation; the training loss itself is in the graph, see loss.ts): the same loss formulas,
 * rewards β(π − ρ) (simpo: βπ), margins and accuracy.
 */
import type { LossConfig } from "./config.js";

export interface PairLogProbs {
  policyChosen: number;
  policyRejected: number;
  /** 0 for simpo (no reference). */
  referenceChosen: number;
  referenceRejected: number;
  /** Length-averaged policy log-probs (the WPO weight). */
  policyChosenMean: number;
  policyRejectedMean: number;
}

export interface PreferenceMetrics {
  loss: number;
  chosenReward: number;
  rejectedReward: number;
  margin: number;
  accuracy: number;
  /** Share of pairs where the policy's length-averaged log-prob of chosen beats rejected (reference-free). */
  policyAccuracy: number;
  pairs: number;
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** The per-pair loss of {@link lossConfigSchema}, in float64. */
export function pairLoss(loss: LossConfig, pair: PairLogProbs): number {
  const policy = pair.policyChosen - pair.policyRejected;
  const logit =
    loss.type === "simpo"
      ? policy - loss.gammaBetaRatio
      : policy - (pair.referenceChosen - pair.referenceRejected);
  const scaled = loss.beta * logit;
  const value = (1 - loss.labelSmoothing) * softplus(-scaled) + loss.labelSmoothing * softplus(scaled);
  return loss.type === "wpo"
    ? value * Math.min(1, Math.exp(pair.policyChosenMean + pair.policyRejectedMean))
    : value;
}

export function pairRewards(loss: LossConfig, pair: PairLogProbs): { chosen: number; rejected: number } {
  if (loss.type === "simpo")
    return { chosen: loss.beta * pair.policyChosen, rejected: loss.beta * pair.policyRejected };
  return {
    chosen: loss.beta * (pair.policyChosen - pair.referenceChosen),
    rejected: loss.beta * (pair.policyRejected - pair.referenceRejected),
  };
}

/** Means over pairs of loss, rewards and margin; accuracy = share of pairs with chosen reward > rejected. */
export function preferenceMetrics(loss: LossConfig, pairs: readonly PairLogProbs[]): PreferenceMetrics {
  let total = 0;
  let chosen = 0;
  let rejected = 0;
  let correct = 0;
  let policyCorrect = 0;
  for (const pair of pairs) {
    total += pairLoss(loss, pair);
    const rewards = pairRewards(loss, pair);
    chosen += rewards.chosen;
    rejected += rewards.rejected;
    if (rewards.chosen > rewards.rejected) correct += 1;
    if (pair.policyChosenMean > pair.policyRejectedMean) policyCorrect += 1;
  }
  const count = Math.max(1, pairs.length);
  return {
    loss: total / count,
    chosenReward: chosen / count,
    rejectedReward: rejected / count,
    margin: (chosen - rejected) / count,
    accuracy: correct / count,
    policyAccuracy: policyCorrect / count,
    pairs: pairs.length,
  };
}
