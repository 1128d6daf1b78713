import { Random } from "@posttrain/core";
import { getVerifier } from "@posttrain/verifiers";
import { describe, expect, it } from "vitest";
import { binomialDropPValue, mcnemarOneSided, OverOptimizationMonitor } from "./monitor.js";

const gsm8k = getVerifier({ name: "gsm8k" });
const verify = async (response: string, label: string) =>
  (await gsm8k.verify({ response, label, context: { timeoutMilliseconds: 1000 } })).score;

describe("the drop tests", () => {
  it("exact McNemar and the binomial test give the textbook values", () => {
    // 5 right→wrong, 0 wrong→right: p = 1/32.
    expect(mcnemarOneSided({ worsened: 5, improved: 0 })).toBeCloseTo(1 / 32, 12);
    // 3 vs 1: P(X ≥ 3 | n = 4) = 5/16.
    expect(mcnemarOneSided({ worsened: 3, improved: 1 })).toBeCloseTo(5 / 16, 12);
    expect(mcnemarOneSided({ worsened: 0, improved: 0 })).toBe(1);
    // 0.60 → 0.50 on 200 items each: z = 2.01, one-sided p ≈ 0.022.
    expect(binomialDropPValue({ before: 0.6, beforeCount: 200, after: 0.5, afterCount: 200 })).toBeCloseTo(
      0.0222,
      3,
    );
  });
});

describe("over-optimisation monitor", () => {
  it("does not warn on a one-item drop of a 200-item check while the reward rises (issue 22)", () => {
    const monitor = new OverOptimizationMonitor({ klBound: null });
    const scores = Array.from({ length: 200 }, (_, index) => (index < 120 ? 1 : 0));
    monitor.check({ step: 0, heldOutScores: scores, kl: 0 });
    monitor.recordReward(1);
    monitor.check({ step: 20, heldOutScores: scores, kl: 0 });
    monitor.recordReward(2);
    const dropped = monitor.check({
      step: 40,
      heldOutScores: scores.map((score, index) => (index === 0 ? 0 : score)),
      kl: 0,
    });
    expect(dropped.heldOutAccuracy).toBeCloseTo(0.595, 12);
    expect(dropped.drop?.pValue).toBe(0.5);
    expect(dropped.warnings).toEqual([]);
  });

  it("pure noise (items flip both ways at random while the reward rises) does not trigger it", () => {
    let warned = 0;
    let naive = 0;
    const runs = 40;
    for (let run = 0; run < runs; run += 1) {
      const random = Random.fromSeed(run).stream("noise");
      const monitor = new OverOptimizationMonitor({ klBound: null });
      let correct = Array.from({ length: 200 }, () => (random.nextFloat() < 0.55 ? 1 : 0));
      monitor.check({ step: 0, heldOutScores: correct, kl: 0 });
      for (let check = 1; check <= 8; check += 1) {
        monitor.recordReward(check);
        // A third of the greedy answers change between checks, each right with the same
        // probability 0.55 as before: the accuracy moves, the policy's quality does not.
        correct = correct.map((score) =>
          random.nextFloat() < 0.3 ? (random.nextFloat() < 0.55 ? 1 : 0) : score,
        );
        const result = monitor.check({ step: check * 20, heldOutScores: correct, kl: 0 });
        if (result.warnings.length > 0) warned += 1;
        if (result.heldOutAccuracy < (monitor.checks.at(-2)?.heldOutAccuracy ?? 0)) naive += 1;
      }
    }
    // The old rule ("any drop while the reward rose") fires on about half of these checks; the
    // test at 1% per check (Bonferroni over the earlier checks) on about 1% or fewer.
    const checks = runs * 8;
    expect(naive / checks).toBeGreaterThan(0.3);
    expect(warned / checks).toBeLessThanOrEqual(0.015);
  });

  it("a reward hack the gsm8k verifier allows on a toy (echo the prompt's last number) triggers it", async () => {
    // Training prompts carry an artefact: the answer is the last number in the prompt, so a
    // policy that echoes the prompt earns the full reward from the real gsm8k verifier (it reads
    // the last number). Held-out prompts have no artefact: echoing answers them wrong.
    const random = Random.fromSeed(7).stream("toy");
    const problem = (artefact: boolean) => {
      const a = 2 + random.nextInt(50);
      const b = 2 + random.nextInt(50);
      const answer = String(a + b);
      return {
        prompt: artefact ? `Add ${a} and ${b}. (Hint: ${answer})` : `Add ${a} and ${b}, then report the sum.`,
        answer,
        solvable: random.nextFloat() < 0.6,
      };
    };
    const train = Array.from({ length: 64 }, () => problem(true));
    const heldOut = Array.from({ length: 200 }, () => problem(false));
    // The policy: with probability `hack` it echoes the prompt; else it solves what it can.
    const respond = (item: ReturnType<typeof problem>, hacking: boolean) =>
      hacking ? item.prompt : item.solvable ? `The sum is ${item.answer}.` : "The sum is 0.";
    const monitor = new OverOptimizationMonitor({ klBound: null });
    const heldOutScores = async (hack: number) =>
      Promise.all(
        heldOut.map((item, index) => verify(respond(item, index / heldOut.length < hack), item.answer)),
      );
    monitor.check({ step: 0, heldOutScores: await heldOutScores(0), kl: 0 });
    const warnings: string[] = [];
    const rewards: number[] = [];
    for (const [check, hack] of [0.1, 0.2, 0.35, 0.5, 0.7].entries()) {
      for (const item of train) {
        const reward = await verify(respond(item, random.nextFloat() < hack), item.answer);
        monitor.recordReward(reward);
        rewards.push(reward);
      }
      warnings.push(
        ...monitor.check({ step: (check + 1) * 20, heldOutScores: await heldOutScores(hack), kl: 0 })
          .warnings,
      );
    }
    const checks = monitor.checks;
    expect(checks.at(-1)?.trainingReward).toBeGreaterThan(checks[1]?.trainingReward ?? 1);
    expect(checks.at(-1)?.heldOutAccuracy).toBeLessThan(checks[0]?.heldOutAccuracy ?? 0);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toMatch(/held-out accuracy fell .* mcnemar p = /);
  });

  it("warns when KL passes the bound, tests counts without per-item scores, and continues after a restore", () => {
    const monitor = new OverOptimizationMonitor({ klBound: 0.5 });
    expect(monitor.check({ step: 0, heldOutAccuracy: 0.6, heldOutCount: 400, kl: 0 }).warnings).toEqual([]);
    monitor.recordReward(1);
    monitor.recordReward(3);
    expect(monitor.check({ step: 2, heldOutAccuracy: 0.59, heldOutCount: 400, kl: 0.1 })).toMatchObject({
      trainingReward: 2,
      warnings: [],
    });
    monitor.recordReward(6);
    const hacked = monitor.check({ step: 3, heldOutAccuracy: 0.45, heldOutCount: 400, kl: 0.7 });
    expect(hacked.drop).toMatchObject({ test: "binomial", fromStep: 0 });
    expect(hacked.warnings).toHaveLength(2);
    expect(hacked.warnings[0]).toContain("held-out accuracy fell");
    expect(hacked.warnings[1]).toContain("passed the bound 0.5");
    // Restored state continues the comparison (a small further drop is noise).
    const copy = new OverOptimizationMonitor({ klBound: null });
    copy.restore(JSON.parse(JSON.stringify(monitor.state())));
    copy.recordReward(7);
    expect(copy.check({ step: 4, heldOutAccuracy: 0.44, heldOutCount: 400, kl: 0.7 }).warnings).toHaveLength(
      1,
    );
    expect(copy.checks).toHaveLength(4);
  });
});
