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
      process.stderr.write(`posttrain: error [${error.code}]: ${error.message}\n`);
      return exitCodes.failure;
    }
    process.stderr.write(`posttrain: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
    return exitCodes.failure;
  }
}
