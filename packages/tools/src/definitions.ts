import { z } from "zod";
import type { ToolRegistry } from "./registry.js";

/**
 * OpenAI-style function definitions of the registry's tools (`{ type: "function", function:
 * { name, description, parameters } }`, parameters as JSON Schema from the zod schema), the
 * shape chat templates read as `tools` (transformers' `apply_chat_template(tools=…)`).
 */
export function toolDefinitions(params: { registry: ToolRegistry }): Array<Record<string, unknown>> {
  return [...params.registry.values()].map((tool) => {
    const { $schema: _schema, ...parameters } = z.toJSONSchema(tool.argumentSchema, {
      io: "input",
    }) as Record<string, unknown>;
    return { type: "function", function: { name: tool.name, description: tool.description, parameters } };
  });
}

/**
 * A system-prompt paragraph for the tag format (models without a tool syntax of their own),
 * after open-instruct's `r1_simple_chat_postpend_think_tool_vllm` template: how to call each
 * tool and where its output appears.
 */
export function tagFormatInstructions(params: {
  registry: ToolRegistry;
  callNames: Readonly<Record<string, string>>;
  outputWrapName?: string;
}): string {
  const wrap = params.outputWrapName ?? "output";
  const lines = Object.entries(params.callNames).map(([callName, toolName]) => {
    const tool = params.registry.get(toolName);
    return `- <${callName}>${tool?.tagArgument ?? "input"}</${callName}>: ${tool?.description ?? ""}`;
  });
  return [
    "You may call tools while you work. Write a call as:",
    ...lines,
    `The result appears in <${wrap}> </${wrap}> tags. You may call tools several times; then give your final answer.`,
  ].join("\n");
}
