import { parseWithSchema } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { toolUseConfigSchema } from "./tool-use-config.js";

describe("toolUseConfigSchema", () => {
  it("fills the defaults (tags, 5 calls, 3 s, 4000 characters, 4 at once)", () => {
    expect(toolUseConfigSchema.parse({ allow: ["calculator"] })).toEqual({
      allow: ["calculator"],
      format: "tags",
      maxToolCalls: 5,
      timeoutMilliseconds: 3000,
      maxOutputCharacters: 4000,
      concurrency: 4,
    });
  });

  it("names the wrong field and refuses unknown ones", () => {
    expect(() =>
      parseWithSchema({ schema: toolUseConfigSchema, value: { allow: [] }, label: "tools" }),
    ).toThrow(/allow/);
    expect(() =>
      parseWithSchema({
        schema: toolUseConfigSchema,
        value: { allow: ["python"], timeoutMilliseconds: 1 },
        label: "tools",
      }),
    ).toThrow(/timeoutMilliseconds/);
    expect(() =>
      parseWithSchema({
        schema: toolUseConfigSchema,
        value: { allow: ["python"], format: "xml" },
        label: "tools",
      }),
    ).toThrow(/format/);
    expect(toolUseConfigSchema.safeParse({ allow: ["python"], maxCalls: 3 }).success).toBe(false);
  });
});
