import { ToolError } from "../errors.js";
import type { ToolRegistry } from "../registry.js";
import type { ParsedToolCall, ToolCallFormat } from "./types.js";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * open-instruct's tag format (`--tool_parser_type legacy`, its `OpenInstructLegacyToolParser`):
 * a call is `<NAME>BODY</NAME>` for a configured call name; BODY, verbatim (not trimmed), fills
 * the tool's tag argument (open-instruct: its first required parameter). A turn stops at any
 * `</NAME>` (the stop strings); every complete call in the turn's text is a call, in text
 * order. Each output is wrapped as `<output>\nTEXT\n</output>\n` and the wrapped outputs are
 * concatenated (open-instruct formats and tokenizes each observation on its own).
 *
 * Stricter than open-instruct: an opening `<NAME>` that is never closed (the turn ended at
 * EOS or its token limit inside a call) is a malformed call — an error observation — where
 * open-instruct finds no call and ends the rollout.
 *
 * `callNames` maps a call name to a registered tool (`{ code: "python" }` for the
 * `r1_simple_chat_postpend_think_tool_vllm` template's `<code>` tag); default: every tool of
 * the registry under its own name.
 */
export function createTagFormat(params: {
  registry: ToolRegistry;
  callNames?: Readonly<Record<string, string>>;
  outputWrapName?: string;
}): ToolCallFormat {
  const callNames =
    params.callNames ?? Object.fromEntries([...params.registry.keys()].map((name) => [name, name] as const));
  const wrap = params.outputWrapName ?? "output";
  const entries = Object.entries(callNames);
  if (entries.length === 0)
    throw new ToolError({
      code: "tool_format_invalid",
      message: "the tag format needs at least one call name",
    });
  for (const [callName, toolName] of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(callName))
      throw new ToolError({
        code: "tool_format_invalid",
        message: `call name "${callName}" must be a plain tag name`,
        details: { callName },
      });
    if (!params.registry.has(toolName))
      throw new ToolError({
        code: "tool_unknown",
        message: `call name "${callName}" names unknown tool "${toolName}"; known tools: ${[...params.registry.keys()].join(", ")}`,
        details: { callName, toolName },
      });
  }
  const opening = new RegExp(entries.map(([callName]) => `<${escapeRegExp(callName)}>`).join("|"), "g");
  return {
    name: "tags",
    stop: entries.map(([callName]) => `</${callName}>`),
    parse({ text }) {
      const found: Array<{ at: number; entry: ParsedToolCall }> = [];
      const covered: Array<[number, number]> = [];
      // open-instruct searches each call name's pattern on its own (non-greedy, dot-all) and
      // sorts the matches by position.
      for (const [callName, toolName] of entries) {
        const single = new RegExp(`<${escapeRegExp(callName)}>([\\s\\S]*?)</${escapeRegExp(callName)}>`, "g");
        for (const match of text.matchAll(single)) {
          const tool = params.registry.get(toolName)!;
          found.push({
            at: match.index,
            entry: {
              kind: "call",
              call: { name: toolName, arguments: { [tool.tagArgument]: match[1] ?? "" } },
            },
          });
          covered.push([match.index, match.index + match[0].length]);
        }
      }
      for (const match of text.matchAll(opening)) {
        const inside = covered.some(([start, end]) => match.index >= start && match.index < end);
        if (!inside)
          found.push({
            at: match.index,
            entry: {
              kind: "malformed",
              error: `unclosed ${match[0]}: a call is ${match[0]}…${match[0].replace("<", "</")}`,
            },
          });
      }
      return found.sort((a, b) => a.at - b.at).map((item) => item.entry);
    },
    continuation({ outputs }) {
      return outputs.map((output) => `<${wrap}>\n${output.replaceAll("\u0000", "")}\n</${wrap}>\n`).join("");
    },
  };
}
