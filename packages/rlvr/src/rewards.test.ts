import { describe, expect, it } from "vitest";
import { completionReward, groupAdvantages, klEstimate } from "./rewards.js";

const rewards = { verificationReward: 10, format: null, nonStopPenalty: null };

describe("rewards", () => {
  it("scales the verifier score; the non-stop penalty replaces a truncated completion's reward", () => {
    expect(completionReward({ rewards, score: 1, response: "4", truncated: false })).toBe(10);
    expect(completionReward({ rewards, score: 0.5, response: "4", truncated: true })).toBe(5);
    const penalised = { ...rewards, nonStopPenalty: { value: -10 } };
    expect(completionReward({ rewards: penalised, score: 1, response: "4", truncated: true })).toBe(-10);
    expect(completionReward({ rewards: penalised, score: 1, response: "4", truncated: false })).toBe(10);
  });

  it("the format reward gates the verification reward and adds its own", () => {
    const gated = { ...rewards, format: { pattern: "<think>.*</think>.*", reward: 1 } };
    expect(
      completionReward({ rewards: gated, score: 1, response: "<think>x</think> 4", truncated: false }),
    ).toBe(11);
    expect(completionReward({ rewards: gated, score: 1, response: "4", truncated: false })).toBe(0);
  });

  it("group advantages: centered and standard (population std), zero-variance groups flagged", () => {
    const centered = groupAdvantages({ rewards: [10, 0, 0, 0], kind: "centered" });
    expect(centered.advantages).toEqual([7.5, -2.5, -2.5, -2.5]);
    const standard = groupAdvantages({ rewards: [10, 0, 0, 0], kind: "standard" });
    const std = Math.sqrt((7.5 ** 2 + 3 * 2.5 ** 2) / 4);
    expect(standard.std).toBeCloseTo(std, 12);
    expect(standard.advantages[0]).toBeCloseTo(7.5 / (std + 1e-8), 12);
    expect(standard.zeroVariance).toBe(false);
    expect(groupAdvantages({ rewards: [3, 3, 3], kind: "standard" })).toMatchObject({
      zeroVariance: true,
      advantages: [0, 0, 0],
    });
  });

  it("KL estimators k1, k2, k3 with log r = log π_ref − log π", () => {
    const logProb = -1;
    const referenceLogProb = -1.5;
    expect(klEstimate({ estimator: "k1", logProb, referenceLogProb })).toBeCloseTo(0.5, 12);
    expect(klEstimate({ estimator: "k2", logProb, referenceLogProb })).toBeCloseTo(0.125, 12);
    expect(klEstimate({ estimator: "k3", logProb, referenceLogProb })).toBeCloseTo(
      Math.exp(-0.5) - 1 + 0.5,
      12,
    );
  });
});
