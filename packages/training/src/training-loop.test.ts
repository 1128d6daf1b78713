import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext, readEvents } from "@posttrain/core";
import { ParameterLayout } from "@posttrain/engine";
import { afterEach, describe, expect, it } from "vitest";
import { GraphTrainer } from "./graph-trainer.js";
import { openRunCheckpoints } from "./run-checkpoints.js";
import { runTrainingLoop } from "./training-loop.js";

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

/** A trainer of one 2×2 weight whose step adds the step number to every weight (no graph needed). */
const parameterSpecs = [{ name: "model.embed_tokens.weight", shape: [2, 2], init: "normal" as const }];

class CountingTrainer extends GraphTrainer {
  constructor() {
    super({
      parameterSpecs,
      parameters: new Float32Array(new ParameterLayout(parameterSpecs).length),
      adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    });
  }
}

const modelConfig = {
  vocab_size: 2,
  hidden_size: 2,
  intermediate_size: 2,
  num_hidden_layers: 0,
  num_attention_heads: 1,
  num_key_value_heads: 1,
  head_dim: 2,
  max_position_embeddings: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10_000,
  rope_scaling: null,
  tie_word_embeddings: true,
  bos_token_id: 0,
  eos_token_id: 1,
  pad_token_id: null,
} as never;

async function run(params: {
  directory: string;
  totalSteps: number;
  abortAfterStep?: number;
  heldOut?: { everySteps: number; atEnd: boolean };
}) {
  const controller = new AbortController();
  const context = createRunContext({
    directory: params.directory,
    seed: 1,
    streamName: "loop",
    progressMode: "silent",
    signal: controller.signal,
  });
  const trainer = new CountingTrainer();
  const checkpoints = await openRunCheckpoints({
    context,
    stage: "loop",
    trainer: trainer.asCheckpointTarget(),
    configKey: "key",
  });
  const heldOutSteps: number[] = [];
  const calls: string[] = [];
  const result = await runTrainingLoop({
    context,
    label: "loop",
    trainer,
    model: { config: modelConfig },
    totalSteps: params.totalSteps,
    checkpoints,
    checkpointEverySteps: 2,
    beforeFirstStep: async () => {
      calls.push(`start@${trainer.step}`);
    },
    runStep: async ({ step }) => {
      for (let index = 0; index < trainer.parameters.length; index += 1)
        trainer.parameters[index]! += step + 1;
      if (step + 1 === params.abortAfterStep) controller.abort();
      return { metrics: { step: step + 1, value: trainer.parameters[0]! }, progress: {} };
    },
    afterStep: async ({ step }) => {
      calls.push(`after@${step}`);
    },
    heldOut:
      params.heldOut === undefined
        ? null
        : {
            ...params.heldOut,
            run: async ({ step }) => {
              heldOutSteps.push(step);
            },
          },
    close: async () => {
      calls.push("close");
    },
    metrics: (lastStep) => ({ lastValue: lastStep?.value ?? null }),
    endEvent: (metrics) => ({ lastValue: metrics.lastValue }),
  });
  const { events } = readEvents({ path: join(params.directory, "events.jsonl") });
  return { result, events, heldOutSteps, calls };
}

async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "training-loop-"));
  directories.push(directory);
  return directory;
}

describe("runTrainingLoop", () => {
  it("owns the step counter, writes step-end events, checks held-out and checkpoints at their cadence, and ends the run", async () => {
    const directory = await temporaryDirectory();
    const { result, events, heldOutSteps, calls } = await run({
      directory,
      totalSteps: 5,
      heldOut: { everySteps: 3, atEnd: true },
    });
    expect(result.status).toBe("completed");
    expect(result.step).toBe(5);
    // 1 + 2 + 3 + 4 + 5 added to every weight.
    expect([...new Set(result.parameters)]).toEqual([15]);
    expect(result.metrics).toEqual({ lastValue: 15 });
    expect(events.filter((event) => event.type === "step-end").map((event) => event["step"])).toEqual([
      1, 2, 3, 4, 5,
    ]);
    // Held-out at step 3 and, since 5 is not a multiple of 3, at the end.
    expect(heldOutSteps).toEqual([3, 5]);
    // Checkpoints at 2 and 4 (cadence), then 5 (the end).
    expect(events.filter((event) => event.type === "checkpoint-saved").map((event) => event["step"])).toEqual(
      [2, 4, 5],
    );
    expect(calls).toEqual(["start@0", "after@1", "after@2", "after@3", "after@4", "after@5", "close"]);
    const end = events.find((event) => event.type === "train-end")!;
    expect(end).toMatchObject({ step: 5, lastValue: 15 });
    const metrics = JSON.parse(await readFile(join(directory, "metrics.json"), "utf8"));
    expect(metrics).toEqual({ step: 5, lastValue: 15 });
  });

  it("stops on an aborted signal with a checkpoint and resumes from it to the same weights", async () => {
    const directory = await temporaryDirectory();
    const interrupted = await run({ directory, totalSteps: 5, abortAfterStep: 3 });
    expect(interrupted.result.status).toBe("interrupted");
    expect(interrupted.result.step).toBe(3);
    expect(interrupted.result.modelDirectory).toBeNull();
    expect(interrupted.events.at(-1)).toMatchObject({ type: "interrupted", step: 3 });
    expect(interrupted.calls.at(-1)).toBe("close");
    const resumed = await run({ directory, totalSteps: 5 });
    expect(resumed.result.status).toBe("completed");
    expect(resumed.calls[0]).toBe("start@3");
    expect([...new Set(resumed.result.parameters)]).toEqual([15]);
    const fresh = await run({ directory: await temporaryDirectory(), totalSteps: 5 });
    expect(Array.from(fresh.result.parameters)).toEqual(Array.from(resumed.result.parameters));
  });

  it("runs no step past totalSteps on a finished run, and a held-out check without atEnd only on its cadence", async () => {
    const directory = await temporaryDirectory();
    const { heldOutSteps } = await run({
      directory,
      totalSteps: 4,
      heldOut: { everySteps: 3, atEnd: false },
    });
    expect(heldOutSteps).toEqual([3]);
    const again = await run({ directory, totalSteps: 4, heldOut: { everySteps: 3, atEnd: true } });
    expect(again.result.step).toBe(4);
    // No step ran (resumed at 4 of 4): the end check still runs once.
    expect(again.heldOutSteps).toEqual([4]);
  });
});
