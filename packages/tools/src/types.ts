import type { z } from "zod";

/** The hard bounds of one tool call: its wall time and the size of the output the model sees. */
export interface ToolLimits {
  /** Wall-clock limit of one call, start-up included (open-instruct's python tool: 3 s). */
  timeoutMilliseconds: number;
  /** Characters of output (and of error text) kept; the rest is cut and `truncated` is set. */
  maxOutputCharacters: number;
}

/** What a tool's `call` receives besides its arguments. */
export interface ToolContext {
  /** Aborted when the call's time is up or the caller gives up: stop work, free resources. */
  signal: AbortSignal;
  limits: ToolLimits;
}

/** What a tool returns: `output` for the model, `error` when the call failed (also for the model). */
export interface ToolResult {
  output: string;
  error?: string;
  truncated?: boolean;
}

/**
 * A tool the model may call. `argumentSchema` validates the call's arguments (a failure is an
 * observation, never an exception); `description` goes into the prompt; `tagArgument` is the
 * argument that a tag-format call's body fills (`<code>print(1)</code>` → `{ code: "print(1)" }`,
 * open-instruct's rule: the first required parameter). `call` must honour `context.signal`.
 */
export interface Tool<Arguments = unknown> {
  name: string;
  version: string;
  description: string;
  argumentSchema: z.ZodType<Arguments>;
  tagArgument: string;
  call(arguments_: Arguments, context: ToolContext): Promise<ToolResult>;
}

/** Why a call's observation is an error (stable strings, counted in metrics). */
export type ToolErrorKind =
  | "malformed_call"
  | "unknown_tool"
  | "invalid_arguments"
  | "timeout"
  | "tool_failed"
  | "call_limit_reached";

/** One parsed tool call: the name and the raw arguments as the model wrote them. */
export interface ToolCall {
  name: string;
  arguments: unknown;
}

/** What running (or refusing) one tool call produced: the observation the model reads. */
export interface ToolObservation {
  /** The tool's name as called (may be unknown), or null for a call that did not parse. */
  tool: string | null;
  output: string;
  error: string | null;
  errorKind: ToolErrorKind | null;
  truncated: boolean;
  durationMilliseconds: number;
}
