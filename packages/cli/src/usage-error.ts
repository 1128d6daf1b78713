import { PosttrainError } from "@posttrain/core";

/**
 * Thrown by a command for bad arguments: exit code 2, like a commander usage error. Its own
 * file so commands import it without importing program.ts (which imports every command).
 */
export class UsageError extends PosttrainError {
  constructor(message: string) {
    super({ code: "usage_error", message });
    this.name = "UsageError";
  }
}
