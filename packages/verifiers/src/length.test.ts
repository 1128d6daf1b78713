import { describe, expect, it } from "vitest";
import { countUtf8Bytes, lengthPenaltyScale, maxLengthVerifier, upToMaxLengthVerifier } from "./length.js";
import { verify } from "./verify.js";
import { verifyOne } from "./verify-one.js";

/** A test counter: one token per character (the whole response, whatever it contains). */
const countCharacters = (text: string) => text.length;
const context = { timeoutMilliseconds: 1_000, countTokens: countCharacters };

describe("length verifiers", () => {
  it("max_length: 1 − |tokens − target| / 32768, clamped", async () => {
    const score = async (length: number, target: number) =>
      (await maxLengthVerifier.verify({ response: "x".repeat(length), label: target, context })).score;
    expect(await score(100, 100)).toBe(1);
    expect(await score(50, 100)).toBeCloseTo(1 - 50 / lengthPenaltyScale, 12);
    expect(await score(150, 100)).toBeCloseTo(1 - 50 / lengthPenaltyScale, 12);
    expect(await score(40_000, 10)).toBe(0);
  });
  it("up_to_max_length: only too long is penalised", async () => {
    const score = async (length: number, target: number) =>
      (await upToMaxLengthVerifier.verify({ response: "x".repeat(length), label: target, context })).score;
    expect(await score(5, 100)).toBe(1);
    expect(await score(164, 100)).toBeCloseTo(1 - 64 / lengthPenaltyScale, 12);
  });
  it("uses a precomputed count over the counter", async () => {
    const precomputed = await maxLengthVerifier.verify({
      response: "abcd",
      label: 7,
      context: { ...context, responseTokenCount: 7 },
    });
    expect(precomputed).toMatchObject({ score: 1, details: { tokens: 7, counter: "precomputed" } });
  });
  it("throws tokenizer_required without a tokenizer — no silent word count", async () => {
    expect(() =>
      maxLengthVerifier.verify({ response: "a b", label: 2, context: { timeoutMilliseconds: 1 } }),
    ).toThrow(expect.objectContaining({ code: "tokenizer_required" }));
    await expect(verifyOne({ verifier: "max_length", response: "a b", label: 2 })).rejects.toMatchObject({
      code: "tokenizer_required",
    });
    await expect(
      verify({ verifier: "up_to_max_length", rows: [{ response: "a", ground_truth: 1 }], workers: 0 }),
    ).rejects.toMatchObject({ code: "tokenizer_required", message: expect.stringContaining("--tokenizer") });
  });
  // Issue 23 item 1: before 2.0.0 these scored 1 (only the text after </think> was counted,
  // in whitespace-separated words).
  it("counts the whole response, reasoning included (unclosed or closed <think>)", async () => {
    const words = "word ".repeat(30_000); // 150 kB, under the 200 kB response bound
    const unclosed = await verifyOne({
      verifier: "max_length",
      response: `x<think>${words}`,
      label: 1,
      countTokens: countCharacters,
    });
    expect(unclosed.score).toBe(0);
    const closed = await verify({
      verifier: "up_to_max_length",
      rows: [{ response: `<think>${words}</think>ok`, ground_truth: 10 }],
      workers: 0,
      countTokens: countCharacters,
    });
    expect(closed.rows[0]?.score).toBe(0);
    expect(closed.rows[0]?.details["tokens"]).toBe(words.length + 17);
  });
  it("a 100 kB string without spaces is many tokens, not one", async () => {
    const result = await verifyOne({
      verifier: "max_length",
      response: "a".repeat(100_000),
      label: 1,
      countTokens: countUtf8Bytes,
    });
    expect(result.score).toBe(0);
  });
  it("verify takes per-row token counts (the RLVR trainer's generated ids)", async () => {
    const output = await verify({
      verifier: "max_length",
      rows: [
        { response: "anything", ground_truth: 3 },
        { response: "anything", ground_truth: 3 },
      ],
      workers: 0,
      responseTokenCounts: [3, 3 + lengthPenaltyScale],
    });
    expect(output.rows.map((row) => row.score)).toEqual([1, 0]);
    await expect(
      verify({
        verifier: "max_length",
        rows: [{ response: "a", ground_truth: 1 }],
        workers: 0,
        responseTokenCounts: [],
      }),
    ).rejects.toMatchObject({ code: "invalid_token_counts" });
  });
  it("counts UTF-8 bytes in the probe stand-in counter", () => {
    expect(countUtf8Bytes("aé€")).toBe(1 + 2 + 3);
  });
  it("accepts numeric labels as numbers or text", () => {
    expect(maxLengthVerifier.labelSchema.parse("2048")).toBe(2048);
    expect(maxLengthVerifier.labelSchema.safeParse("-3").success).toBe(false);
    expect(maxLengthVerifier.labelSchema.safeParse("long").success).toBe(false);
  });
});
