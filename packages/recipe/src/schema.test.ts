import { PosttrainError, ValidationError } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import {
  applyVariant,
  defineRecipe,
  mergeVariant,
  parseRecipe,
  type RecipeInput,
  reportedTasks,
} from "./schema.js";
import { fixtureRecipeInput } from "./test/index.js";

const valid = () => fixtureRecipeInput() as unknown as RecipeInput;

function issuePaths(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error("expected a ValidationError");
}

describe("defineRecipe", () => {
  it("accepts a valid recipe and fills defaults", () => {
    const recipe = defineRecipe(valid());
    expect(recipe.name).toBe("fixture");
    expect(recipe.stages[0]?.evaluate).toBe(true);
    expect(recipe.stages[0]?.data.evaluation).toEqual([]);
    expect(recipe.evals.tasks[0]?.name).toBe("fixture_gsm");
  });

  it("validates stage hyperparameters with the stage package's schema, naming the field", () => {
    const input = valid() as unknown as { stages: Array<{ hyperparameters: Record<string, unknown> }> };
    const stage = input.stages[0];
    if (stage === undefined) throw new Error("fixture has a stage");
    stage.hyperparameters["reduction"] = "average";
    delete stage.hyperparameters["threads"];
    const message = issuePaths(() => defineRecipe(input as unknown as RecipeInput));
    expect(message).toContain("stages[0].hyperparameters.reduction");
    expect(message).toContain("stages[0].hyperparameters.threads");
  });

  it("names unknown fields, bad versions and dataset specs", () => {
    const input = { ...valid(), version: "one", extra: 1 } as unknown as RecipeInput;
    const message = issuePaths(() => defineRecipe(input));
    expect(message).toContain("version");
    expect(message).toContain("extra");
  });

  it("checks cross references: duplicate stages, expected rows naming unknown stages or tasks", () => {
    const input = valid() as unknown as { stages: unknown[]; expected: Array<Record<string, unknown>> };
    input.stages.push(input.stages[0]);
    input.expected.push({
      after: "dpo",
      task: "gsm8k",
      metric: "accuracy",
      value: 0,
      tolerance: 0,
      source: "x",
    });
    const message = issuePaths(() => defineRecipe(input as unknown as RecipeInput));
    expect(message).toContain("stages[1].name");
    expect(message).toContain("expected[1].after");
    expect(message).toContain("expected[1].task");
  });

  it("a task that allows tools also reports `<task>+tools`: expected rows and claims may name it", () => {
    const input = valid() as unknown as {
      evals: { tasks: Array<Record<string, unknown>> };
      expected: Array<Record<string, unknown>>;
    };
    const row = { after: "sft", metric: "accuracy", value: 0.5, tolerance: 0.1, source: "x" };
    input.expected = [{ ...row, task: "fixture_gsm+tools" }];
    expect(issuePaths(() => defineRecipe(input as unknown as RecipeInput))).toContain("expected[0].task");
    input.evals.tasks[0]!["tools"] = { allow: ["calculator"] };
    const recipe = defineRecipe(input as unknown as RecipeInput);
    expect(reportedTasks(recipe).map((task) => task.name)).toEqual(["fixture_gsm", "fixture_gsm+tools"]);
  });

  it("stage data may mask spans of assistant text (tool output); absent by default", () => {
    const input = valid() as unknown as { stages: Array<{ data: Record<string, unknown> }> };
    expect(defineRecipe(input as unknown as RecipeInput).stages[0]!.data.maskedSpans).toBeUndefined();
    input.stages[0]!.data["maskedSpans"] = [{ start: "<output>\n", end: "" }];
    expect(issuePaths(() => defineRecipe(input as unknown as RecipeInput))).toContain(
      "stages[0].data.maskedSpans[0].end",
    );
    input.stages[0]!.data["maskedSpans"] = [{ start: "<output>\n", end: "\n</output>\n" }];
    expect(defineRecipe(input as unknown as RecipeInput).stages[0]!.data.maskedSpans).toEqual([
      { start: "<output>\n", end: "\n</output>\n" },
    ]);
  });

  it("resolves eval task names to the shipped specs", () => {
    const input = valid() as unknown as { evals: { tasks: unknown[] }; expected: unknown[] };
    input.evals.tasks = ["gsm8k"];
    input.expected = [];
    const recipe = parseRecipe({ value: input });
    expect(recipe.evals.tasks[0]?.olmes.task).toBe("gsm8k::tulu");
  });
});

describe("variants", () => {
  it("merges objects deeply, stages by name; $replace, null and other arrays replace", () => {
    expect(
      mergeVariant(
        {
          a: { b: 1, c: 2 },
          list: [1, 2],
          stages: [
            { name: "x", v: 1 },
            { name: "y", v: 2 },
          ],
        },
        { a: { c: 3, b: null }, list: [9], stages: [{ name: "y", v: { $replace: { w: 1 } } }] },
      ),
    ).toEqual({
      a: { b: null, c: 3 },
      list: [9],
      stages: [
        { name: "x", v: 1 },
        { name: "y", v: { w: 1 } },
      ],
    });
    expect(mergeVariant({ d: { epochs: 1 } }, { d: { $replace: { steps: 3 } } })).toEqual({
      d: { steps: 3 },
    });
  });

  it("applies the smoke variant and re-validates", () => {
    const recipe = applyVariant({ recipe: defineRecipe(valid()), variant: "smoke" });
    expect(recipe.stages[0]?.hyperparameters).toMatchObject({ duration: { steps: 2 } });
    expect(recipe.expected).toEqual([]);
    expect(recipe.variants).toEqual({});
  });

  it("refuses an unknown variant with a stable code", () => {
    expect(() => applyVariant({ recipe: defineRecipe(valid()), variant: "huge" })).toThrow(
      expect.objectContaining({ code: "recipe_variant_unknown" }),
    );
    try {
      applyVariant({ recipe: defineRecipe(valid()), variant: "huge" });
    } catch (error) {
      expect(PosttrainError.isInstance(error)).toBe(true);
    }
  });
});
