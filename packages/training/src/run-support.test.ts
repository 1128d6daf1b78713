import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext } from "@posttrain/core";
import { afterEach, describe, expect, it } from "vitest";
import { TrainError } from "./errors.js";
import { effectiveBatchSize, engineSchedule, recordResolvedConfig } from "./run-support.js";

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

describe("effectiveBatchSize", () => {
  it("multiplies devices, per-device batch and accumulation", () => {
    expect(effectiveBatchSize({ devices: 1, perDeviceBatchSize: 4, gradientAccumulationSteps: 8 })).toBe(32);
    expect(
      effectiveBatchSize({
        devices: 1,
        perDeviceBatchSize: 4,
        gradientAccumulationSteps: 8,
        effectiveBatchSize: 32,
      }),
    ).toBe(32);
  });

  it("names the fields on a mismatch and refuses more than one device", () => {
    const mismatch = () =>
      effectiveBatchSize({
        devices: 1,
        perDeviceBatchSize: 4,
        gradientAccumulationSteps: 8,
        effectiveBatchSize: 30,
      });
    expect(mismatch).toThrow(TrainError);
    expect(mismatch).toThrow(/batch\.effectiveBatchSize is 30 .*batch\.gradientAccumulationSteps \(8\) = 32/);
    try {
      effectiveBatchSize({ devices: 2, perDeviceBatchSize: 1, gradientAccumulationSteps: 1 });
      expect.unreachable();
    } catch (error) {
      expect(TrainError.hasCode(error, "train_unsupported_devices")).toBe(true);
    }
  });
});

describe("engineSchedule", () => {
  it("maps the learning-rate config onto the engine schedule", () => {
    expect(
      engineSchedule({
        learningRate: { peak: 0.1, schedule: "linear", warmup: { ratio: 0.1 } },
        totalSteps: 20,
      }),
    ).toEqual({ kind: "linear", peak: 0.1, totalSteps: 20, warmup: { ratio: 0.1 } });
  });
});

describe("recordResolvedConfig", () => {
  it("writes config.json once, accepts the same config on resume and refuses a different one", async () => {
    const directory = await mkdtemp(join(tmpdir(), "training-support-"));
    directories.push(directory);
    const context = createRunContext({ directory, seed: 1, streamName: "test", progressMode: "silent" });
    const key = await recordResolvedConfig({ context, resolved: { learningRate: 0.1 } });
    expect(JSON.parse(await readFile(join(directory, "config.json"), "utf8"))).toEqual({ learningRate: 0.1 });
    expect(await recordResolvedConfig({ context, resolved: { learningRate: 0.1 } })).toBe(key);
    await expect(recordResolvedConfig({ context, resolved: { learningRate: 0.2 } })).rejects.toSatisfy(
      (error) => TrainError.hasCode(error, "train_config_changed"),
    );
  });
});
