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

describe("olmo2-1b-instruct recipe (golden: docs/olmo2.md flags)", () => {
  it("SFT: OLMo-2-0425-1B, add_bos, 3e-5 linear warmup 0.03, 2 epochs, sum, 8×2×8 = 128, 4096, seed 1", () => {
    expect(recipe.model).toMatchObject({ kind: "hub", repo: "allenai/OLMo-2-0425-1B" });
    expect(recipe.tokenizer.addBos).toBe(true);
    const sft = stage("sft");
    if (sft.type !== "sft") throw new Error("sft stage");
    expect(sft.data.train[0]).toMatchObject({ repo: "allenai/tulu-3-sft-olmo-2-mixture-0225" });
    expect(sft.data.maxLength).toBe(4096);
    expect(sft.hyperparameters).toMatchObject({
      learningRate: { peak: 3e-5, schedule: "linear", warmup: { ratio: 0.03 } },
      duration: { epochs: 2 },
      reduction: "sum",
      batch: { devices: 8, perDeviceBatchSize: 2, gradientAccumulationSteps: 8 },
      seed: 1,
    });
  });

  it("DPO: 2.5e-6 linear warmup 0.1, dpo_norm β 5, 1 epoch, 8×8×2 = 128, 2048, seed 111", () => {
    const dpo = stage("dpo");
    if (dpo.type !== "dpo") throw new Error("dpo stage");
    expect(dpo.data.train[0]).toMatchObject({ repo: "allenai/olmo-2-0425-1b-preference-mix" });
    expect(dpo.data.maxLength).toBe(2048);
    expect(dpo.hyperparameters).toMatchObject({
      learningRate: { peak: 2.5e-6, schedule: "linear", warmup: { ratio: 0.1 } },
      loss: { type: "dpo_norm", beta: 5 },
      duration: { epochs: 1 },
      batch: { devices: 8, perDeviceBatchSize: 8, gradientAccumulationSteps: 2 },
      seed: 111,
    });
  });

  it("two GRPO stages (mixed, then MATH): β 0.01 k3, 5e-7 constant, 16 × 48, 2048 response, T = 1", () => {
    const mixed = stage("rlvr-mixed");
    const math = stage("rlvr-math");
    expect(mixed.data.train[0]).toMatchObject({ repo: "allenai/RLVR-GSM-MATH-IF-Mixed-Constraints" });
    expect(math.data.train[0]).toMatchObject({ repo: "allenai/RLVR-MATH" });
    for (const rl of [mixed, math]) {
      if (rl.type !== "rlvr") throw new Error("rlvr stage");
      expect(rl.hyperparameters).toMatchObject({
        kl: { beta: 0.01, estimator: "k3" },
        learningRate: { peak: 5e-7, schedule: "constant" },
        rollouts: { samplesPerPrompt: 16, promptsPerStep: 48, temperature: 1, maxNewTokens: 2048 },
      });
      // 2M episodes per stage, in whole steps of 48 × 16.
      expect(rl.hyperparameters.steps).toBe(Math.floor(2_000_000 / (48 * 16)));
      // docs/olmo2.md:266-268: 4 + 8 learners at 1 per device, local mini-batch 32 (accumulation 32).
      expect(rl.hyperparameters.batch).toEqual({
        devices: 12,
        perDeviceBatchSize: 1,
        gradientAccumulationSteps: 32,
        effectiveBatchSize: 384,
      });
      // torch AdamW's default decay (the script passes only lr); --num_evals 100 → every 26 steps.
      expect(rl.hyperparameters.adamW.weightDecay).toBe(0.01);
      expect(rl.hyperparameters.monitor?.everySteps).toBe(26);
      expect(rl.hyperparameters.checkpointEverySteps).toBe(200);
    }
  });

  it("pins its reference: open-instruct 89b4f62, grpo_vllm_thread_ray_gtrl.py for both RL stages", () => {
    const reference = recipe.referenceImplementation;
    expect(reference?.commit).toBe("89b4f62a553a41d0284e5c577aaa7cf48529f0b3");
    expect(reference?.stages["rlvr-mixed"]?.script).toBe("open_instruct/grpo_vllm_thread_ray_gtrl.py");
    expect(reference?.stages["rlvr-math"]?.script).toBe("open_instruct/grpo_vllm_thread_ray_gtrl.py");
    expect(reference?.stages.dpo?.deepspeedStage).toBe(2);
    expect(recipe.verifiers).toContain("ifeval_old");
  });

  it("pins nothing it cannot know, and plans a ~1.5B model", () => {
    expect(unpinnedReferences(recipe).length).toBeGreaterThan(0);
    const plan = planRecipe({ recipe });
    expect(plan.parameters).toBeGreaterThan(1.4e9);
    expect(plan.parameters).toBeLessThan(1.6e9);
  });
});

describe.skipIf(!existsSync(referencePath))(
  "olmo2-1b-instruct expected table matches reference/tulu3.md",
  () => {
    it("GSM8K, IFEval and MATH after SFT / DPO / the last RLVR stage", () => {
      const text = readFileSync(referencePath, "utf8");
      const line = text.split("\n").find((candidate) => candidate.startsWith("OLMo 2 1B (Table 16"));
      const rest = text.slice(text.indexOf(line ?? "\u0000"));
      const numbers = (label: string) => {
        const match = new RegExp(
          `${label} (\\d+\\.\\d+) / (?:DPO )?(\\d+\\.\\d+) / (?:Instruct )?(\\d+\\.\\d+)`,
        ).exec(rest.replace(/\s+/g, " "));
        if (match === null) throw new Error(`no ${label} numbers`);
        return match.slice(1, 4).map((value) => Number(value) / 100);
      };
      for (const [label, task] of [
        ["GSM8K SFT", "gsm8k"],
        ["IFEval", "ifeval"],
        ["MATH", "minerva_math"],
      ] as const) {
        const [sft, dpo, final] = numbers(label);
        expect(expected("sft", task)).toBeCloseTo(sft ?? Number.NaN, 6);
        expect(expected("dpo", task)).toBeCloseTo(dpo ?? Number.NaN, 6);
        expect(expected("rlvr-math", task)).toBeCloseTo(final ?? Number.NaN, 6);
      }
    });
  },
);
