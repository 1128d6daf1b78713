import { describe, expect, it } from "vitest";
import {
  checkPreferenceRow,
  checkRlvrRow,
  checkRow,
  checkSftRow,
  detectRowFormat,
  MalformedRowTracker,
} from "./row-formats.js";

const user = { role: "user", content: "Hi" };
const assistant = { role: "assistant", content: "Hello" };

describe("row checks", () => {
  it("accepts well-formed rows of each format", () => {
    expect(checkSftRow({ messages: [user, assistant] })).toEqual({
      ok: true,
      row: { messages: [user, assistant] },
    });
    expect(
      checkPreferenceRow({
        chosen: [user, assistant],
        rejected: [user, { role: "assistant", content: "No" }],
      }),
    ).toEqual({
      ok: true,
      row: { prompt: [user], chosen: assistant, rejected: { role: "assistant", content: "No" } },
    });
    expect(checkRlvrRow({ messages: [user, assistant], ground_truth: "42", dataset: "gsm8k" })).toEqual({
      ok: true,
      row: { messages: [user], groundTruth: ["42"], dataset: ["gsm8k"] },
    });
  });

  it("names the reason of each malformed row", () => {
    const reason = (format: "sft" | "preference" | "rlvr", value: unknown) => {
      const check = checkRow({ format, value });
      return check.ok ? "ok" : check.reason;
    };
    expect(reason("sft", "text")).toBe("not_an_object");
    expect(reason("sft", {})).toBe("missing_field");
    expect(reason("sft", { messages: [{ role: "robot", content: "x" }] })).toBe("unknown_role");
    expect(reason("sft", { messages: [user, { role: "assistant", content: "  " }] })).toBe(
      "empty_assistant_turn",
    );
    expect(reason("sft", { messages: [user] })).toBe("no_assistant_turn");
    expect(reason("sft", { messages: [{ role: "user", content: 5 }] })).toBe("invalid_field");
    expect(
      reason("preference", {
        chosen: [user, assistant],
        rejected: [{ role: "user", content: "Bye" }, assistant],
      }),
    ).toBe("preference_prompt_mismatch");
    expect(reason("preference", { chosen: [user, assistant], rejected: [assistant, user] })).toBe(
      "preference_completion_not_assistant",
    );
    expect(reason("rlvr", { messages: [user], dataset: "gsm8k" })).toBe("missing_field");
    expect(reason("rlvr", { messages: [user], ground_truth: ["1", "2"], dataset: ["a", "b", "c"] })).toBe(
      "ground_truth_mismatch",
    );
  });
});

describe("MalformedRowTracker", () => {
  it("counts per reason with examples and fails above the threshold", () => {
    const tracker = new MalformedRowTracker({ maximumMalformedRows: 1 });
    const rows: unknown[] = [{ messages: [user, assistant] }, { messages: [user] }, {}];
    const kept = rows.map((value, row) =>
      tracker.record({ check: checkSftRow(value), source: "a.jsonl", row }),
    );
    expect(kept.filter((row) => row !== null)).toHaveLength(1);
    const summary = tracker.summary();
    expect(summary).toMatchObject({ checked: 3, malformed: 2 });
    expect(summary.reasons.no_assistant_turn?.examples[0]).toEqual({
      source: "a.jsonl",
      row: 1,
      detail: "messages has no assistant turn to train on",
    });
    expect(() => tracker.enforce()).toThrow(
      /2 of 3 rows are malformed \(allowed: 1\)[\s\S]*missing_field: 1/,
    );
    const lenient = new MalformedRowTracker({ maximumMalformedRows: 2 });
    lenient.merge(summary);
    expect(() => lenient.enforce()).not.toThrow();
  });
});

describe("detectRowFormat", () => {
  it("names the format from open-instruct's column names, preference and rlvr before sft", () => {
    expect(detectRowFormat({ columns: ["messages", "source"] })).toBe("sft");
    expect(detectRowFormat({ columns: ["messages", "ground_truth", "dataset"] })).toBe("rlvr");
    expect(detectRowFormat({ columns: ["prompt", "chosen", "rejected", "messages"] })).toBe("preference");
    expect(detectRowFormat({ columns: ["chosen", "text"] })).toBeNull();
    expect(detectRowFormat({ columns: [] })).toBeNull();
  });
});
