import { safeParseWithSchema } from "@posttrain/core";
import { truncateText } from "./limits.js";
import type { ToolRegistry } from "./registry.js";
import type { ToolCall, ToolErrorKind, ToolLimits, ToolObservation } from "./types.js";

function observation(params: {
  tool: string | null;
  output: string;
  error: string | null;
  errorKind: ToolErrorKind | null;
  truncated: boolean;
  started: number;
  limits: ToolLimits;
}): ToolObservation {
  const output = truncateText({ text: params.output, maxCharacters: params.limits.maxOutputCharacters });
  const error =
    params.error === null
      ? null
      : truncateText({ text: params.error, maxCharacters: params.limits.maxOutputCharacters });
  return {
    tool: params.tool,
    output: output.text,
    error: error?.text ?? null,
    errorKind: params.errorKind,
    truncated: params.truncated || output.truncated || (error?.truncated ?? false),
    durationMilliseconds: Date.now() - params.started,
  };
}

/** An error observation without running anything (malformed or refused calls). */
export function errorObservation(params: {
  tool: string | null;
  error: string;
  errorKind: ToolErrorKind;
  limits: ToolLimits;
}): ToolObservation {
  return observation({ ...params, output: "", truncated: false, started: Date.now() });
}

/**
 * Runs one tool call within `limits` and returns what the model will read. Never throws for
 * anything the call does: an unknown tool, arguments that fail the tool's schema, a timeout
 * (the tool's signal is aborted and the call abandoned at `timeoutMilliseconds`), a thrown
 * error and an oversized output all become observations. Throws only when `signal` (the
 * caller's) is aborted.
 */
export async function callTool(params: {
  registry: ToolRegistry;
  call: ToolCall;
  limits: ToolLimits;
  signal?: AbortSignal;
}): Promise<ToolObservation> {
  const { registry, call, limits } = params;
  const started = Date.now();
  params.signal?.throwIfAborted();
  const tool = registry.get(call.name);
  if (tool === undefined)
    return observation({
      tool: call.name,
      output: "",
      error: `unknown tool "${call.name}"; available tools: ${[...registry.keys()].join(", ")}`,
      errorKind: "unknown_tool",
      truncated: false,
      started,
      limits,
    });
  const parsed = safeParseWithSchema({
    schema: tool.argumentSchema,
    value: call.arguments,
    label: "arguments",
  });
  if (!parsed.success)
    return observation({
      tool: tool.name,
      output: "",
      error: `invalid arguments for ${tool.name}: ${parsed.error.issues
        .map((issue) => `${issue.path}: ${issue.message}`)
        .join("; ")}`,
      errorKind: "invalid_arguments",
      truncated: false,
      started,
      limits,
    });
  const controller = new AbortController();
  const onCallerAbort = () => controller.abort(params.signal?.reason);
  params.signal?.addEventListener("abort", onCallerAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), limits.timeoutMilliseconds);
  });
  try {
    const outcome = await Promise.race([
      tool.call(parsed.value, { signal: controller.signal, limits }).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      ),
      timeout,
    ]);
    params.signal?.throwIfAborted();
    if (outcome === "timeout") {
      controller.abort(new Error("tool call timed out"));
      return observation({
        tool: tool.name,
        output: "",
        error: `${tool.name} timed out after ${limits.timeoutMilliseconds / 1000} s`,
        errorKind: "timeout",
        truncated: false,
        started,
        limits,
      });
    }
    if ("error" in outcome) {
      const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      return observation({
        tool: tool.name,
        output: "",
        error: `${tool.name} failed: ${message}`,
        errorKind: "tool_failed",
        truncated: false,
        started,
        limits,
      });
    }
    const { result } = outcome;
    const error = result.error ?? null;
    return observation({
      tool: tool.name,
      output: result.output,
      error,
      errorKind: error === null ? null : "tool_failed",
      truncated: result.truncated ?? false,
      started,
      limits,
    });
  } finally {
    clearTimeout(timer);
    params.signal?.removeEventListener("abort", onCallerAbort);
  }
}

/**
 * The text the model reads for one observation (open-instruct's python tool: the output, then
 * the error on a new line when there is one).
 */
export function observationText(params: { observation: ToolObservation }): string {
  const { output, error } = params.observation;
  if (error === null || error === "") return output;
  return output === "" ? error : `${output}\n${error}`;
}
