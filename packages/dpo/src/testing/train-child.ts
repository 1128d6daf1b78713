/**
 * The DPO kill/resume child (run as built JS): trains the toy preference task in
 * `--directory` (resuming when a checkpoint exists), printing `checkpoint <step>` after each
 * checkpoint, then `done <sha256 of parameters>` or `interrupted <step>` (SIGINT).
 * `--step-delay-ms` sleeps after each step so a parent can kill it mid-run.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createRunContext, interruptSignal, sha256Hex } from "@posttrain/core";
import { parameterBytes } from "@posttrain/engine";
import { train } from "../train.js";
import { toyDpoConfig, toyModelConfig, toyPreferenceRows } from "./toy.js";

const { values } = parseArgs({
  options: { directory: { type: "string" }, steps: { type: "string" }, "step-delay-ms": { type: "string" } },
});
const delay = Number(values["step-delay-ms"] ?? 0);
const interrupt = interruptSignal();
const context = createRunContext({
  directory: values.directory!,
  seed: 1,
  streamName: "dpo",
  signal: interrupt.signal,
  progressMode: "silent",
});
const events = context.events;
const write = events.write.bind(events);
events.write = (event) => {
  const line = write(event);
  if (event.type === "checkpoint-saved") process.stdout.write(`checkpoint ${String(event["step"])}\n`);
  if (event.type === "step-end" && delay > 0)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, delay);
  return line;
};
const result = await train({
  config: toyDpoConfig({
    duration: { steps: Number(values.steps) },
    loss: { type: "dpo", beta: 0.1, labelSmoothing: 0.1, gammaBetaRatio: 0.3 },
    referenceCacheDirectory: join(values.directory!, "reference-cache"),
  }),
  model: { kind: "initialize", config: toyModelConfig, seed: 3 },
  data: { train: toyPreferenceRows({ count: 12, seed: 2, stream: "train" }) },
  context,
});
interrupt.dispose();
process.stdout.write(
  result.status === "completed"
    ? `done ${sha256Hex(parameterBytes(result.parameters))}\n`
    : `interrupted ${result.step}\n`,
);
