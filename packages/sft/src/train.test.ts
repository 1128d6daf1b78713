import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext, Random, readEvents } from "@posttrain/core";
import {
  CausalLmTrainer,
  DecoderModel,
  DecodingSession,
  generateTokens,
  loadPretrainedModel as loadServableModel,
  parseLlamaConfig,
} from "@posttrain/engine";
import { loadTrainingModel } from "@posttrain/training";
import { describe, expect, it } from "vitest";
import { tokenBatchOf } from "./batches.js";
import { TokenScorer } from "./forward.js";
import { toyEndOfSequence, toyExamples, toyModelConfig, toySftConfig } from "./test/toy.js";
import { sftOptimizerStep, train } from "./train.js";

const directory = () => mkdtempSync(join(tmpdir(), "sft-test-"));
const context = (path: string) =>
  createRunContext({ directory: path, seed: 1, streamName: "sft", progressMode: "silent" });

describe("sft train", () => {
  it("memorises a small set: token loss near 0 and greedy output reproduces every answer", async () => {
    const examples = toyExamples({ count: 6, seed: 4 });
    const runDirectory = directory();
    const result = await train({
      config: toySftConfig({
        batch: { devices: 1, perDeviceBatchSize: 3, gradientAccumulationSteps: 2 },
        duration: { epochs: 80 },
        learningRate: { peak: 1e-2, schedule: "constant", warmup: { steps: 5 } },
        checkpointEverySteps: 40,
        evaluation: { everySteps: 40, batchSize: 6 },
      }),
      model: { kind: "initialize", config: toyModelConfig, seed: 3 },
      data: {
        train: examples.map((example) => example.row),
        evaluation: examples.map((example) => example.row),
      },
      context: context(runDirectory),
    });
    expect(result.status).toBe("completed");
    expect(result.step).toBe(80);
    expect(result.metrics.lastStep!.tokenLoss).toBeLessThan(0.05);
    expect(result.metrics.evaluationLoss!).toBeLessThan(0.05);
    // The written model folder loads back and greedy decoding reproduces the targets.
    const loaded = await loadTrainingModel({
      source: { kind: "directory", directory: result.modelDirectory! },
    });
    expect(Array.from(loaded.parameters)).toEqual(Array.from(result.parameters));
    const session = await DecodingSession.create({
      model: await loadServableModel({ directory: result.modelDirectory! }),
      threads: 1,
    });
    const generated = await generateTokens({
      session,
      rows: examples.map((example) => ({
        promptTokenIds: example.prompt,
        sampling: { temperature: 0 },
        maxNewTokens: 8,
        random: Random.fromSeed(0),
      })),
      eosTokenIds: [toyEndOfSequence],
    });
    expect(generated.map((sequence) => sequence.tokenIds)).toEqual(examples.map((example) => example.answer));
    const { events } = readEvents({ path: join(runDirectory, "events.jsonl") });
    const steps = events.filter((event) => event.type === "step-end");
    expect(steps).toHaveLength(80);
    expect(steps[0]!["tokenLoss"]).toBeGreaterThan(2);
    expect(events.find((event) => event.type === "effective-batch")).toMatchObject({ effectiveBatchSize: 6 });
    const resolved = JSON.parse(readFileSync(join(runDirectory, "config.json"), "utf8"));
    expect(resolved).toMatchObject({
      stage: "sft",
      totalSteps: 80,
      effectiveBatchSize: 6,
      config: { reduction: "sum" },
    });
  }, 60_000);

  it("refuses an effective batch that does not match, naming the fields", async () => {
    await expect(
      train({
        config: toySftConfig({
          batch: { devices: 1, perDeviceBatchSize: 2, gradientAccumulationSteps: 2, effectiveBatchSize: 128 },
        }),
        model: { kind: "initialize", config: toyModelConfig, seed: 3 },
        data: { train: toyExamples({ count: 4, seed: 2 }).map((example) => example.row) },
        context: context(directory()),
      }),
    ).rejects.toThrow(/batch\.effectiveBatchSize is 128 .*batch\.perDeviceBatchSize \(2\).*= 4/);
  });

  it("refuses to resume a run directory under a different config", async () => {
    const runDirectory = directory();
    const data = { train: toyExamples({ count: 4, seed: 2 }).map((example) => example.row) };
    const model = { kind: "initialize" as const, config: toyModelConfig, seed: 3 };
    await train({
      config: toySftConfig({ duration: { steps: 1 } }),
      model,
      data,
      context: context(runDirectory),
    });
    await expect(
      train({
        config: toySftConfig({ duration: { steps: 2 }, reduction: "mean" }),
        model,
        data,
        context: context(runDirectory),
      }),
    ).rejects.toMatchObject({ code: "train_config_changed" });
  });
});

describe("sft loss reductions (open-instruct semantics)", () => {
  const setup = async () => {
    const model = new DecoderModel(parseLlamaConfig(toyModelConfig), { threadInvariantGemms: false });
    const loaded = await loadTrainingModel({
      source: { kind: "initialize", config: toyModelConfig, seed: 3 },
    });
    const examples = toyExamples({ count: 3, seed: 9 });
    // Micro-batches with different trained-token counts: 1 row (5 tokens) and 2 rows (10).
    const first = tokenBatchOf([examples[0]!.row]);
    const second = tokenBatchOf([examples[1]!.row, examples[2]!.row]);
    const scorer = await TokenScorer.create({ model, layout: loaded.layout, lossChunks: 2, threads: 1 });
    const ce = async (batch: typeof first) => scorer.crossEntropy({ batch, parameters: loaded.parameters });
    const trainer = (reduction: "sum" | "mean") =>
      CausalLmTrainer.create({
        model,
        options: { schedule: { kind: "constant", peak: 0, totalSteps: 1 }, reduction: "sum", lossChunks: 2 },
        initialParameters: loaded.parameters,
        threads: 1,
      }).then((created) => ({ created, reduction }));
    return { first, second, ce, trainer, examples };
  };

  it("sum divides the summed token losses by the accumulation steps; mean averages micro-batch means", async () => {
    const { first, second, ce, trainer } = await setup();
    const a = await ce(first);
    const b = await ce(second);
    expect(a.tokens).toBe(5);
    expect(b.tokens).toBe(10);
    const step = async (reduction: "sum" | "mean") => {
      const { created } = await trainer(reduction);
      return sftOptimizerStep({
        trainer: created,
        microBatches: [first, second],
        reduction,
        gradientAccumulationSteps: 2,
        schedule: { kind: "constant", peak: 0, totalSteps: 1 },
        maxGradientNorm: null,
      });
    };
    const sum = await step("sum");
    expect(sum.loss).toBeCloseTo((a.sum + b.sum) / 2, 4);
    const mean = await step("mean");
    expect(mean.loss).toBeCloseTo((a.sum / 5 + b.sum / 10) / 2, 5);
    expect(sum.tokenLoss).toBeCloseTo((a.sum + b.sum) / 15, 5);
    expect(mean.tokenLoss).toBeCloseTo(sum.tokenLoss, 5);
  });

  it("sum's gradient over 2 accumulation steps is half the gradient of one micro-batch holding the same rows", async () => {
    const { trainer, examples } = await setup();
    const rows = [examples[0]!.row, examples[1]!.row];
    const run = async (microBatches: ReturnType<typeof tokenBatchOf>[], accumulation: number) => {
      const { created } = await trainer("sum");
      return sftOptimizerStep({
        trainer: created,
        microBatches,
        reduction: "sum",
        gradientAccumulationSteps: accumulation,
        schedule: { kind: "constant", peak: 0, totalSteps: 1 },
        maxGradientNorm: null,
      });
    };
    const together = await run([tokenBatchOf(rows)], 1);
    const accumulated = await run([tokenBatchOf([rows[0]!]), tokenBatchOf([rows[1]!])], 2);
    expect(accumulated.gradientNorm).toBeCloseTo(together.gradientNorm / 2, 4);
  });
});
