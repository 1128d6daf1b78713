/**
 * Worker-thread entry of the verifier pool: runs `verifyOne` for each task it receives.
 * Loaded from dist/ (Node 20 cannot run .ts); the pool resolves it next to the compiled
 * module, or `../dist/worker.js` when running from src/ under vitest.
 */
import { parentPort } from "node:worker_threads";
import { PosttrainError } from "@posttrain/core";
import { warmUpCas } from "./math/cas.js";
import { getVerifier, verifierProbes } from "./registry.js";
import { verifyOne } from "./verify-one.js";
import type { CheckTask, WorkerMessage, WorkerRequest } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("worker.js must run in a worker thread");

/**
 * Preparation runs the verifier on its own probes (every code path they cover: lazy tables,
 * language models, interpreter probes), up to this much time in total; results are ignored.
 */
const preparationBudgetMilliseconds = 60_000;

async function prepare(name: string): Promise<void> {
  try {
    const verifier = getVerifier({ name });
    const probes = verifierProbes.filter(
      (probe) => probe.verifier === verifier.name && probe.response.length <= 20_000,
    );
    const started = Date.now();
    for (const probe of probes) {
      if (Date.now() - started > preparationBudgetMilliseconds) break;
      await verifyOne({
        verifier,
        response: probe.response,
        label: probe.label,
        timeoutMilliseconds: 600_000,
      });
    }
  } catch {
    // Preparation is best effort: the real check reports any failure.
  }
}

function check(task: CheckTask): void {
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
    (result) => port?.postMessage({ type: "result", id: task.id, result } satisfies WorkerMessage),
    (error: unknown) => {
      const described = PosttrainError.isInstance(error)
        ? { code: error.code, message: error.message }
        : { code: "verifier_threw", message: error instanceof Error ? error.message : String(error) };
      port?.postMessage({ type: "failed", id: task.id, error: described } satisfies WorkerMessage);
    },
  );
}

port.on("message", (request: WorkerRequest) => {
  if (request.type === "prepare") {
    void prepare(request.verifier).then(() =>
      port.postMessage({ type: "prepared", verifier: request.verifier } satisfies WorkerMessage),
    );
    return;
  }
  check(request.task);
});

warmUpCas();
port.postMessage({ type: "ready" } satisfies WorkerMessage);
