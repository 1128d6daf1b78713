import { parseLlamaConfig } from "@posttrain/engine";
import { describe, expect, it } from "vitest";
import { formatPlan, parameterCount, planRecipe } from "./plan.js";
import { defineRecipe, type RecipeInput } from "./schema.js";
import { fixtureRecipeInput } from "./test-support.js";

describe("parameterCount", () => {
  it("matches Llama-3.1-8B's published 8,030,261,248 parameters", () => {
    const config = parseLlamaConfig({
      vocab_size: 128256,
      hidden_size: 4096,
      intermediate_size: 14336,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      tie_word_embeddings: false,
    });
    expect(parameterCount({ config })).toBe(8_030_261_248);
  });

  it("counts tied embeddings once", () => {
    const config = parseLlamaConfig({
      vocab_size: 10,
      hidden_size: 4,
      intermediate_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      tie_word_embeddings: true,
    });
    // 40 embeddings + (4·4·4 attention + 3·4·8 MLP + 2·4 norms) + 4 final norm
    expect(parameterCount({ config })).toBe(40 + 64 + 96 + 8 + 4);
  });
});

describe("planRecipe", () => {
  const recipe = defineRecipe(fixtureRecipeInput() as unknown as RecipeInput);
  const n = parameterCount({
    config: parseLlamaConfig((fixtureRecipeInput()["model"] as { config: unknown }).config),
  });

  it("uses 6·N·tokens with rows from the lock × epochs × maxLength (upper bound)", () => {
    const lock = {
      datasets: { "sft.train[0]": { kind: "local", directory: "data", expect: { rows: 4000, files: [] } } },
    };
    const plan = planRecipe({
      recipe,
      lock: lock as never,
      throughput: { matmulGflops: 10, efficiency: 0.5 },
    });
    const stage = plan.stages[0];
    expect(stage).toMatchObject({
      rows: 4000,
      rowsFrom: "lock",
      trainingTokens: 4000 * 256,
      tokensPerRowFrom: "max_length",
    });
    expect(stage?.flops).toBe(6 * n * 4000 * 256);
    expect(stage?.estimatedSeconds).toBeCloseTo((6 * n * 4000 * 256) / 5e9, 6);
    expect(stage?.memoryBytes.optimizer).toBe(8 * n);
    expect(formatPlan(plan)).toContain("sft");
  });

  it("uses measured lengths when given, and unknown rows without a lock", () => {
    const measured = planRecipe({ recipe, meanTokensPerRow: { sft: 100 } });
    expect(measured.stages[0]).toMatchObject({ rows: null, trainingTokens: null, flops: null });
    expect(measured.totalSeconds).toBeNull();
  });
});
