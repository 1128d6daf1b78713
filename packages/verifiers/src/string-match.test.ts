import { describe, expect, it } from "vitest";
import {
  extractAnswerTags,
  normalizeAnswerText,
  stringF1Verifier,
  stringMatcherVerifier,
  tokenF1,
} from "./string-match.js";
import type { VerifyContext } from "./types.js";

const context: VerifyContext = { timeoutMilliseconds: 1_000 };

describe("SQuAD normalisation and F1", () => {
  it("lowercases, removes punctuation and articles, collapses whitespace", () => {
    expect(normalizeAnswerText({ text: "  The  Eiffel-Tower, in PARIS! " })).toBe("eiffeltower in paris");
    expect(normalizeAnswerText({ text: "an apple a day" })).toBe("apple day");
  });
  it("computes token F1 with multiplicity", () => {
    expect(tokenF1({ prediction: "the cat sat", reference: "cat sat down" })).toMatchObject({
      precision: 1,
      recall: 2 / 3,
    });
    expect(tokenF1({ prediction: "paris paris paris", reference: "paris" }).f1).toBeCloseTo(0.5, 12);
    expect(tokenF1({ prediction: "berlin", reference: "paris" }).f1).toBe(0);
  });
  it("extracts every answer tag", () => {
    expect(extractAnswerTags({ text: "<answer>a</answer> x <answer>b\nc</answer>" })).toEqual(["a", "b\nc"]);
  });
});

describe("string verifiers", () => {
  it("string_matcher: normalised exact match inside answer tags", async () => {
    const check = async (response: string, label: string) =>
      (await stringMatcherVerifier.verify({ response, label, context })).score;
    expect(await check("<answer>The Paris.</answer>", "paris")).toBe(1);
    expect(await check("Paris", "paris")).toBe(0);
    expect(await check("<answer>Paris</answer><answer>paris!</answer>", "paris")).toBe(1);
    expect(await check("<answer>London</answer><answer>Paris</answer>", "paris")).toBe(0);
  });
  it("string_f1: F1 of the response without answer tags", async () => {
    const result = await stringF1Verifier.verify({
      response: "<answer>Eiffel Tower</answer>",
      label: "the Eiffel Tower",
      context,
    });
    expect(result.score).toBe(1);
    const partial = await stringF1Verifier.verify({ response: "Eiffel", label: "Eiffel Tower", context });
    expect(partial.score).toBeCloseTo(2 / 3, 12);
  });
});
