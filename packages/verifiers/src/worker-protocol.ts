/** Messages between `verify`'s pool (main thread) and a verifier worker thread. */
import type { CheckResult } from "./verify-one.js";

/** One check, sent to a worker. Labels are raw (validated again in the worker). */
export interface CheckTask {
  id: number;
  verifier: string;
  remap: string[];
  response: string;
  label: unknown;
  stripReasoning: boolean;
  timeoutMilliseconds: number;
  maximumResponseCharacters: number;
  responseTokenCount?: number;
}

export type WorkerMessage =
  | { type: "ready" }
  | { type: "result"; id: number; result: CheckResult }
  | { type: "failed"; id: number; error: { code: string; message: string } };
