/**
 * The body of a tokenization worker thread (see worker-pool.ts). It loads the tokenizer
 * named in `workerData`, then answers each {@link Chunk} message with its {@link ChunkResult},
 * transferring the id buffers instead of copying them.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { ChatTemplateChoice } from "./chat-template.js";
import { type Chunk, processChunk, type TransformSettings, transferablesOf } from "./process-chunk.js";
import { loadTokenizer } from "./tokenizer.js";

interface WorkerSetup {
  tokenizer: { directory: string; chatTemplate?: ChatTemplateChoice };
  settings: TransformSettings;
}

const setup = workerData as WorkerSetup;
const port = parentPort;
if (port === null) throw new Error("tokenize-worker must run in a worker thread");
const tokenizer = await loadTokenizer(setup.tokenizer);
port.on("message", (chunk: Chunk) => {
  try {
    const result = processChunk({ tokenizer, settings: setup.settings, chunk });
    port.postMessage({ ok: true, result }, transferablesOf(result));
  } catch (error) {
    port.postMessage({
      ok: false,
      index: chunk.index,
      message: error instanceof Error ? error.message : String(error),
      code: (error as { code?: unknown }).code ?? null,
    });
  }
});
port.postMessage({ ready: true });
