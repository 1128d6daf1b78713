import type { ToolConversationMessage } from "@posttrain/data";
import type { ToolCall } from "../types.js";

/** One entry of a turn's tool calls, in text order: a call, or a call that did not parse. */
export type ParsedToolCall = { kind: "call"; call: ToolCall } | { kind: "malformed"; error: string };

/**
 * How tool calls are written and tool outputs read back. `stop`: the stop strings a turn ends
 * at (besides EOS). `parse`: the calls of one assistant turn's text. `continuation`: the text
 * appended after the turn — the observations, wrapped, up to where the model writes again.
 */
export interface ToolCallFormat {
  name: "tags" | "chat_template";
  stop: readonly string[];
  parse(params: { text: string }): ParsedToolCall[];
  continuation(params: {
    /** The conversation so far, the assistant turn with its `tool_calls` last. */
    messages: readonly ToolConversationMessage[];
    /** One output text per call, in call order (errors included, as the model will read them). */
    outputs: readonly string[];
  }): string;
}
