import { describe, expect, it } from "vitest";
import {
  countWhitespaceTokens,
  lengthPenaltyScale,
  maxLengthVerifier,
  upToMaxLengthVerifier,
} from "./length.js";

const words = (count: number) => Array.from({ length: count }, () => "w").join(" ");

describe("length verifiers", () => {
  it("counts whitespace tokens by default", () => {
    expect(countWhitespaceTokens("  a b\n c  ")).toBe(3);
    expect(countWhitespaceTokens("   ")).toBe(0);
  });
  it("max_length: 1 − |tokens − target| / 32768, clamped", async () => {
    const context = { timeoutMilliseconds: 1_000 };
    expect((await maxLengthVerifier.verify({ response: words(100), label: 100, context })).score).toBe(1);
    expect((await maxLengthVerifier.verify({ response: words(50), label: 100, context })).score).toBeCloseTo(
      1 - 50 / lengthPenaltyScale,
      12,
    );
    expect((await maxLengthVerifier.verify({ response: words(150), label: 100, context })).score).toBeCloseTo(
      1 - 50 / lengthPenaltyScale,
      12,
    );
    expect((await maxLengthVerifier.verify({ response: words(40_000), label: 10, context })).score).toBe(0);
  });
  it("up_to_max_length: only too long is penalised", async () => {
    const context = { timeoutMilliseconds: 1_000 };
    expect((await upToMaxLengthVerifier.verify({ response: words(5), label: 100, context })).score).toBe(1);
    expect(
      (await upToMaxLengthVerifier.verify({ response: words(164), label: 100, context })).score,
    ).toBeCloseTo(1 - 64 / lengthPenaltyScale, 12);
  });
  it("uses an injected counter or a precomputed count", async () => {
    const countTokens = (text: string) => text.length;
    const injected = await maxLengthVerifier.verify({
      response: "abcd",
      label: 4,
      context: { timeoutMilliseconds: 1_000, countTokens },
    });
    expect(injected).toMatchObject({ score: 1, details: { tokens: 4, counter: "injected" } });
    const precomputed = await maxLengthVerifier.verify({
      response: "abcd",
      label: 7,
      context: { timeoutMilliseconds: 1_000, countTokens, responseTokenCount: 7 },
    });
    expect(precomputed).toMatchObject({ score: 1, details: { counter: "precomputed" } });
  });
  it("accepts numeric labels as numbers or text", () => {
    expect(maxLengthVerifier.labelSchema.parse("2048")).toBe(2048);
    expect(maxLengthVerifier.labelSchema.safeParse("-3").success).toBe(false);
    expect(maxLengthVerifier.labelSchema.safeParse("long").success).toBe(false);
  });
});
