/**
 * Math-Verify-level behaviour of the `math` verifier, category by category, each with pairs
 * that must match and pairs that must not (gold first, then the model's response).
 */
import { describe, expect, it } from "vitest";
import type { VerifyContext } from "../types.js";
import { isMathEquivalent } from "./equivalence.js";
import { extractGoldAnswer, extractMathAnswer, lastBoxGroup } from "./extract.js";
import { mathFlexVerifier, mathVerifier } from "./verifiers.js";

const context: VerifyContext = { timeoutMilliseconds: 5_000 };
const score = async (gold: string, response: string) =>
  (await mathVerifier.verify({ response, label: gold, context })).score;
const expectPairs = async (pairs: Array<[string, string, 0 | 1]>) => {
  const wrong: string[] = [];
  for (const [gold, response, expected] of pairs) {
    const actual = await score(gold, response);
    if (actual !== expected) wrong.push(`${gold} ⟵ ${response}: ${actual}, expected ${expected}`);
  }
  expect(wrong).toEqual([]);
};

describe("extraction", () => {
  it("reads display and inline environments, the rightmost answer winning", async () => {
    await expectPairs([
      ["9", "The answer is \\[ 9 \\]", 1],
      ["9", "so we get $$ 9 $$", 1],
      ["9", "so we get \\( 9 \\)", 1],
      ["10", "we get \\( (9+1) \\)", 1],
      ["9", "we get $$\n9\n$$", 1],
      ["9", "we get \\[ 8 \\]", 0],
      // The last plain number after the last environment wins (it ends later).
      ["12", "with $d = \\frac{90}{n}$ there are 12 sequences", 1],
      ["12", "there are 12 sequences, so $d = 13$", 0],
    ]);
  });
  it("reads 'Answer:' / 'Final Answer:' / 'the answer is' sentences", async () => {
    await expectPairs([
      ["34", "Final Answer: The largest $n$ is 34.", 1],
      ["3", "Final Answer: Jane started growing Sphere 3 hours ago.", 1],
      ["\\frac{1}{2}", "After simplifying, the answer is $\\frac{1}{2}$. Done.", 1],
      ["7", "Answer: 7", 1],
      ["7", "Answer: 8", 0],
      ["2", "so the answer is 3, not 2.", 0],
    ]);
  });
  it("takes the last expression when nothing is boxed, never a digit inside a word", async () => {
    await expectPairs([
      ["2.74", "Soucis : 2,74 $ a..", 1],
      ["1000.99", "the number is not 10 which is 1,000.99€", 1],
      ["2/3", "so P(A) = (1/2) * (4/3) = 2/3. Therefore 2/3", 1],
      ["x^2+1", "x^2+1", 1],
      ["2", "AZYUK2A", 0],
      ["10", "the number is not 10 which is 1,000.99€", 0],
    ]);
  });
  it("removes reasoning before judging (through verify) and keeps flex as math_flex", async () => {
    const flex = await mathFlexVerifier.verify({ response: "we get $3$", label: "3", context });
    expect(flex).toMatchObject({ score: 1, details: { source: "dollars" } });
    expect(extractMathAnswer({ response: "we get $3$", mode: "flex" }).source).toBe("dollars");
    expect(extractMathAnswer({ response: "we get $3$", mode: "full" }).source).toBe("latex_environment");
  });
  it("extracts the gold from a whole solution like a response (last box)", async () => {
    expect(extractGoldAnswer({ label: "Thus $x = \\boxed{2}$, and we are done." })).toBe("2");
    expect(extractGoldAnswer({ label: "$\\boxed{1}\\boxed{2}$" })).toBe("\\{1, 2\\}");
    expect(extractGoldAnswer({ label: "\\frac{1}{2}" })).toBe("\\frac{1}{2}");
    await expectPairs([
      ["Since $25<30<36$ we find the value is $\\boxed{14{,}916}$ indeed.", "So $\\boxed{14916}$", 1],
      ["Since $25<30<36$ we find the value is $\\boxed{14{,}916}$ indeed.", "So $\\boxed{14915}$", 0],
      ["$\\boxed{1}\\boxed{2}$", "$\\boxed{1,2}$", 1],
      [
        "so $d = \\boxed{15\\frac{39}{40}},$ or $\\boxed{\\frac{639}{40}}$ inches.",
        "$\\boxed{\\frac{639}{40}}$",
        1,
      ],
      ["$\\boxed{1}\\boxed{2}$", "$\\boxed{1,3}$", 0],
    ]);
  });
});

describe("numbers", () => {
  it("thousands separators, decimal commas, currency, units and percent", async () => {
    await expectPairs([
      ["7425000", "7,425,000", 1],
      ["1000", "1 000", 1],
      ["1000.99", "1,000.99", 1],
      ["11111111100", "is $\\boxed{11,\\! 111,\\! 111,\\! 100}$", 1],
      ["1000.99", "1000,99", 1],
      ["0,111", "0.111", 1],
      ["1,22", "1.22", 1],
      ["0.4", ".4", 1],
      ["1000.99", "so it is 1,000.99m²", 1],
      ["125", "The distance is $\\boxed{125\\textnormal{ miles}}.$", 1],
      ["28\\%", "28 pct", 1],
      ["28\\%", "$\\boxed{28 percentage}$", 1],
      ["28\\%", "28 percent", 1],
      ["12", "$\\boxed{12 \\text{ students}}$", 1],
      ["3", "$\\boxed{3 gallons}$", 1],
      ["7425000", "7,425,001", 0],
      ["1000.99", "1000,98", 0],
      ["28\\%", "29 percent", 0],
    ]);
  });
  it("decimals round to 6 places like Math-Verify, never fewer", () => {
    expect(isMathEquivalent({ gold: "\\frac{1}{12}", answer: "0.0833333333333333" }).equivalent).toBe(true);
    expect(isMathEquivalent({ gold: "\\frac{1}{3}", answer: "0.333333" }).equivalent).toBe(true);
    expect(isMathEquivalent({ gold: "\\frac{1}{3}", answer: "0.3333" }).equivalent).toBe(false);
    expect(isMathEquivalent({ gold: "\\sqrt{2}", answer: "1.41421" }).equivalent).toBe(false);
  });
});

/** "${1,3}$": a LaTeX group (written by parts so it is not read as a template placeholder). */
const bareGroup = ["$", "{1,3}", "$"].join("");

describe("sets, tuples and lists", () => {
  it("joins boxes written as one answer set, but not boxes separated by prose", async () => {
    expect(lastBoxGroup({ text: "$\\boxed{1}$ and $\\boxed{2}$" })).toEqual(["1", "2"]);
    expect(lastBoxGroup({ text: "\\boxed{1} no no \\boxed{2}" })).toEqual(["2"]);
    await expectPairs([
      ["1, 2", "$\\boxed{1}$ and $\\boxed{2}$", 1],
      ["\\{1,2,3\\}", "\\boxed{1},\\boxed{2},\\boxed{3}", 1],
      ["(2, 2), (6, 2)", "$$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$$", 1],
      ["x=2, y=3", "so $x = \\boxed{2}$ and $y = \\boxed{3}$", 1],
      ["2, 3", "so $x = \\boxed{2}$ and $y = \\boxed{3}$", 1],
      ["3", "so $x = \\boxed{2}$ and $y = \\boxed{3}$", 0],
      ["2", "$\\boxed{1}$ and $\\boxed{2}$", 0],
      ["6", "It is $\\boxed{5}$ or maybe $\\boxed{6}$.", 0],
    ]);
  });
  it("sets and solution lists are unordered, tuples ordered; braces only group", async () => {
    await expectPairs([
      ["\\{1, 2\\}", "\\boxed{\\{2, 1\\}}", 1],
      ["-2, 1", "\\boxed{1, -2}", 1],
      ["(1, 3)", bareGroup, 1],
      ["(3, 1)", bareGroup, 0],
      ["(37,3,3,13),(17,3,3,7)", "\\boxed{(17, 3, 3, 7), (37,3,3,13), (17,3,3,7)}", 1],
      ["-12;-11;-10", "\\boxed{\\{-10, -12, -11\\}}", 1],
      ["(1, 2)", "\\boxed{(2, 1)}", 0],
      ["1, 2", "\\boxed{1, 2, 3}", 0],
    ]);
  });
  it("\\pm, 'and', 'or' and named components", async () => {
    await expectPairs([
      ["1 \\pm \\sqrt{19}", "$x = \\boxed{1 \\pm \\sqrt{19}}$", 1],
      ["1+\\sqrt{19}, 1-\\sqrt{19}", "\\boxed{1 \\pm \\sqrt{19}}", 1],
      ["\\{1\\pm\\sqrt{5},-2\\}", "\\boxed{\\{-2, 1+\\sqrt{5}, 1-\\sqrt{5}\\}}", 1],
      ["12, 13", "between $\\boxed{12\\text{ and }13}$", 1],
      ["5, 6", "\\boxed{5 \\text{ or } 6}", 1],
      ["a, b", "\\boxed{x = a, p = b}", 1],
      ["AB=4,CD=5", "$\\boxed{4, 5}$", 1],
      ["3", "\\boxed{\\pm 3}", 0],
      ["6", "\\boxed{5 \\text{ or } 6}", 0],
      ["1 \\pm \\sqrt{19}", "\\boxed{1 + \\sqrt{19}}", 0],
    ]);
  });
});

describe("intervals and inequalities", () => {
  it("an inequality gold accepts its interval; an interval gold refuses an inequality (Math-Verify's default)", async () => {
    await expectPairs([
      ["-2 \\le x \\le 7", "$x \\in [-2,7]$", 1],
      ["-2 \\le x \\le 7", "$\\boxed{[-2,7]}$", 1],
      ["0<f(x)<1", "\\boxed{(0,1)}", 1],
      ["x > 3", "\\boxed{(3, \\infty)}", 1],
      ["[-2,7]", "$x \\in [-2,7]$", 1],
      ["x \\in [-2,7]", "$-2 \\le x \\le 7$", 0],
      ["-2 \\le x \\le 7", "\\boxed{(-2,7)}", 0],
      ["x > 3", "\\boxed{[3, \\infty)}", 0],
    ]);
  });
  it("unions of intervals are unordered", async () => {
    await expectPairs([
      ["(-\\infty,0)\\cup(1,\\infty)", "\\boxed{(1,\\infty)\\cup(-\\infty,0)}", 1],
      ["x \\in \\boxed{\\{-1\\} \\cup [0,7)}.$", "$\\boxed{[0,7) \\cup \\{-1\\}}$", 1],
      ["(-\\infty,0)\\cup(1,\\infty)", "\\boxed{(-\\infty,0]\\cup(1,\\infty)}", 0],
    ]);
  });
});

describe("relations", () => {
  it("chains answer with their last side; a bare number never equals a non-assignment equation", async () => {
    await expectPairs([
      ["x = 11", "$x = 5+5+1 = 7 =11$", 1],
      ["z = 1 + 1 = 2", "$z = 3+3 = 2$", 1],
      ["11", "$x\\approx11$", 1],
      ["1/3", "$x=1/3\\approx0.3$", 1],
      ["k=1", "$1$", 1],
      ["a +3z = 0", "$0$", 0],
      ["7 = 11a+c", "$11a+c$", 0],
      ["2x + z = 1", "$1$", 0],
      ["6", "\\boxed{5 = 6}", 0],
    ]);
  });
  it("equivalent equations and flipped inequalities are equal", async () => {
    await expectPairs([
      ["2x+4y-3=0", "$y=-\\frac{1}{2}x+\\frac{3}{4}$", 1],
      ["x^2/4 + y^2/3 = 1", "$x^2/16 + y^2/12 = 1/4$", 1],
      ["34x+45y-20z+100=0", "$-34x-45y+20z-100=0$", 1],
      ["x < 1", "$-x > -1$", 1],
      ["x \\leq 5", "$5 \\geq x$", 1],
      ["x >= 5", "$x \\geq 5$", 1],
      ["x != 3", "$x \\neq 3$", 1],
      ["x < 1", "$x > -1$", 0],
      ["x > 5", "$x < 5$", 0],
      ["x \\geq 5", "$x \\leq 5$", 0],
      ["x < 1", "$x \\le 1$", 0],
      ["2x+4y-3=0", "$y=-\\frac{1}{2}x+\\frac{3}{5}$", 0],
    ]);
  });
});

describe("matrices, radicals, powers and choices", () => {
  it("pmatrix, bmatrix and array are the same matrix, compared element by element", async () => {
    const pmatrix = "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}";
    await expectPairs([
      [pmatrix, "$\\begin{bmatrix}1 & 2 \\\\ 3 & 4\\end{bmatrix}$", 1],
      [pmatrix, "$\\left[\\begin{array}{cc}1 & 2 \\\\3 & 4\\end{array}\\right]$", 1],
      [
        pmatrix,
        "$\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix} \\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}$",
        1,
      ],
      [
        "\\begin{pmatrix}\\frac{1}{3\\sqrt[3]{x}^2}&0\\\\-\\sin(x)&1\\\\\\end{pmatrix}",
        "$\\begin{pmatrix}\\frac{1}{3x^{2/3}}&0\\\\-\\sin(x)&1\\end{pmatrix}$",
        1,
      ],
      [pmatrix, "$\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}$", 0],
      [pmatrix, "$\\begin{pmatrix}1 & 3 \\\\ 2 & 4\\end{pmatrix}$", 0],
    ]);
  });
  it("radicals, powers and multiple-choice letters", async () => {
    await expectPairs([
      ["x^{2/3}", "\\boxed{\\sqrt[3]{x}^2}", 1],
      ["\\sqrt{3}", "$\\sqrt3$", 1],
      ["\\tan^2(y)+1", "$\\sec^2(y)$", 1],
      ["\\text{(C)}", "\\(\\boxed{\\text{C}}\\).", 1],
      ["C", "$\\boxed{\\textbf{(C)}}$", 1],
      ["x^{2/3}", "\\boxed{\\sqrt{x}^3}", 0],
      ["4", "$4\\sqrt{2}$", 0],
      ["C", "$\\boxed{D}$", 0],
      ["C", "$\\boxed{A, B, C, D}$", 0],
    ]);
  });
});

describe("free variables", () => {
  it("random test points per comparison: a lattice-periodic term is caught", () => {
    expect(isMathEquivalent({ gold: "x", answer: "x + \\sin(1000\\pi x)" }).equivalent).toBe(false);
    expect(isMathEquivalent({ gold: "x", answer: "x + \\sin(2000\\pi x)\\cdot 10" }).equivalent).toBe(false);
    expect(isMathEquivalent({ gold: "x^2-1", answer: "(x-1)(x+1)" }).equivalent).toBe(true);
    expect(isMathEquivalent({ gold: "\\sin^2 x + \\cos^2 x", answer: "1" }).equivalent).toBe(false); // different variables
    expect(isMathEquivalent({ gold: "\\frac{x+2}{7}", answer: "\\frac{x}{7}+\\frac{2}{7}" }).equivalent).toBe(
      true,
    );
  });
  it("verdicts are reproducible", () => {
    const first = isMathEquivalent({ gold: "\\sqrt{x^2}", answer: "x" });
    const second = isMathEquivalent({ gold: "\\sqrt{x^2}", answer: "x" });
    expect(first).toEqual(second);
    // |x| ≠ x for negative x, which the (−10, 10) and (−100, 100) ranges sample.
    expect(first.equivalent).toBe(false);
  });
});
