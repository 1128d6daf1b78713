import { z } from "zod";

/**
 * How a stage or an eval task uses tools (issue 19) — one schema for both: evals' task
 * `tools` (re-exported there as `toolUseSpecSchema`) and rlvr's `tools`.
 * - `allow`: names of @posttrain/tools' built-in registry (`calculator`, `python`);
 * - `format`: `tags` (open-instruct's `<name>…</name>` calls; the prompt needs
 *   `tagFormatInstructions`) or `chat_template` (the model's own Hermes/Qwen syntax, tool
 *   definitions passed to its template);
 * - `callNames` (tag format): call name → tool (`{ code: "python" }`); default: each tool under
 *   its own name;
 * - `instructions` (tag format, evals): the system paragraph that tells the model the tools;
 *   default `tagFormatInstructions` (every call tag with the tool's description). A model
 *   trained with a shorter paragraph (recipes/micro-tools) is evaluated with its own. rlvr
 *   reads its prompts from the dataset, which must carry the paragraph itself;
 * - `maxToolCalls`: calls per rollout (open-instruct `--max_tool_calls`, default 5);
 * - `maxTotalTokens`: response tokens (model + tool output) per rollout; absent = the stage's or
 *   task's own generation budget;
 * - `timeoutMilliseconds`, `maxOutputCharacters`: each call's bounds (@posttrain/tools' limits);
 * - `concurrency`: tool calls run at once across the batch.
 */
export const toolUseConfigSchema = z.strictObject({
  allow: z.array(z.string().min(1)).min(1),
  format: z.enum(["tags", "chat_template"]).default("tags"),
  callNames: z.record(z.string(), z.string()).optional(),
  instructions: z.string().min(1).optional(),
  maxToolCalls: z.number().int().positive().max(100).default(5),
  maxTotalTokens: z.number().int().positive().optional(),
  timeoutMilliseconds: z.number().int().min(10).max(600_000).default(3000),
  maxOutputCharacters: z.number().int().min(16).max(1_048_576).default(4000),
  concurrency: z.number().int().positive().max(64).default(4),
});

export type ToolUseConfig = z.output<typeof toolUseConfigSchema>;
export type ToolUseConfigInput = z.input<typeof toolUseConfigSchema>;
