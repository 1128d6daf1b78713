// A worker speaking the verifier worker protocol, for pool tests: "hang" never answers,
// "crash" exits the thread, anything else scores 1. Plain JS so Node 20 runs it from src/.
import { parentPort } from "node:worker_threads";

parentPort.on("message", (task) => {
  if (task.response === "hang") for (;;) {}
  if (task.response === "crash") process.exit(3);
  parentPort.postMessage({
    type: "result",
    id: task.id,
    result: { score: 1, details: { echoed: task.response }, error: false, timeout: false },
  });
});
parentPort.postMessage({ type: "ready" });
