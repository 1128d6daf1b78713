import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { planRecipe, unpinnedReferences } from "@posttrain/recipe";
import { describe, expect, it } from "vitest";
import { recipe } from "./recipe.js";

const referencePath = fileURLToPath(new URL("../../../../shared/reference/tulu3.md", import.meta.url));
const stage = (name: string) => {
  const found = recipe.stages.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no stage ${name}`);
  return found;
};
const expected = (after: string, task: string) =>
  recipe.expected.find((row) => row.after === after && row.task === task)?.value;

describe("tulu3-8b recipe (golden: the release-era open-instruct flags)", () => {
  it("SFT: 5e-6 linear, warmup 0.03, wd 0, 2 epochs, summed loss, effective batch 128, 4096 tokens, seed 123", () => {
    const sft = stage("sft");
    if (sft.type !== "sft") throw new Error("sft stage");
    expect(sft.data.maxLength).toBe(4096);
    expect(sft.data.train[0]).toMatchObject({ repo: "allenai/tulu-3-sft-mixture", amount: { fraction: 1 } });
    const h = sft.hyperparameters;
    expect(h.learningRate).toEqual({ peak: 5e-6, schedule: "linear", warmup: { ratio: 0.03 } });
    expect(h.adamW.weightDecay).toBe(0);
    expect(h.duration).toEqual({ epochs: 2 });
    expect(h.reduction).toBe("sum");
    expect(h.batch.devices * h.batch.perDeviceBatchSize * h.batch.gradientAccumulationSteps).toBe(128);
    expect(h.seed).toBe(123);
  });

  it("DPO: dpo_norm β 5, 5e-7 linear warmup 0.1, 1 epoch, effective 128 (not the 4-node 512), 2048 tokens", () => {
    const dpo = stage("dpo");
    if (dpo.type !== "dpo") throw new Error("dpo stage");
    expect(dpo.data.train[0]).toMatchObject({ repo: "allenai/llama-3.1-tulu-3-8b-preference-mixture" });
    const h = dpo.hyperparameters;
    expect(h.loss).toEqual({ type: "dpo_norm", beta: 5, labelSmoothing: 0, gammaBetaRatio: 0.3 });
    expect(h.learningRate).toEqual({ peak: 5e-7, schedule: "linear", warmup: { ratio: 0.1 } });
    expect(h.duration).toEqual({ epochs: 1 });
    expect(h.batch.devices * h.batch.perDeviceBatchSize * h.batch.gradientAccumulationSteps).toBe(128);
    expect(dpo.data.maxLength).toBe(2048);
    // accelerate fills the DeepSpeed config's gradient_clipping "auto" with 1.0 (--clip_grad_norm stays −1).
    expect(h.maxGradientNorm).toBe(1);
  });

  it("RLVR: PPO, KL β 0.05, 3e-7 linear no warmup, reward 10, non-stop −10, 2048 + 2048, T = 1, 224 prompts, 4 epochs", () => {
    const rlvr = stage("rlvr");
    if (rlvr.type !== "ppo") throw new Error("ppo stage");
    expect(rlvr.data.train[0]).toMatchObject({ repo: "allenai/RLVR-GSM-MATH-IF-Mixed-Constraints" });
    const h = rlvr.hyperparameters;
    expect(h).toMatchObject({
      kl: { beta: 0.05, estimator: "k1" },
      learningRate: { peak: 3e-7, schedule: "linear", warmup: { steps: 0 } },
      rewards: { verification: 10, nonStopPenalty: -10 },
      sampling: { temperature: 1, maxPromptTokens: 2048, maxResponseTokens: 2048 },
      promptsPerStep: 224,
      updateEpochs: 4,
      maxGradientNorm: 1,
      clipRange: 0.2,
      totalEpisodes: 10_000_000,
      seed: 3,
    });
  });

  it("leaves every Hub revision to `lock` (no invented SHA) so a run refuses until locked", () => {
    expect(unpinnedReferences(recipe)).toHaveLength(1 + 1 + 3 + 4);
  });

  it("sizes Llama-3.1-8B at 8.03B parameters and plans without downloading", () => {
    const plan = planRecipe({ recipe });
    expect(plan.parameters).toBe(8_030_261_248);
    // Episodes are known without data: 10M × (2048 + 2048) tokens.
    expect(plan.stages[2]?.trainingTokens).toBe(10_000_000 * 4096);
  });

  it("expected table: every row cites Table 6, ±2 points", () => {
    for (const row of recipe.expected) {
      expect(row.source).toContain("Table 6");
      expect(row.tolerance).toBe(0.02);
    }
    expect(expected("rlvr", "gsm8k")).toBe(0.876);
  });
});

describe.skipIf(!existsSync(referencePath))(
  "tulu3-8b expected table matches reference/tulu3.md Table 6",
  () => {
    const text = existsSync(referencePath) ? readFileSync(referencePath, "utf8") : "";
    const row = (label: string) => {
      const line = text.split("\n").find((candidate) => candidate.startsWith(`| ${label}`));
      if (line === undefined) throw new Error(`no row ${label}`);
      return line
        .split("|")
        .slice(2, 5)
        .map((cell) => Number(cell.trim()) / 100);
    };
    it.each([
      ["GSM8K (8-shot CoT)", "gsm8k"],
      ["MATH (4-shot CoT, flex)", "minerva_math"],
      ["IFEval (prompt-level loose)", "ifeval"],
      ["HumanEval (pass@10, T=0.8)", "humaneval"],
    ])("%s", (label, task) => {
      const [sft, dpo, final] = row(label);
      expect(expected("sft", task)).toBeCloseTo(sft ?? Number.NaN, 6);
      expect(expected("dpo", task)).toBeCloseTo(dpo ?? Number.NaN, 6);
      expect(expected("rlvr", task)).toBeCloseTo(final ?? Number.NaN, 6);
    });
  },
);
