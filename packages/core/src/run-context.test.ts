import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { readEvents } from "./events.js";
import { Random } from "./random.js";
import { createRunContext, interruptExitCodes, interruptSignal } from "./run-context.js";

describe("createRunContext", () => {
  it("logs events, derives the stage stream from the seed and reports progress", () => {
    const directory = join(mkdtempSync(join(tmpdir(), "posttrain-context-")), "sft");
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    const context = createRunContext({
      directory,
      seed: 7,
      streamName: "sft",
      progressMode: "lines",
      stream,
    });
    context.log("starting");
    context.events.write({ type: "step-end", step: 1, loss: 2 });
    const progress = context.progress({ label: "sft", total: 2, unit: "steps" });
    progress.update({ completed: 2 });
    progress.stop();
    expect(readEvents({ path: join(directory, "events.jsonl") }).events.map((event) => event.type)).toEqual([
      "log",
      "step-end",
    ]);
    expect(context.random.nextUint32()).toBe(Random.fromSeed(7).stream("sft").nextUint32());
    expect(lines.join("")).toContain("starting");
    expect(lines.join("")).toContain("[sft] 2/2 steps");
    expect(context.signal.aborted).toBe(false);
  });
});

describe("interruptSignal", () => {
  it("fires on SIGINT or SIGTERM, names the signal, and detaches on dispose", () => {
    for (const name of ["SIGINT", "SIGTERM"] as const) {
      const write = process.stderr.write;
      process.stderr.write = (() => true) as typeof process.stderr.write;
      const interrupt = interruptSignal();
      try {
        expect(interrupt.received()).toBeNull();
        process.emit(name);
        expect(interrupt.signal.aborted).toBe(true);
        expect(interrupt.received()).toBe(name);
        expect(interruptExitCodes[name]).toBe(name === "SIGINT" ? 130 : 143);
      } finally {
        interrupt.dispose();
        process.stderr.write = write;
      }
      expect(process.listenerCount(name)).toBe(0);
    }
  });
});
