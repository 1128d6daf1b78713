import type { Command } from "commander";

/**
 * How every `posttrain` subcommand plugs in: a module under `src/commands/` exports a
 * `register(program)` function, and `src/commands/index.ts` lists it. Actions throw a
 * PosttrainError (exit 1) or a UsageError (exit 2); `main` maps them to exit codes.
 */
export type RegisterCommand = (program: Command) => void;

/** Prints `value` as JSON (for `--json`) or via `human` otherwise. */
export function output(params: { json: boolean | undefined; value: unknown; human: () => string }): void {
  process.stdout.write(params.json ? `${JSON.stringify(params.value, null, 2)}\n` : `${params.human()}\n`);
}
