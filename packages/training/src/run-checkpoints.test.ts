import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext, readEvents } from "@posttrain/core";
import { CausalLmTrainer, DecoderModel, parseLlamaConfig } from "@posttrain/engine";
import { afterEach, describe, expect, it } from "vitest";
import { TrainError } from "./errors.js";
import { openRunCheckpoints } from "./run-checkpoints.js";

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

const config = parseLlamaConfig({
  vocab_size: 16,
  hidden_size: 8,
  intermediate_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
});

async function trainer(): Promise<CausalLmTrainer> {
  return CausalLmTrainer.create({
    model: new DecoderModel(config, { threadInvariantGemms: false }),
    seed: 3,
    threads: 1,
    options: { schedule: { kind: "constant", peak: 1e-3, totalSteps: 4, warmup: { steps: 0 } } },
  });
}

describe("openRunCheckpoints", () => {
  it("saves once per step with the stage's extras, resumes, and refuses another config", async () => {
    const directory = await mkdtemp(join(tmpdir(), "run-checkpoints-"));
    directories.push(directory);
    const context = createRunContext({ directory, seed: 1, streamName: "test", progressMode: "silent" });
    const first = await trainer();
    const fresh = await openRunCheckpoints({
      context,
      stage: "test",
      trainer: first,
      configKey: "key-a",
      extra: () => ({ note: "stage state" }),
    });
    expect(fresh.restored).toBeNull();
    expect(fresh.directory).toBe(join(directory, "checkpoints"));
    first.step = 2;
    first.parameters[0] = 0.25;
    await fresh.save();
    await fresh.save();

    const second = await trainer();
    const restoredExtras: unknown[] = [];
    const resumed = await openRunCheckpoints({
      context,
      stage: "test",
      trainer: second,
      configKey: "key-a",
      onRestore: (checkpoint) => restoredExtras.push(checkpoint.state.extra),
    });
    expect(second.step).toBe(2);
    expect(second.parameters[0]).toBe(0.25);
    expect(restoredExtras).toEqual([{ configKey: "key-a", cursor: { step: 2 }, note: "stage state" }]);
    expect(resumed.restored?.state.step).toBe(2);

    await expect(
      openRunCheckpoints({ context, stage: "test", trainer: await trainer(), configKey: "key-b" }),
    ).rejects.toSatisfy((error) => TrainError.hasCode(error, "train_config_changed"));
    const types = readEvents({ path: context.events.path }).events.map((event) => event.type);
    expect(types.filter((type) => type === "checkpoint-saved")).toHaveLength(1);
    expect(types.filter((type) => type === "resumed")).toHaveLength(1);
  });
});
