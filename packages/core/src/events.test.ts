import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEventLog, readEvents } from "./events.js";

describe("event log", () => {
  it("appends JSON lines with time and elapsed, and reads them back", () => {
    const path = join(mkdtempSync(join(tmpdir(), "posttrain-events-")), "run", "events.jsonl");
    let clock = Date.parse("2026-01-01T00:00:00Z");
    const log = createEventLog({ path, now: () => new Date(clock) });
    log.write({ type: "step-end", step: 1, loss: 2.5 });
    clock += 1500;
    log.write({ type: "step-end", step: 2, loss: 2.0 });
    const { events, truncatedTail } = readEvents({ path });
    expect(truncatedTail).toBe(false);
    expect(events).toEqual([
      { type: "step-end", step: 1, loss: 2.5, time: "2026-01-01T00:00:00.000Z", elapsed: 0 },
      { type: "step-end", step: 2, loss: 2, time: "2026-01-01T00:00:01.500Z", elapsed: 1.5 },
    ]);
  });

  it("tolerates a last line cut by a crash but not corruption in the middle", () => {
    const path = join(mkdtempSync(join(tmpdir(), "posttrain-events-")), "events.jsonl");
    const log = createEventLog({ path });
    log.write({ type: "a" });
    appendFileSync(path, '{"type":"b","ste');
    expect(readEvents({ path })).toMatchObject({ events: [{ type: "a" }], truncatedTail: true });
    appendFileSync(path, '\n{"type":"c"}\n');
    expect(() => readEvents({ path })).toThrow("events.jsonl:2 is not valid JSON");
  });
});
