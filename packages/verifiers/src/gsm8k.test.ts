import { describe, expect, it } from "vitest";
import {
  extractHashAnswer,
  extractLastNumber,
  gsm8kAnswersEqual,
  gsm8kStrictVerifier,
  gsm8kVerifier,
  isHedgedAnswer,
  parseGsm8kNumber,
  stripThousandsSeparators,
} from "./gsm8k.js";
import type { VerifyContext } from "./types.js";

const context: VerifyContext = { timeoutMilliseconds: 1_000 };
const score = async (response: string, label: string, verifier = gsm8kVerifier) =>
  (await verifier.verify({ response, label, context })).score;

describe("gsm8k helpers", () => {
  it("strips thousands commas between digits only", () => {
    expect(stripThousandsSeparators({ text: "1,234,567 and a, b" })).toBe("1234567 and a, b");
  });
  it("extracts the last number, with signs only where they cannot be a minus", () => {
    expect(extractLastNumber({ text: "3 + 4 = 7 apples" })).toBe("7");
    expect(extractLastNumber({ text: "it is -5" })).toBe("-5");
    expect(extractLastNumber({ text: "10-4" })).toBe("4");
    expect(extractLastNumber({ text: "costs $1,250.50." })).toBe("1250.50");
    expect(extractLastNumber({ text: "ratio 5/6" })).toBe("5/6");
    expect(extractLastNumber({ text: "none" })).toBeUndefined();
  });
  it("parses and compares numerically", () => {
    expect(parseGsm8kNumber({ text: "$1,000." })).toBe(1000);
    expect(parseGsm8kNumber({ text: "5/6" })).toBeCloseTo(5 / 6, 12);
    expect(parseGsm8kNumber({ text: "five" })).toBeUndefined();
    expect(gsm8kAnswersEqual({ answer: "18.00", label: "18" })).toBe(true);
    expect(gsm8kAnswersEqual({ answer: "17.99", label: "18" })).toBe(false);
  });
  it("detects hedges", () => {
    expect(isHedgedAnswer({ text: "5 or 6" })).toBe(true);
    expect(isHedgedAnswer({ text: "either 5, or maybe 6" })).toBe(true);
    expect(isHedgedAnswer({ text: "5 apples and 6 pears, so 6" })).toBe(false);
  });
  it("reads the text after the last ####", () => {
    expect(extractHashAnswer({ text: "a\n#### 5\n#### 18\nmore" })).toBe("18");
    expect(extractHashAnswer({ text: "no marker" })).toBeUndefined();
  });
});

describe("gsm8k verifier", () => {
  it("scores the last number against the label", async () => {
    expect(await score("3 * 6 = 18. The answer is 18", "18")).toBe(1);
    expect(await score("The answer is 18, not 17", "18")).toBe(0);
    expect(await score("The answer is 1,800", "1800")).toBe(1);
    expect(await score("The answer is 18.0", "18")).toBe(1);
    expect(await score("The answer is 5 or 6", "6")).toBe(0);
    expect(await score("no digits", "6")).toBe(0);
  });
  it("explains the verdict", async () => {
    const result = await gsm8kVerifier.verify({ response: "so 17", label: "18", context });
    expect(result.details).toMatchObject({ extracted: "17", gold: "18", reason: "not_equal" });
  });
  it("strict mode needs '#### N'", async () => {
    expect(await score("so 18\n#### 18", "18", gsm8kStrictVerifier)).toBe(1);
    expect(await score("#### $1,800.", "1800", gsm8kStrictVerifier)).toBe(1);
    expect(await score("the answer is 18", "18", gsm8kStrictVerifier)).toBe(0);
    expect(await score("#### 18 or 19", "18", gsm8kStrictVerifier)).toBe(0);
  });
  it("validates labels", () => {
    expect(gsm8kVerifier.labelSchema.safeParse("18").success).toBe(true);
    expect(gsm8kVerifier.labelSchema.safeParse(18).success).toBe(true);
    expect(gsm8kVerifier.labelSchema.safeParse("eighteen").success).toBe(false);
    expect(gsm8kVerifier.labelSchema.safeParse({ answer: 18 }).success).toBe(false);
  });
});
