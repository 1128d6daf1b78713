import { PosttrainError } from "@posttrain/core";

/**
 * Stable codes of {@link ToolError}. These are errors of the caller's setup (a registry or
 * a configuration); a model's bad tool call is never one of them but an observation.
 */
export type ToolErrorCode =
  | "tool_unknown"
  | "tool_duplicate"
  | "tool_invalid_name"
  | "tool_invalid_options"
  | "tool_format_invalid";

/** A tool-use setup error (unknown tool in a configuration, duplicate registration, ...). */
export class ToolError extends PosttrainError {
  constructor(params: {
    code: ToolErrorCode;
    message: string;
    details?: Record<string, unknown>;
    cause?: unknown;
  }) {
    super(params);
    this.name = "ToolError";
  }
}
