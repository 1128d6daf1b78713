import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEventLog } from "@posttrain/core";
import { afterEach, describe, expect, it } from "vitest";
import { createTracker, eventMetrics, trackedEventLog, trackingKey } from "./tracking.js";

let directory = "";
afterEach(async () => {
  if (directory !== "") await rm(directory, { recursive: true, force: true });
});

/** A meta.yaml as MLflow's file store reads it: one `key: scalar` per line. */
function readMeta(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((line) => {
        const [key, ...rest] = line.split(": ");
        return [key, rest.join(": ").replace(/^'(.*)'$/, "$1")];
      }),
  );
}

/** A metric file: one "<timestamp ms> <value> <step>" line per point (MLflow FileStore). */
function readMetric(path: string): Array<{ timestamp: number; value: number; step: number }> {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const parts = line.split(" ");
      expect(parts).toHaveLength(3);
      return { timestamp: Number(parts[0]), value: Number(parts[1]), step: Number(parts[2]) };
    });
}

describe("MLflow file-store tracking", () => {
  it("streams step-end and held-out events into mlruns/<experiment>/<run>/metrics as they are written", async () => {
    directory = await mkdtemp(join(tmpdir(), "posttrain-tracking-"));
    const store = join(directory, "mlruns");
    const tracker = createTracker({ directory: store, experimentName: "micro" });
    const parent = tracker.startRun({ name: "run-1" });
    const run = tracker.startRun({ name: "3-rlvr", parentRunId: parent.id });
    run.logParam({ key: "learningRate.peak", value: "5e-5" });
    const events = trackedEventLog({
      events: createEventLog({ path: join(directory, "events.jsonl") }),
      run,
    });
    const runDirectory = join(store, tracker.experimentId, run.id);

    events.write({
      type: "step-end",
      step: 1,
      loss: 0.5,
      kl: 0.01,
      learningRate: 1e-5,
      trainTokensPerSecond: 120,
      perVerifier: { gsm8k: { rewardMean: 2.5, count: 4 } },
      seconds: { train: 3 },
    });
    // Live: the point is on disk before the stage ends.
    expect(readMetric(join(runDirectory, "metrics", "loss"))).toEqual([
      expect.objectContaining({ value: 0.5, step: 1 }),
    ]);
    events.write({
      type: "step-end",
      step: 2,
      loss: 0.25,
      kl: 0.02,
      perVerifier: { gsm8k: { rewardMean: 5 } },
    });
    events.write({ type: "over-optimization-check", step: 2, heldOutAccuracy: 0.75 });
    events.write({ type: "log", message: "not a metric", step: 2 });
    run.end({ status: "completed" });

    const experiments = readdirSync(store).sort();
    expect(experiments).toEqual(["0", tracker.experimentId].sort());
    expect(readMeta(join(store, "0", "meta.yaml"))["name"]).toBe("Default");
    const experiment = readMeta(join(store, tracker.experimentId, "meta.yaml"));
    expect(experiment).toMatchObject({
      name: "micro",
      experiment_id: tracker.experimentId,
      lifecycle_stage: "active",
    });
    const meta = readMeta(join(runDirectory, "meta.yaml"));
    expect(meta).toMatchObject({ run_id: run.id, run_uuid: run.id, run_name: "3-rlvr", status: "3" });
    expect(Number(meta["end_time"])).toBeGreaterThan(0);
    expect(readMeta(join(store, tracker.experimentId, parent.id, "meta.yaml"))["status"]).toBe("1");
    expect(readFileSync(join(runDirectory, "tags", "mlflow.parentRunId"), "utf8")).toBe(parent.id);
    expect(readFileSync(join(runDirectory, "tags", "mlflow.runName"), "utf8")).toBe("3-rlvr");
    expect(readFileSync(join(runDirectory, "params", "learningRate.peak"), "utf8")).toBe("5e-5");

    const metrics = readdirSync(join(runDirectory, "metrics")).sort();
    expect(metrics).toEqual(
      [
        "heldout.heldOutAccuracy",
        "kl",
        "learningRate",
        "loss",
        "perVerifier.gsm8k.count",
        "perVerifier.gsm8k.rewardMean",
        "trainTokensPerSecond",
      ].sort(),
    );
    expect(
      readMetric(join(runDirectory, "metrics", "perVerifier.gsm8k.rewardMean")).map((point) => [
        point.step,
        point.value,
      ]),
    ).toEqual([
      [1, 2.5],
      [2, 5],
    ]);
    const loss = readMetric(join(runDirectory, "metrics", "loss"));
    expect(loss.map((point) => point.value)).toEqual([0.5, 0.25]);
    expect(loss[1]?.timestamp).toBeGreaterThanOrEqual(loss[0]?.timestamp ?? Number.POSITIVE_INFINITY);
    expect(readMetric(join(runDirectory, "metrics", "heldout.heldOutAccuracy"))[0]).toMatchObject({
      value: 0.75,
      step: 2,
    });
    // The wrapped log is unchanged.
    expect(readFileSync(join(directory, "events.jsonl"), "utf8").trim().split("\n")).toHaveLength(4);
  });

  it("ends failed and interrupted runs with MLflow's FAILED and KILLED", async () => {
    directory = await mkdtemp(join(tmpdir(), "posttrain-tracking-"));
    const tracker = createTracker({ directory, experimentName: "x" });
    const failed = tracker.startRun({ name: "a" });
    failed.end({ status: "failed" });
    const killed = tracker.startRun({ name: "b" });
    killed.end({ status: "interrupted" });
    expect(readMeta(join(directory, tracker.experimentId, failed.id, "meta.yaml"))["status"]).toBe("4");
    expect(readMeta(join(directory, tracker.experimentId, killed.id, "meta.yaml"))["status"]).toBe("5");
  });
});

describe("continuing a run", () => {
  it("a run started again by name with continueExisting keeps its id and start time and appends", async () => {
    directory = await mkdtemp(join(tmpdir(), "posttrain-tracking-"));
    const tracker = createTracker({ directory, experimentName: "x" });
    const first = tracker.startRun({ name: "1-sft", parentRunId: "p" });
    first.logMetric({ key: "loss", value: 2, step: 1, timestamp: 10 });
    first.end({ status: "interrupted" });
    const startedAt = readMeta(join(directory, tracker.experimentId, first.id, "meta.yaml"))["start_time"];

    // A second tracker on the same store, as a resumed process opens it.
    const again = createTracker({ directory, experimentName: "x" });
    const continued = again.startRun({ name: "1-sft", parentRunId: "p", continueExisting: true });
    expect(continued.id).toBe(first.id);
    const running = readMeta(join(directory, tracker.experimentId, first.id, "meta.yaml"));
    expect(running["status"]).toBe("1");
    expect(running["start_time"]).toBe(startedAt);
    continued.logMetric({ key: "loss", value: 1, step: 2, timestamp: 20 });
    continued.end({ status: "completed" });
    expect(readMetric(join(directory, tracker.experimentId, first.id, "metrics", "loss"))).toEqual([
      { timestamp: 10, value: 2, step: 1 },
      { timestamp: 20, value: 1, step: 2 },
    ]);

    // Without continueExisting, or with a name not in the store, a new run starts.
    expect(again.startRun({ name: "1-sft" }).id).not.toBe(first.id);
    expect(again.startRun({ name: "2-dpo", continueExisting: true }).id).not.toBe(first.id);
  });
});

describe("eventMetrics and trackingKey", () => {
  it("flattens nested numbers, skips bookkeeping and timings", () => {
    expect(
      eventMetrics({
        type: "step-end",
        step: 3,
        time: "t",
        elapsed: 1,
        loss: 1,
        a: { b: { c: 2, d: "x" } },
        seconds: { x: 1 },
      }),
    ).toEqual([
      ["loss", 1],
      ["a.b.c", 2],
    ]);
  });
  it("maps characters MLflow refuses in keys to _", () => {
    expect(trackingKey("reward[gsm8k]:mean")).toBe("reward_gsm8k__mean");
    expect(trackingKey("../escape")).toBe("_/escape");
  });
});
