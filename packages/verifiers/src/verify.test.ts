import { PosttrainError } from "@posttrain/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { VerifierPool } from "./pool.js";
import type { Verifier } from "./types.js";
import { verify } from "./verify.js";
import { verifyOne } from "./verify-one.js";

const throwing: Verifier<string> = {
  name: "throwing",
  version: "0.0.1",
  description: "always throws",
  labelSchema: z.string(),
  verify: () => {
    throw new Error("boom");
  },
};
const neverAnswers: Verifier<string> = {
  name: "never",
  version: "0.0.1",
  description: "never resolves",
  labelSchema: z.string(),
  verify: () => new Promise(() => {}),
};

describe("verifyOne", () => {
  it("strips the reasoning block and explains the verdict", async () => {
    const result = await verifyOne({
      verifier: "math",
      response: "<think>\\boxed{5}</think>So $\\boxed{6}$.",
      label: "6",
    });
    expect(result).toMatchObject({
      score: 1,
      error: false,
      details: { extracted: "6", reasoningStripped: true, verifier: "math" },
    });
    const kept = await verifyOne({
      verifier: "math",
      response: "<think>\\boxed{6}</think>",
      label: "6",
      stripReasoning: false,
    });
    expect(kept.score).toBe(1);
  });
  it("turns a throwing verifier into score 0 with the error recorded", async () => {
    const result = await verifyOne({ verifier: throwing as Verifier<unknown>, response: "x", label: "y" });
    expect(result).toMatchObject({
      score: 0,
      error: true,
      details: { error: { code: "verifier_threw", message: "boom" } },
    });
  });
  it("counts a non-finite score as an error scoring 0", async () => {
    const broken: Verifier<string> = { ...throwing, verify: () => ({ score: Number.NaN, details: {} }) };
    const result = await verifyOne({ verifier: broken as Verifier<unknown>, response: "x", label: "y" });
    expect(result).toMatchObject({
      score: 0,
      error: true,
      details: { error: { code: "verifier_invalid_score" } },
    });
  });
  it("abandons an async check at its bound", async () => {
    const result = await verifyOne({
      verifier: neverAnswers as Verifier<unknown>,
      response: "x",
      label: "y",
      timeoutMilliseconds: 50,
    });
    expect(result).toMatchObject({
      score: 0,
      timeout: true,
      details: { timeout: true, timeoutMilliseconds: 50 },
    });
  });
  it("scores an over-long response 0 without judging it", async () => {
    const result = await verifyOne({
      verifier: "gsm8k",
      response: "6 ".repeat(20),
      label: "6",
      maximumResponseCharacters: 10,
    });
    expect(result).toMatchObject({ score: 0, details: { reason: "response_too_long", characters: 40 } });
  });
  it("throws a clear error for a bad label", async () => {
    await expect(verifyOne({ verifier: "max_length", response: "x", label: "long", row: 3 })).rejects.toThrow(
      /rows\[3\]\.ground_truth/,
    );
  });
});

describe("verify (worker threads)", () => {
  // One pool for the whole block: starting workers (each loads the CAS) is the slow part.
  let pool: VerifierPool;
  beforeAll(() => {
    pool = new VerifierPool({ size: 2 });
  });
  afterAll(async () => {
    await pool.close();
  });

  it("returns every row in input order with score and details, plus a summary", async () => {
    const rows = [
      { id: "a", response: "So $\\boxed{\\frac{1}{2}}$.", ground_truth: "0.5" },
      { id: "b", response: "So $\\boxed{3}$.", ground_truth: "4" },
      { id: "c", response: "$\\boxed{10^{10^{10^{10}}}}$", ground_truth: "6" },
      {
        id: "d",
        response: "Final Answer: The final answer is $x=2$. I hope it is correct.",
        ground_truth: "2",
      },
    ];
    const output = await verify({ verifier: "math", rows, pool });
    expect(output.rows.map((row) => [row.id, row.score])).toEqual([
      ["a", 1],
      ["b", 0],
      ["c", 0],
      ["d", 1],
    ]);
    expect(output.rows[0]?.details["extracted"]).toBe("\\frac{1}{2}");
    expect(output.summary).toMatchObject({
      verifier: "math",
      count: 4,
      meanScore: 0.5,
      errors: 0,
      timeouts: 0,
      workers: 2,
    });
  });
  it("applies remaps and runs in-process with workers: 0", async () => {
    const output = await verify({
      verifier: "gsm8k_v2",
      remap: "gsm8k_v2=gsm8k",
      rows: [{ response: "so 18", ground_truth: "18" }],
      workers: 0,
    });
    expect(output.summary).toMatchObject({ verifier: "gsm8k", meanScore: 1, workers: 0 });
  });
  it("passes a main-thread token count of the WHOLE response to the length verifiers", async () => {
    const response = "<think>long reasoning</think>abcdefgh";
    const output = await verify({
      verifier: "max_length",
      rows: [{ response, ground_truth: response.length }],
      pool,
      countTokens: (text) => text.length,
    });
    expect(output.rows[0]).toMatchObject({
      score: 1,
      details: { tokens: response.length, counter: "precomputed" },
    });
  });
  it("rejects a bad label naming the row, before running anything", async () => {
    const rows = [
      { response: "1", ground_truth: "1" },
      { response: "2", ground_truth: ["not", "a", "number"] },
    ];
    const error = await verify({ verifier: "gsm8k", rows, pool }).catch((caught: unknown) => caught);
    expect(PosttrainError.hasCode(error, "invalid_label")).toBe(true);
    expect((error as Error).message).toContain("rows[1].ground_truth");
  });
  it("rejects a row without a response", async () => {
    const rows = [{ ground_truth: "1" }] as unknown as Array<{ response: string; ground_truth: unknown }>;
    await expect(verify({ verifier: "gsm8k", rows, workers: 0 })).rejects.toThrow(/rows\[0\]/);
  });
});
