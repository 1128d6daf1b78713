import type { ChatTemplate } from "@posttrain/data";
import { ToolError } from "../errors.js";
import type { ToolCall } from "../types.js";
import type { ParsedToolCall, ToolCallFormat } from "./types.js";

const callPattern = /<tool_call>([\s\S]*?)<\/tool_call>/g;

/**
 * Parses Hermes / Qwen2.5-style calls: every `<tool_call>BODY</tool_call>` of the turn, in
 * order, where BODY (whitespace around it ignored) must be one JSON object with exactly a
 * string `name` and an object `arguments` — what the Qwen2.5 template writes and vLLM's
 * Hermes parser reads. Anything else is a malformed call (an error observation that says
 * what is wrong): invalid JSON, a missing or non-string `name`, `arguments` that is not an
 * object (a JSON string of an object is refused too), extra keys, an unclosed `<tool_call>`.
 */
export function parseHermesToolCalls(params: { text: string }): ParsedToolCall[] {
  const { text } = params;
  const found: Array<{ at: number; entry: ParsedToolCall }> = [];
  let end = 0;
  for (const match of text.matchAll(callPattern)) {
    end = match.index + match[0].length;
    const body = (match[1] ?? "").trim();
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (error) {
      found.push({
        at: match.index,
        entry: {
          kind: "malformed",
          error: `malformed tool call: not valid JSON (${error instanceof Error ? error.message : String(error)})`,
        },
      });
      continue;
    }
    const problem = hermesCallProblem(value);
    found.push({
      at: match.index,
      entry:
        problem === null
          ? { kind: "call", call: value as ToolCall }
          : { kind: "malformed", error: `malformed tool call: ${problem}` },
    });
  }
  const unclosed = text.indexOf("<tool_call>", end);
  if (unclosed >= 0)
    found.push({
      at: unclosed,
      entry: { kind: "malformed", error: "malformed tool call: <tool_call> is never closed" },
    });
  return found.map((item) => item.entry);
}

function hermesCallProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return 'expected {"name": …, "arguments": {…}}';
  const record = value as Record<string, unknown>;
  if (typeof record["name"] !== "string" || record["name"] === "") return '"name" must be a non-empty string';
  const args = record["arguments"];
  if (typeof args !== "object" || args === null || Array.isArray(args))
    return '"arguments" must be a JSON object';
  const extra = Object.keys(record).filter((key) => key !== "name" && key !== "arguments");
  if (extra.length > 0) return `unexpected key ${JSON.stringify(extra[0])}`;
  return null;
}

/**
 * The chat template's own tool-call syntax (Hermes / Qwen2.5): calls are parsed by
 * {@link parseHermesToolCalls}; a turn ends at the model's end-of-turn token (EOS, e.g.
 * `<|im_end|>`), so there is no stop string. The continuation is rendered by the model's
 * Jinja template: the conversation with one `tool` message per output, with the generation
 * prompt, minus the conversation without them — the exact text the template would have
 * produced for the SFT data — preceded by whatever the template writes after `endOfTurn`
 * (Qwen2.5: `\n`), since the model's turn ended with that token.
 */
export function createChatTemplateFormat(params: {
  template: ChatTemplate;
  /** The text of the end-of-turn token that ends an assistant turn (Qwen2.5: `<|im_end|>`). */
  endOfTurn: string;
  /** OpenAI-style function definitions bound as the template's `tools`. */
  tools?: readonly unknown[];
}): ToolCallFormat {
  const { template, endOfTurn } = params;
  const render = (
    messages: Parameters<ChatTemplate["renderToolConversation"]>[0]["messages"],
    prompt: boolean,
  ) =>
    template.renderToolConversation({
      messages,
      ...(params.tools === undefined ? {} : { tools: params.tools }),
      addGenerationPrompt: prompt,
    });
  return {
    name: "chat_template",
    stop: [],
    parse: parseHermesToolCalls,
    continuation({ messages, outputs }) {
      const before = render(messages, false);
      const after = render(
        [...messages, ...outputs.map((output) => ({ role: "tool" as const, content: output }))],
        true,
      );
      if (!after.startsWith(before))
        throw new ToolError({
          code: "tool_format_invalid",
          message: "the chat template does not render tool messages as an extension of the conversation",
        });
      const turnEnd = before.lastIndexOf(endOfTurn);
      if (turnEnd < 0)
        throw new ToolError({
          code: "tool_format_invalid",
          message: `the chat template's assistant turn does not end with ${JSON.stringify(endOfTurn)}`,
        });
      return before.slice(turnEnd + endOfTurn.length) + after.slice(before.length);
    },
  };
}
