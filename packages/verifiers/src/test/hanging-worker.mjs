// A worker speaking the verifier worker protocol, for pool tests: "hang" never answers,
// "crash" exits the thread, anything else scores 1; preparing verifier "slow-setup" takes
// 400 ms. Plain JS so Node 20 runs it from src/.
import { parentPort } from "node:worker_threads";

parentPort.on("message", (request) => {
  if (request.type === "prepare") {
    const delay = request.verifier === "slow-setup" ? 400 : 0;
    setTimeout(() => parentPort.postMessage({ type: "prepared", verifier: request.verifier }), delay);
    return;
  }
  const task = request.task;
  if (task.response === "hang") for (;;) {}
  if (task.response === "crash") process.exit(3);
  parentPort.postMessage({
    type: "result",
    id: task.id,
    result: { score: 1, details: { echoed: task.response }, error: false, timeout: false },
  });
});
parentPort.postMessage({ type: "ready" });
