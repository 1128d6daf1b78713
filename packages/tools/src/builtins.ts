import { createCalculatorTool } from "./calculator.js";
import { createPythonTool } from "./python.js";
import { createToolRegistry, type ToolRegistry } from "./registry.js";
import type { Tool } from "./types.js";

/** The built-in tools' names. */
export const builtinToolNames = ["python", "calculator"] as const;

/** A registry of the built-in tools: `python` (sandboxed, stateless) and `calculator` (exact). */
export function builtinToolRegistry(): ToolRegistry {
  return createToolRegistry({
    tools: [createPythonTool() as Tool<unknown>, createCalculatorTool() as Tool<unknown>],
  });
}
