import { describe, expect, it } from "vitest";
import { stripReasoning } from "./reasoning.js";

describe("stripReasoning", () => {
  it("keeps the text after the last </think>", () => {
    expect(stripReasoning({ response: "<think>a</think> b <think>c</think> d " })).toBe("d");
  });
  it("keeps only the text before an unclosed <think>", () => {
    expect(stripReasoning({ response: "x <think> the answer is 5" })).toBe("x");
  });
  it("leaves responses without a reasoning block alone", () => {
    expect(stripReasoning({ response: "  plain  " })).toBe("plain");
  });
});
