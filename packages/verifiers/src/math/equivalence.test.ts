import { describe, expect, it } from "vitest";
import { cleanAnswer } from "./clean-answer.js";
import { isMathEquivalent } from "./equivalence.js";

const equal = (gold: string, answer: string) => isMathEquivalent({ gold, answer }).equivalent;

describe("cleanAnswer", () => {
  it("removes presentation that never changes a value", () => {
    expect(cleanAnswer({ answer: "$\\displaystyle \\left( 1, 2 \\right)$" }).text).toBe("( 1, 2 )");
    expect(cleanAnswer({ answer: "\\$1,234.50" }).text).toBe("1234.50");
    expect(cleanAnswer({ answer: "12\\%" })).toEqual({ text: "12", percent: true });
    expect(cleanAnswer({ answer: "5 \\text{ cm}^2" }).text).toBe("5");
    expect(cleanAnswer({ answer: "\\textbf{(B)}" }).text).toBe("B");
    expect(cleanAnswer({ answer: "1\\,000\\,000" }).text).toBe("1000000");
  });
});

describe("isMathEquivalent", () => {
  it("fractions, decimals and percentages", () => {
    expect(equal("\\frac{1}{2}", "0.5")).toBe(true);
    expect(equal("\\frac{3}{4}", "\\dfrac34")).toBe(true);
    expect(equal("\\frac{3}{4}", "3/4")).toBe(true);
    expect(equal("0.75", "\\frac{6}{8}")).toBe(true);
    expect(equal("50\\%", "50")).toBe(true);
    expect(equal("50\\%", "0.5")).toBe(true);
    expect(equal("\\frac{1}{3}", "0.333")).toBe(false);
    expect(equal("\\frac{1}{2}", "\\frac{1}{3}")).toBe(false);
  });
  it("radicals, π and e", () => {
    expect(equal("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}")).toBe(true);
    expect(equal("2\\sqrt{2}", "\\sqrt{8}")).toBe(true);
    expect(equal("\\frac{\\pi}{2}", "\\pi/2")).toBe(true);
    expect(equal("2\\pi", "6.28")).toBe(false);
    expect(equal("e^{2}", "e^2")).toBe(true);
    expect(equal("\\sqrt{2}", "\\sqrt{3}")).toBe(false);
  });
  it("scientific notation and thousands separators", () => {
    expect(equal("1500", "1.5 \\times 10^{3}")).toBe(true);
    expect(equal("0.0012", "1.2\\cdot 10^{-3}")).toBe(true);
    expect(equal("1000000", "1,000,000")).toBe(true);
    expect(equal("1000000", "1{,}000{,}000")).toBe(true);
  });
  it("intervals keep their endpoints; unions are unordered", () => {
    expect(equal("[1, 2)", "[1,2)")).toBe(true);
    expect(equal("[1, 2)", "(1, 2]")).toBe(false);
    expect(equal("(-\\infty, 3]", "\\left(-\\infty,3\\right]")).toBe(true);
    expect(equal("(-\\infty,0)\\cup(1,\\infty)", "(1,\\infty)\\cup(-\\infty,0)")).toBe(true);
  });
  it("sets and lists are unordered, tuples ordered", () => {
    expect(equal("\\{1, 2\\}", "\\{2, 1\\}")).toBe(true);
    expect(equal("2, -3", "-3, 2")).toBe(true);
    expect(equal("(1, 2)", "(2, 1)")).toBe(false);
    expect(equal("(1, 2)", "(1, \\frac{4}{2})")).toBe(true);
    expect(equal("1, 2", "1, 2, 3")).toBe(false);
  });
  it("equations: a naming left side is dropped, '5 = 6' is never 6", () => {
    expect(equal("3", "x = 3")).toBe(true);
    expect(equal("x = 3", "3")).toBe(true);
    expect(equal("y = 2x + 3", "y = 3 + 2x")).toBe(true);
    expect(equal("6", "5 = 6")).toBe(false);
    expect(equal("y = 2x + 3", "y = 2x + 4")).toBe(false);
  });
  it("text wrappers, units, degrees and currency", () => {
    expect(equal("\\text{Monday}", "Monday")).toBe(true);
    expect(equal("5", "5\\text{ cm}")).toBe(true);
    expect(equal("5", "5 inches")).toBe(true);
    expect(equal("90", "90^\\circ")).toBe(true);
    expect(equal("18.5", "\\$18.50")).toBe(true);
    expect(equal("\\text{(C)}", "C")).toBe(true);
  });
  it("algebraic expressions by a seeded identity test", () => {
    expect(equal("x^2 + 2x + 1", "(x + 1)^2")).toBe(true);
    expect(equal("\\frac{x+1}{2}", "0.5x + 0.5")).toBe(true);
    expect(equal("x + 1", "y + 1")).toBe(false);
    expect(equal("x^2 + 2x + 1", "(x + 1)^3")).toBe(false);
  });
  it("vectors and matrices element by element", () => {
    expect(
      equal("\\begin{pmatrix} 1/2 \\\\ 1 \\end{pmatrix}", "\\begin{pmatrix} 0.5 \\\\ 1 \\end{pmatrix}"),
    ).toBe(true);
    expect(
      equal("\\begin{pmatrix} 1/2 \\\\ 1 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 1/2 \\end{pmatrix}"),
    ).toBe(false);
    expect(equal("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}")).toBe(
      false,
    );
  });
  it("complex numbers", () => {
    expect(equal("2 + 3i", "3i + 2")).toBe(true);
    expect(equal("2 + 3i", "2 - 3i")).toBe(false);
  });
  it("pathological input never matches and never hangs", () => {
    expect(isMathEquivalent({ gold: "6", answer: "10^{10^{10^{10}}}" })).toEqual({
      equivalent: false,
      method: "cas_structural_unsafe",
    });
    expect(equal("6", "1000000!")).toBe(false);
    expect(equal("6", "2^{2^{2^{2^{2^{2}}}}}")).toBe(false);
    expect(equal("6", "\\sum_{n=1}^{10^{9}} n")).toBe(false);
    expect(isMathEquivalent({ gold: "6", answer: `${"{".repeat(5000)}6${"}".repeat(5000)}` }).method).toBe(
      "too_complex",
    );
    expect(equal("6", "x".repeat(5000))).toBe(false);
  });
  it("a partial parse never produces a match", () => {
    expect(equal("\\frac{1}{2}", "\\frac{1}{2")).toBe(false);
    expect(equal("6", "6 +")).toBe(false);
    expect(equal("6", "5 \\text{ or } 6")).toBe(false);
  });
  it("is gold-first: the gold's structure decides", () => {
    expect(equal("x = 3", "3")).toBe(true);
    expect(equal("3", "y = 3")).toBe(true);
    expect(equal("3", "")).toBe(false);
  });
  it("throws a timeout error once the deadline has passed", () => {
    expect(() =>
      isMathEquivalent({
        gold: "x^2",
        answer: "x \\cdot x",
        deadline: Date.now() - 1,
        timeoutMilliseconds: 1,
      }),
    ).toThrow(/time bound/);
  });
});
