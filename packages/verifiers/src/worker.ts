/**
 * Worker-thread entry of the verifier pool: runs `verifyOne` for each task it receives.
 * Loaded from dist/ (Node 20 cannot run .ts); `verify` resolves it next to the compiled
 * module, or `../dist/worker.js` when running from src/ under vitest.
 */
import { parentPort } from "node:worker_threads";
import { PosttrainError } from "@posttrain/core";
import { warmUpCas } from "./math/cas.js";
import { verifyOne } from "./verify-one.js";
import type { CheckTask, WorkerMessage } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("worker.js must run in a worker thread");

port.on("message", (task: CheckTask) => {
  verifyOne({
    verifier: task.verifier,
    remap: task.remap,
    response: task.response,
    label: task.label,
    stripReasoning: task.stripReasoning,
    timeoutMilliseconds: task.timeoutMilliseconds,
    maximumResponseCharacters: task.maximumResponseCharacters,
    ...(task.responseTokenCount === undefined ? {} : { responseTokenCount: task.responseTokenCount }),
  }).then(
    (result) => port.postMessage({ type: "result", id: task.id, result } satisfies WorkerMessage),
    (error: unknown) => {
      const described = PosttrainError.isInstance(error)
        ? { code: error.code, message: error.message }
        : { code: "verifier_threw", message: error instanceof Error ? error.message : String(error) };
      port.postMessage({ type: "failed", id: task.id, error: described } satisfies WorkerMessage);
    },
  );
});

warmUpCas();
port.postMessage({ type: "ready" } satisfies WorkerMessage);
