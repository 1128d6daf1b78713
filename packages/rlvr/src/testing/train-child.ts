/**
 * The RLVR kill/resume child (run as built JS): trains the toy task in `--directory`
 * (resuming when a checkpoint exists), printing `checkpoint <step>` after each checkpoint,
 * then `done <sha256 of parameters>` or `interrupted <step>` (SIGINT). `--step-delay-ms`
 * sleeps after each step so a parent can kill it mid-run.
 */
import { parseArgs } from "node:util";
import { createRunContext, interruptSignal, sha256Hex } from "@posttrain/core";
import { parameterBytes } from "@posttrain/engine";
import { train } from "../train.js";
import { toyModelConfig, toyRlvrConfig, toyRlvrRows, toyTokenizer } from "./toy.js";

const { values } = parseArgs({
  options: { directory: { type: "string" }, steps: { type: "string" }, "step-delay-ms": { type: "string" } },
});
const delay = Number(values["step-delay-ms"] ?? 0);
const interrupt = interruptSignal();
const context = createRunContext({
  directory: values.directory!,
  seed: 1,
  streamName: "rlvr",
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
  config: toyRlvrConfig({ steps: Number(values.steps), monitor: { everySteps: 2, klBound: 1e-6 } }),
  model: { kind: "initialize", config: toyModelConfig, seed: 3 },
  data: { train: toyRlvrRows(), evaluation: toyRlvrRows() },
  context,
  tokenizer: toyTokenizer,
});
interrupt.dispose();
process.stdout.write(
  result.status === "completed"
    ? `done ${sha256Hex(parameterBytes(result.parameters))}\n`
    : `interrupted ${result.step}\n`,
);
