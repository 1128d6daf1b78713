import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createCalculatorTool } from "./calculator.js";
import { callTool, observationText } from "./call-tool.js";
import { ToolError } from "./errors.js";
import { createToolRegistry, selectTools } from "./registry.js";
import type { Tool } from "./types.js";

const limits = { timeoutMilliseconds: 200, maxOutputCharacters: 200 };

/** Test tools with the behaviours the bounds must contain. */
const slow: Tool<unknown> = {
  name: "slow",
  version: "1",
  description: "never answers until aborted",
  argumentSchema: z.object({}),
  tagArgument: "text",
  call: (_arguments, context) =>
    new Promise((_resolve, reject) =>
      context.signal.addEventListener("abort", () => reject(new Error("aborted"))),
    ),
};
const loud: Tool<unknown> = {
  name: "loud",
  version: "1",
  description: "prints a lot",
  argumentSchema: z.object({ size: z.number().int() }),
  tagArgument: "size",
  call: async (arguments_) => ({ output: "x".repeat((arguments_ as { size: number }).size) }),
};
const broken: Tool<unknown> = {
  name: "broken",
  version: "1",
  description: "throws",
  argumentSchema: z.object({}),
  tagArgument: "text",
  call: async () => {
    throw new Error("disk on fire");
  },
};
const registry = createToolRegistry({ tools: [slow, loud, broken, createCalculatorTool() as Tool<unknown>] });

describe("callTool", () => {
  it("turns an unknown tool, bad arguments, a throw, a timeout and a huge output into observations", async () => {
    const unknown = await callTool({ registry, call: { name: "shell", arguments: {} }, limits });
    expect(unknown).toMatchObject({ tool: "shell", errorKind: "unknown_tool", output: "" });
    expect(unknown.error).toContain("available tools: slow, loud, broken, calculator");

    const invalid = await callTool({
      registry,
      call: { name: "calculator", arguments: { expr: "1" } },
      limits,
    });
    expect(invalid.errorKind).toBe("invalid_arguments");
    expect(invalid.error).toContain("expression");

    const thrown = await callTool({ registry, call: { name: "broken", arguments: {} }, limits });
    expect(thrown).toMatchObject({ errorKind: "tool_failed", error: "broken failed: disk on fire" });

    const timedOut = await callTool({ registry, call: { name: "slow", arguments: {} }, limits });
    expect(timedOut).toMatchObject({ errorKind: "timeout", error: "slow timed out after 0.2 s" });

    const huge = await callTool({
      registry,
      call: { name: "loud", arguments: { size: 10_000 } },
      limits: { ...limits, maxOutputCharacters: 64 },
    });
    expect(huge.truncated).toBe(true);
    expect(huge.errorKind).toBeNull();
    expect(huge.output.startsWith("x".repeat(64))).toBe(true);
    expect(huge.output).toContain("[truncated 9936 characters]");
    expect(huge.output.length).toBeLessThan(100);
  });

  it("runs a good call and formats output then error, as open-instruct's python tool does", async () => {
    const ok = await callTool({
      registry,
      call: { name: "calculator", arguments: { expression: "6*7" } },
      limits,
    });
    expect(ok).toMatchObject({
      tool: "calculator",
      output: "42",
      error: null,
      errorKind: null,
      truncated: false,
    });
    expect(observationText({ observation: ok })).toBe("42");
    expect(observationText({ observation: { ...ok, output: "a", error: "b" } })).toBe("a\nb");
    expect(observationText({ observation: { ...ok, output: "", error: "b" } })).toBe("b");
  });

  it("throws when the caller aborts (that is the run stopping, not a tool failure)", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      callTool({
        registry,
        call: { name: "calculator", arguments: { expression: "1" } },
        limits,
        signal: controller.signal,
      }),
    ).rejects.toThrow();
  });

  it("the registry refuses duplicates and bad names, and selection names unknown tools", () => {
    expect(() => createToolRegistry({ tools: [loud, loud] })).toThrow(ToolError);
    expect(() => createToolRegistry({ tools: [{ ...loud, name: "Bad Name" }] })).toThrow(/must match/);
    expect(() => selectTools({ registry, names: ["nope"] })).toThrow(/unknown tool "nope"; known tools/);
    expect([...selectTools({ registry, names: ["calculator"] }).keys()]).toEqual(["calculator"]);
  });
});
