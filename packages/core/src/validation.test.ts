import { describe, expect, it } from "vitest";
import { z } from "zod";
import { formatPath, parseWithSchema, safeParseWithSchema, ValidationError } from "./validation.js";

const schema = z.object({
  name: z.string().min(1),
  stages: z.array(z.object({ kind: z.enum(["sft", "dpo"]), learningRate: z.number().positive() })),
});

describe("parseWithSchema", () => {
  it("returns the parsed value", () => {
    const value = { name: "micro", stages: [{ kind: "sft", learningRate: 1e-3 }] };
    expect(parseWithSchema({ schema, value, label: "recipe" })).toEqual(value);
  });

  it("names every offending path in one error", () => {
    const value = {
      name: "",
      stages: [
        { kind: "sft", learningRate: 1 },
        { kind: "ppo", learningRate: -1 },
      ],
    };
    let error: unknown;
    try {
      parseWithSchema({ schema, value, label: "recipe micro" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(validation.code).toBe("validation_failed");
    expect(validation.issues.map((issue) => issue.path)).toEqual([
      "name",
      "stages[1].kind",
      "stages[1].learningRate",
    ]);
    expect(validation.message).toMatch(/^invalid recipe micro:\n {2}- name: /);
  });

  it("has a non-throwing form", () => {
    const result = safeParseWithSchema({ schema, value: 3, label: "recipe" });
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.issues[0]?.path).toBe("(root)");
  });

  it("formats odd keys", () => {
    expect(formatPath(["files", 0, "my-key"])).toBe('files[0]["my-key"]');
  });
});
