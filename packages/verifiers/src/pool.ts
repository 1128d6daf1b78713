/**
 * A pool of verifier worker threads with a hard time bound per check: a check that has not
 * answered within its bound gets score 0 with `details.timeout`, and its worker is
 * terminated and replaced (a stuck CAS call or regex cannot be interrupted any other way).
 * Before a worker's first check of a verifier, it prepares that verifier (runs it on a few
 * of its probes) under a separate, generous bound, so one-off lazy set-up never counts
 * against a check's bound — otherwise a set-up slower than the bound would time out, get
 * its worker replaced, and time out again in the fresh worker, forever.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { VerifierWorkerError } from "./errors.js";
import type { CheckResult } from "./verify-one.js";
import type { CheckTask, WorkerMessage, WorkerRequest } from "./worker-protocol.js";

/**
 * The compiled worker entry. From dist/ it sits next to this module; from src/ (vitest loads
 * TypeScript sources) it is `../dist/worker.js`, so tests need a prior `tsc -b`.
 */
export function workerEntry(): URL {
  const here = import.meta.url;
  return here.endsWith(".ts") ? new URL("../dist/worker.js", here) : new URL("./worker.js", here);
}

/**
 * The parent's Node flags minus `--conditions` (`-C`): a test runner's "@posttrain/source"
 * condition would make the compiled worker import TypeScript sources Node 20 cannot run.
 */
function workerExecArgv(): string[] {
  const flags: string[] = [];
  const argv = process.execArgv;
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index] as string;
    if (flag === "--conditions" || flag === "-C") {
      index += 1;
      continue;
    }
    if (flag.startsWith("--conditions=") || flag.startsWith("-C=")) continue;
    flags.push(flag);
  }
  return flags;
}

/** One finished check: how long it took from dispatch to verdict (preparation excluded). */
export interface FinishedCheck {
  task: CheckTask;
  result: CheckResult;
  milliseconds: number;
}

interface Pending {
  task: CheckTask;
  /** `performance.now()` when the check was sent to its (prepared) worker. */
  startedAt?: number;
  resolve: (result: CheckResult) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  current: Pending | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Verifiers this worker has run its preparation for. */
  prepared: Set<string>;
  /** The verifier being prepared (the slot's `current` task waits for it). */
  preparing: string | undefined;
}

/** Bound of one verifier's preparation in a fresh worker (lazy set-up, not a check). */
export const preparationTimeoutMilliseconds = 180_000;

export class VerifierPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private readonly entry: URL;
  private closed = false;
  private readonly onCheckFinished: ((finished: FinishedCheck) => void) | undefined;
  /** Consecutive workers that failed before becoming ready (3 in a row close the pool). */
  private startFailures = 0;
  /** Workers replaced after a timeout or crash. */
  replacedWorkers = 0;

  /** Number of worker threads. */
  readonly size: number;

  /**
   * `size` worker threads. `entry` overrides the worker script (a compiled module speaking
   * the `worker-protocol` messages; tests use it to exercise hangs and crashes).
   */
  constructor(params: { size: number; entry?: URL; onCheckFinished?: (finished: FinishedCheck) => void }) {
    this.size = Math.max(1, params.size);
    this.entry = params.entry ?? workerEntry();
    this.onCheckFinished = params.onCheckFinished;
    if (!existsSync(fileURLToPath(this.entry))) {
      throw new VerifierWorkerError({
        message: `verifier worker ${fileURLToPath(this.entry)} is missing: build @posttrain/verifiers first (tsc -b)`,
      });
    }
    for (let index = 0; index < this.size; index += 1) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(this.entry, { execArgv: workerExecArgv() });
    const slot: Slot = {
      worker,
      ready: false,
      current: undefined,
      timer: undefined,
      prepared: new Set(),
      preparing: undefined,
    };
    worker.on("message", (message: WorkerMessage) => this.onMessage(slot, message));
    worker.on("error", (error) => this.onFailure(slot, error));
    worker.on("exit", (code) => {
      if (!this.closed && this.slots.includes(slot))
        this.onFailure(slot, new Error(`worker exited with code ${code}`));
    });
    return slot;
  }

  private onMessage(slot: Slot, message: WorkerMessage): void {
    if (message.type === "ready") {
      slot.ready = true;
      this.startFailures = 0;
      this.dispatch();
      return;
    }
    if (message.type === "prepared") {
      if (slot.timer !== undefined) clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.prepared.add(message.verifier);
      slot.preparing = undefined;
      if (slot.current !== undefined) this.start(slot, slot.current);
      return;
    }
    const pending = slot.current;
    if (pending === undefined || pending.task.id !== message.id) return;
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.current = undefined;
    slot.timer = undefined;
    if (message.type === "result") {
      this.finish(pending, message.result);
      pending.resolve(message.result);
    } else
      pending.reject(new VerifierWorkerError({ message: `${message.error.code}: ${message.error.message}` }));
    this.dispatch();
  }

  /** Replaces `slot`'s worker; the task it was running (if any) gets `result`. */
  private replace(slot: Slot, result: CheckResult | undefined): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    const pending = slot.current;
    slot.current = undefined;
    this.slots.splice(index, 1);
    void slot.worker.terminate();
    this.replacedWorkers += 1;
    if (!this.closed) this.slots.push(this.spawn());
    if (pending !== undefined && result !== undefined) {
      this.finish(pending, result);
      pending.resolve(result);
    }
    this.dispatch();
  }

  private onFailure(slot: Slot, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (!slot.ready) this.startFailures += 1;
    if (!slot.ready && (this.startFailures >= 3 || this.slots.every((other) => !other.ready))) {
      // A worker that cannot even start will never run anything: fail everything queued.
      const failure = new VerifierWorkerError({
        message: `verifier worker failed to start: ${message}`,
        cause: error,
      });
      for (const pending of this.queue.splice(0)) pending.reject(failure);
      this.closed = true;
      return;
    }
    this.replace(slot, {
      score: 0,
      details: { error: { code: "verifier_worker_failed", message } },
      error: true,
      timeout: false,
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.current !== undefined) continue;
      const pending = this.queue.shift();
      if (pending === undefined) return;
      slot.current = pending;
      const verifier = pending.task.verifier;
      if (slot.prepared.has(verifier)) {
        this.start(slot, pending);
        continue;
      }
      // First check of this verifier in this worker: prepare it outside the check's bound.
      slot.preparing = verifier;
      slot.timer = setTimeout(
        () =>
          this.replace(slot, {
            score: 0,
            details: {
              verifier,
              error: {
                code: "verifier_worker_failed",
                message: `preparing ${verifier} exceeded ${preparationTimeoutMilliseconds} ms`,
              },
            },
            error: true,
            timeout: false,
          }),
        preparationTimeoutMilliseconds,
      );
      slot.worker.postMessage({ type: "prepare", verifier } satisfies WorkerRequest);
    }
  }

  private finish(pending: Pending, result: CheckResult): void {
    if (this.onCheckFinished === undefined || pending.startedAt === undefined) return;
    this.onCheckFinished({ task: pending.task, result, milliseconds: performance.now() - pending.startedAt });
  }

  /** Sends `pending` to `slot`'s (prepared) worker and starts its time bound. */
  private start(slot: Slot, pending: Pending): void {
    pending.startedAt = performance.now();
    const bound = pending.task.timeoutMilliseconds;
    slot.timer = setTimeout(() => {
      this.replace(slot, {
        score: 0,
        details: {
          verifier: pending.task.verifier,
          timeout: true,
          timeoutMilliseconds: bound,
          error: { code: "verifier_timeout", message: `check exceeded its time bound of ${bound} ms` },
        },
        error: false,
        timeout: true,
      });
    }, bound);
    slot.worker.postMessage({ type: "check", task: pending.task } satisfies WorkerRequest);
  }

  /** Queues one check; resolves with its result (timeouts and crashes are results too). */
  run(task: CheckTask): Promise<CheckResult> {
    if (this.closed)
      return Promise.reject(new VerifierWorkerError({ message: "the verifier pool is closed" }));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  /** Terminates every worker. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const slot of slots) if (slot.timer !== undefined) clearTimeout(slot.timer);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }
}
