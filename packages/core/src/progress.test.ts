import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createProgress, formatDuration } from "./progress.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      callback();
    },
  });
  return { stream, lines };
}

describe("progress", () => {
  it("prints plain lines with rate, ETA and metrics when not on a TTY", () => {
    const { stream, lines } = capture();
    let clock = 0;
    const progress = createProgress({
      label: "sft",
      total: 100,
      unit: "steps",
      stream,
      intervalSeconds: 10,
      now: () => clock,
    });
    clock = 10;
    progress.update({ completed: 20, metrics: { loss: 1.5 } });
    clock = 12;
    progress.update({ completed: 25 }); // within the interval: not printed
    clock = 40;
    progress.update({ completed: 100, metrics: { loss: 0.25 } });
    progress.stop();
    expect(lines).toEqual([
      "[sft] 20/100 steps (20.0%) 2.00 steps/s eta 40s elapsed 10s loss=1.5000",
      "[sft] 100/100 steps (100.0%) 2.50 steps/s eta 0s elapsed 40s loss=0.2500",
      "[sft] 100/100 steps (100.0%) 2.50 steps/s in 40s loss=0.2500",
    ]);
  });

  it("a resumed run's rate and ETA count only the steps done in this process", () => {
    const { stream, lines } = capture();
    let clock = 0;
    const progress = createProgress({
      label: "rlvr",
      total: 1000,
      start: 900,
      unit: "steps",
      stream,
      now: () => clock,
    });
    clock = 20;
    progress.update({ completed: 910 });
    expect(lines).toEqual(["[rlvr] 910/1000 steps (91.0%) 0.50 steps/s eta 3m00s elapsed 20s"]);
  });

  it("draws a bar on a TTY", () => {
    const { stream, lines } = capture();
    Object.assign(stream, {
      isTTY: true,
      columns: 120,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
    });
    const progress = createProgress({ label: "tokenize", total: 10, unit: "rows", stream, mode: "bar" });
    progress.update({ completed: 10 });
    progress.stop();
    expect(lines.join("")).toContain("tokenize |");
    expect(lines.join("")).toContain("10/10 rows");
  });

  it("formats durations", () => {
    expect(formatDuration(5)).toBe("5s");
    expect(formatDuration(125)).toBe("2m05s");
    expect(formatDuration(7260)).toBe("2h01m");
    expect(formatDuration(Number.NaN)).toBe("?");
  });
});
