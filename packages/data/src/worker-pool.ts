import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ChatTemplateChoice } from "./chat-template.js";
import { DataError } from "./errors.js";
import { type Chunk, type ChunkResult, processChunk, type TransformSettings } from "./process-chunk.js";
import { loadTokenizer } from "./tokenizer.js";

/** Runs chunks through the transform, in this thread or on worker threads. */
export interface TokenizationPool {
  readonly workers: number;
  run(chunk: Chunk): Promise<ChunkResult>;
  close(): Promise<void>;
}

/**
 * The compiled worker script. Worker threads run JavaScript, so when this module is loaded
 * from its TypeScript source (tests) the built `dist/tokenize-worker.js` is used.
 */
export function workerScriptPath(): string {
  const here = import.meta.url;
  const url = here.endsWith(".ts")
    ? new URL("../dist/tokenize-worker.js", here)
    : new URL("./tokenize-worker.js", here);
  return fileURLToPath(url);
}

/**
 * The parent's Node flags minus export conditions: a test runner resolving workspace
 * packages to their TypeScript sources (`--conditions=@posttrain/source`) must not make the
 * JavaScript worker do the same.
 */
function workerExecArgv(): string[] {
  const kept: string[] = [];
  const flags = process.execArgv;
  for (let index = 0; index < flags.length; index += 1) {
    const flag = flags[index]!;
    if (flag === "--conditions" || flag === "-C") index += 1;
    else if (!flag.startsWith("--conditions=") && !flag.startsWith("-C=")) kept.push(flag);
  }
  return kept;
}

/**
 * Creates a pool. `workers` ≤ 1 tokenizes in this thread; more starts that many worker
 * threads, each with its own tokenizer, fed one chunk at a time (whichever is idle). The
 * caller reassembles results by chunk index, so output does not depend on the worker count.
 */
export async function createTokenizationPool(params: {
  workers: number;
  tokenizer: { directory: string; chatTemplate?: ChatTemplateChoice };
  settings: TransformSettings;
}): Promise<TokenizationPool> {
  if (params.workers <= 1) {
    const tokenizer = await loadTokenizer(params.tokenizer);
    return {
      workers: 1,
      run: async (chunk) => processChunk({ tokenizer, settings: params.settings, chunk }),
      close: async () => {},
    };
  }
  const script = workerScriptPath();
  if (!existsSync(script)) {
    throw new DataError({
      code: "data_worker_failed",
      message: `worker script ${script} not found; build @posttrain/data first (tsc -b)`,
    });
  }
  type Pending = { resolve: (result: ChunkResult) => void; reject: (error: Error) => void };
  interface Slot {
    worker: Worker;
    busy: Pending | null;
  }
  const slots: Slot[] = [];
  const waiting: Array<{ chunk: Chunk; pending: Pending }> = [];
  let failure: Error | null = null;

  const dispatch = (slot: Slot) => {
    const next = waiting.shift();
    if (next === undefined) return;
    slot.busy = next.pending;
    slot.worker.postMessage(next.chunk);
  };

  await Promise.all(
    Array.from({ length: params.workers }, async (_, index) => {
      const worker = new Worker(script, {
        workerData: { tokenizer: params.tokenizer, settings: params.settings },
        execArgv: workerExecArgv(),
      });
      const slot: Slot = { worker, busy: null };
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) =>
          reject(
            new DataError({
              code: "data_worker_failed",
              message: `worker ${index} failed to start`,
              cause: error,
            }),
          );
        worker.once("error", onError);
        worker.once("message", () => {
          worker.off("error", onError);
          resolve();
        });
      });
      worker.on(
        "message",
        (message: { ok: true; result: ChunkResult } | { ok: false; message: string; code: unknown }) => {
          const pending = slot.busy;
          slot.busy = null;
          if (pending === null) return;
          if (message.ok) pending.resolve(message.result);
          else {
            pending.reject(
              new DataError({
                code: "data_worker_failed",
                message: `worker ${index}: ${message.message}`,
                details: { workerCode: message.code },
              }),
            );
          }
          dispatch(slot);
        },
      );
      worker.on("error", (error) => {
        failure = new DataError({
          code: "data_worker_failed",
          message: `worker ${index} crashed`,
          cause: error,
        });
        slot.busy?.reject(failure);
        slot.busy = null;
        for (const item of waiting.splice(0)) item.pending.reject(failure);
      });
      slots.push(slot);
    }),
  );

  return {
    workers: params.workers,
    run(chunk) {
      if (failure !== null) return Promise.reject(failure);
      return new Promise<ChunkResult>((resolve, reject) => {
        waiting.push({ chunk, pending: { resolve, reject } });
        const idle = slots.find((slot) => slot.busy === null);
        if (idle !== undefined) dispatch(idle);
      });
    },
    async close() {
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
