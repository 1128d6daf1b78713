import { describe, expect, it } from "vitest";
import {
  extractAnswerTags,
  extractFinishTag,
  flanVerifier,
  normalizeAnswerText,
  passthroughVerifier,
  puzzleVerifier,
  reSearchF1Verifier,
  reSearchVerifier,
  stringF1Verifier,
  stringMatcherVerifier,
  tokenF1,
} from "./string-match.js";
import type { Verifier, VerifyContext } from "./types.js";

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
      label: ["the Eiffel Tower"],
      context,
    });
    expect(result.score).toBe(1);
    const partial = await stringF1Verifier.verify({ response: "Eiffel", label: ["Eiffel Tower"], context });
    expect(partial.score).toBeCloseTo(2 / 3, 12);
  });
});

// Golden cases derived from reading open-instruct's ground_truth_utils.py (HEAD e6c3044) and
// the behaviour its test_ground_truth_utils.py pins; the cases are ours.
const score = async (
  verifier: { verify: Verifier<unknown>["verify"]; labelSchema: Verifier<unknown>["labelSchema"] },
  response: string,
  label: unknown,
) => (await verifier.verify({ response, label: verifier.labelSchema.parse(label), context })).score;

describe("string_f1 label lists (open-instruct F1Verifier)", () => {
  it("takes the max F1 over a list of labels (was invalid_label before 1.1.0)", async () => {
    expect(stringF1Verifier.labelSchema.safeParse(["a", "b"]).success).toBe(true);
    expect(await score(stringF1Verifier, "hello world", ["goodbye", "hello world"])).toBe(1);
    expect(await score(stringF1Verifier, "hello world", ["hello", "world"])).toBeCloseTo(2 / 3, 12);
    expect(await score(stringF1Verifier, "hello world", ["foo", "bar"])).toBe(0);
    expect(await score(stringF1Verifier, "hello world", ["hello world"])).toBe(1);
    expect(await score(stringF1Verifier, "<think>hmm</think>hello world", ["goodbye", "hello world"])).toBe(
      1,
    );
  });
  it("removes the thinking section and answer tags itself", async () => {
    expect(
      await score(stringF1Verifier, "<|assistant|><think>x y</think><answer>hello</answer>", "hello"),
    ).toBe(1);
  });
  it("rejects an empty list naming the problem", () => {
    const parsed = stringF1Verifier.labelSchema.safeParse([]);
    expect(parsed.success).toBe(false);
  });
});

describe("puzzle (open-instruct PuzzleMatcherVerifier)", () => {
  it.each([
    ["The answer is 42", "answer is 42", 1],
    ["<think>Let me solve this</think>Paris", "paris", 1],
    ["<answer>New York City!</answer>", "new york city", 1],
    ["Wrong answer", "correct answer", 0],
    [
      "<think>geography</think><answer>The capital of France is Paris.</answer>",
      "capital of france is paris",
      1,
    ],
    ["Hello, world!", "hello world", 1],
    ["  hello\tworld\n", "hello world", 1],
    ["A simple test.", "simple test", 1],
    ["42", "43", 0],
    ["", "42", 0],
    ["The elephant", "elephant", 1],
    ["Paris is the answer", "paris", 0],
    [42, 42, 1],
  ] as const)("%j vs %j → %d", async (response, label, expected) => {
    expect(await score(puzzleVerifier, String(response), label)).toBe(expected);
  });
  it("uses Python's Unicode word boundary for articles", async () => {
    expect(normalizeAnswerText({ text: "éthe cat" })).toBe("éthe cat");
    expect(normalizeAnswerText({ text: "the\u00a0cat" })).toBe("cat");
  });
});

describe("flan (open-instruct FlanVerifier)", () => {
  it("judges the text after the last 'The answer is: '", async () => {
    expect(await score(flanVerifier, "Reasoning... The answer is: Yes.", "yes")).toBe(1);
    expect(await score(flanVerifier, "The answer is: no. The answer is: yes", "yes")).toBe(1);
    expect(await score(flanVerifier, "The answer is: yes. The answer is: no", "yes")).toBe(0);
    expect(await score(flanVerifier, "yes", "yes")).toBe(1);
    expect(await score(flanVerifier, "The answer is yes", "yes")).toBe(0);
  });
});

describe("re_search_f1 (open-instruct ReSearchVerifierF1)", () => {
  it("F1 of the finish-tag answer, 0.1 for the format alone, 0 without tags", async () => {
    expect(await score(reSearchF1Verifier, "<finish>Paris</finish>", "Paris")).toBe(1);
    expect(await score(reSearchF1Verifier, "search... <finish>Berlin</finish>", "Paris")).toBe(0.1);
    expect(await score(reSearchF1Verifier, "Paris", "Paris")).toBe(0);
    expect(await score(reSearchF1Verifier, "<finish></finish>", "Paris")).toBe(0);
    expect(
      await score(reSearchF1Verifier, "<finish>a</finish><finish>Paris France</finish>", "Paris"),
    ).toBeCloseTo(2 / 3, 12);
    // Only a closing tag: the text before it is the answer (split semantics).
    expect(await score(reSearchF1Verifier, "Paris</finish>", "Paris")).toBe(1);
  });
  it("reads JSON labels: a list (max over it), a string, a number", async () => {
    expect(await score(reSearchF1Verifier, "<finish>Paris</finish>", '["London", "Paris"]')).toBe(1);
    expect(await score(reSearchF1Verifier, "<finish>Paris</finish>", '"Paris"')).toBe(1);
    expect(await score(reSearchF1Verifier, "<finish>1969</finish>", "1969")).toBe(1);
    expect(await score(reSearchF1Verifier, "<finish>Paris</finish>", ["Rome", "paris"])).toBe(1);
    expect(reSearchF1Verifier.labelSchema.safeParse("[]").success).toBe(false);
  });
});

describe("re_search (open-instruct R1SearchVerifier)", () => {
  it("normalised exact match of the first finish-tag answer against any label", async () => {
    expect(await score(reSearchVerifier, "<FINISH> The Paris! </finish>", "paris")).toBe(1);
    expect(await score(reSearchVerifier, "<finish>Rome</finish><finish>Paris</finish>", "Paris")).toBe(0);
    expect(await score(reSearchVerifier, "<finish>Paris</finish>", '["Rome", "Paris"]')).toBe(1);
    expect(await score(reSearchVerifier, "<finish>  </finish>", "Paris")).toBe(0);
    expect(await score(reSearchVerifier, "Paris", "Paris")).toBe(0);
    expect(await score(reSearchVerifier, "<finish>Paris", "Paris")).toBe(0);
  });
  it("scans a flood of unclosed tags linearly", () => {
    expect(extractFinishTag({ text: "<finish>".repeat(50_000) })).toBeUndefined();
  });
});

describe("passthrough", () => {
  it("always scores 0, any label", async () => {
    expect(await score(passthroughVerifier, "anything", { any: "label" })).toBe(0);
  });
});
