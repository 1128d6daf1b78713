import { runPythonProgram, type TaskPool } from "@posttrain/verifiers";
import { z } from "zod";
import type { Tool, ToolContext, ToolResult } from "./types.js";

const pythonArgumentsSchema = z.object({ code: z.string().max(100_000) }).strict();
export type PythonArguments = z.infer<typeof pythonArgumentsSchema>;

/**
 * Runs one Python program per call in the code sandbox of @posttrain/verifiers (fresh
 * namespaces, uid, rlimits, private tmp: see packages/verifiers/src/code/README.md) and returns
 * its stdout; stderr (a traceback, warnings) comes back as the error, as open-instruct's
 * python tool returns `output + "\n" + error`. Stateless: every call is a new process and
 * nothing of one call is visible to the next (see README.md, "Why stateless").
 *
 * The sandbox's wall limit is the call's timeout, its output cap four bytes per character
 * of `maxOutputCharacters` (a program that prints more is killed there: `truncated`).
 */
export function createPythonTool(
  params: { pool?: TaskPool; memoryMegabytes?: number } = {},
): Tool<PythonArguments> {
  return {
    name: "python",
    version: "1.0.0",
    description:
      "Executes a Python program and returns what it printed (stdout), and stderr on failure. Each call is a fresh process: define everything you use and print the result.",
    argumentSchema: pythonArgumentsSchema,
    tagArgument: "code",
    async call(arguments_: PythonArguments, context: ToolContext): Promise<ToolResult> {
      if (arguments_.code.trim() === "")
        return { output: "", error: "Empty code. Please provide some code to execute." };
      const result = await runPythonProgram({
        program: arguments_.code,
        limits: {
          wallSeconds: context.limits.timeoutMilliseconds / 1000,
          outputBytes: Math.max(1024, context.limits.maxOutputCharacters * 4),
          ...(params.memoryMegabytes === undefined ? {} : { memoryMegabytes: params.memoryMegabytes }),
        },
        signal: context.signal,
        ...(params.pool === undefined ? {} : { pool: params.pool }),
      });
      const stderr = result.stderrTail.trimEnd();
      if (result.timedOut)
        return {
          output: result.stdout,
          error: `Execution timed out after ${context.limits.timeoutMilliseconds / 1000} seconds`,
        };
      if (result.outputLimitExceeded)
        return {
          output: result.stdout,
          error: "output limit exceeded: the program was stopped",
          truncated: true,
        };
      if (result.signal !== null)
        return { output: result.stdout, error: `killed by ${result.signal} (CPU or memory limit)` };
      if (result.syntaxError || result.raised || result.exitCode !== 0) {
        const exit = result.syntaxError || result.raised ? "" : `exit code ${result.exitCode}`;
        return { output: result.stdout, error: [stderr, exit].filter((part) => part !== "").join("\n") };
      }
      return stderr === "" ? { output: result.stdout } : { output: result.stdout, error: stderr };
    },
  };
}
