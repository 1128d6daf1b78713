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

/**
 * Main → worker. `prepare` asks the worker to run a verifier once on its own probes before
 * the first timed check, so lazy one-off set-up (a language model's tables, a CAS, an
 * interpreter probe) is never charged to a check's time bound.
 */
export type WorkerRequest = { type: "check"; task: CheckTask } | { type: "prepare"; verifier: string };

/** Worker → main. */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "prepared"; verifier: string }
  | { type: "result"; id: number; result: CheckResult }
  | { type: "failed"; id: number; error: { code: string; message: string } };
