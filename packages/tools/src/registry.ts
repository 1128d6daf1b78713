import { ToolError } from "./errors.js";
import type { Tool } from "./types.js";

/** Tools by name. */
export type ToolRegistry = ReadonlyMap<string, Tool<unknown>>;

const toolNamePattern = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * An explicit registry of `tools` (names: lower-case letters, digits and `_`, unique, as they
 * appear in tag-format calls `<name>…</name>`). Throws `tool_duplicate` / `tool_invalid_name`.
 */
export function createToolRegistry(params: { tools: readonly Tool<unknown>[] }): ToolRegistry {
  const registry = new Map<string, Tool<unknown>>();
  for (const tool of params.tools) {
    if (!toolNamePattern.test(tool.name))
      throw new ToolError({
        code: "tool_invalid_name",
        message: `tool name "${tool.name}" must match ${toolNamePattern}`,
        details: { name: tool.name },
      });
    if (registry.has(tool.name))
      throw new ToolError({
        code: "tool_duplicate",
        message: `tool "${tool.name}" is registered twice`,
        details: { name: tool.name },
      });
    registry.set(tool.name, tool);
  }
  return registry;
}

/**
 * The tools of `registry` named in `names` (a configuration's `tools: [...]`), as a registry
 * of their own. Throws `tool_unknown` listing the known names.
 */
export function selectTools(params: { registry: ToolRegistry; names: readonly string[] }): ToolRegistry {
  return createToolRegistry({
    tools: params.names.map((name) => {
      const tool = params.registry.get(name);
      if (tool === undefined)
        throw new ToolError({
          code: "tool_unknown",
          message: `unknown tool "${name}"; known tools: ${[...params.registry.keys()].join(", ")}`,
          details: { name, known: [...params.registry.keys()] },
        });
      return tool;
    }),
  });
}
