import { readFileSync } from "node:fs";
import { PosttrainError } from "@posttrain/core";
import { Command, CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { UsageError } from "./usage-error.js";

export { UsageError };

export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

const packageJson = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export function createProgram(): Command {
  const program = new Command("posttrain")
    .description("Reproducible LLM post-training recipes: SFT → DPO → RLVR → evals")
    .version(packageJson.version, "-v, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  for (const register of commands) register(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Runs the CLI and returns the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    // A command that finished but failed its check (e.g. `run` against the expected table)
    // sets process.exitCode rather than throwing.
    return typeof process.exitCode === "number" && process.exitCode !== 0 ? process.exitCode : exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code))
        return exitCodes.ok;
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`posttrain: ${error.message}\n`);
      return exitCodes.usage;
    }
    if (PosttrainError.isInstance(error)) {
      process.stderr.write(`posttrain: error [${error.code}]: ${error.message}${causeLines(error)}\n`);
      return exitCodes.failure;
    }
    process.stderr.write(`${describeUnexpected(error)}\n`);
    return exitCodes.failure;
  }
}

/** Set to print the stack of an unexpected error (a bug report needs it; a user does not). */
export const debugVariable = "POSTTRAIN_DEBUG";

/**
 * The causes a PosttrainError's message does not already say (e.g. the network reason under
 * "fetch failed"), one line each, at most three deep. A wrapper whose deeper cause the message
 * already says (undici's "fetch failed" around `connect ECONNREFUSED …`) adds nothing and is
 * left out.
 */
export function causeLines(error: Error): string {
  const chain: Error[] = [];
  for (let cause = (error as { cause?: unknown }).cause; chain.length < 3 && cause instanceof Error; ) {
    chain.push(cause);
    cause = (cause as { cause?: unknown }).cause;
  }
  const saidByMessage = chain.map((cause) => cause.message !== "" && error.message.includes(cause.message));
  const lines: string[] = [];
  let seen = error.message;
  chain.forEach((cause, index) => {
    const deeperAlreadySaid = saidByMessage.slice(index + 1).some(Boolean);
    const code = (cause as NodeJS.ErrnoException).code;
    const text = `${cause.message}${typeof code === "string" && !cause.message.includes(code) ? ` (${code})` : ""}`;
    if (cause.message !== "" && !seen.includes(cause.message) && !deeperAlreadySaid)
      lines.push(`\n  cause: ${text}`);
    seen += ` ${cause.message}`;
  });
  return lines.join("");
}

/**
 * An error no command turned into a PosttrainError: a Node system error (ENOENT, EACCES, …)
 * as `error [ENOENT]: <message>`, anything else as its message; the stack only with
 * POSTTRAIN_DEBUG=1, with a line saying so and asking for a bug report.
 */
export function describeUnexpected(error: unknown): string {
  const debug = /^(1|true|yes)$/i.test(process.env[debugVariable] ?? "");
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as NodeJS.ErrnoException)?.code;
  const stack = debug && error instanceof Error && error.stack !== undefined ? `\n${error.stack}` : "";
  if (typeof code === "string" && /^E[A-Z]+$/.test(code))
    return `posttrain: error [${code}]: ${message}${stack}`;
  return `posttrain: unexpected error: ${message}${
    debug
      ? stack
      : `\n  (this is a bug in posttrain: rerun with ${debugVariable}=1 for the stack trace and report it)`
  }`;
}
