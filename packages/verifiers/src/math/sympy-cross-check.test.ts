/**
 * Cross-check of the identity test against sympy (a test-only reference): for each pair, our
 * verdict must equal sympy's `simplify(gold - answer) == 0`. Skips when /usr/bin/python3 or
 * sympy is missing (Debian: python3-sympy).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isMathEquivalent } from "./equivalence.js";

const python = "/usr/bin/python3";
const hasSympy =
  existsSync(python) && spawnSync(python, ["-c", "import sympy"], { timeout: 20_000 }).status === 0;

/** [gold LaTeX, answer LaTeX, gold in sympy syntax, answer in sympy syntax]. */
const pairs: Array<[string, string, string, string]> = [
  ["x^2+2x+1", "(x+1)^2", "x**2+2*x+1", "(x+1)**2"],
  ["\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}", "(x+2)/7", "x/7+Rational(2,7)"],
  ["\\tan^2(y)+1", "\\sec^2(y)", "tan(y)**2+1", "sec(y)**2"],
  ["\\sin(2x)", "2\\sin(x)\\cos(x)", "sin(2*x)", "2*sin(x)*cos(x)"],
  ["\\frac{x^3+y^3}{x+y}", "x^2-xy+y^2", "(x**3+y**3)/(x+y)", "x**2-x*y+y**2"],
  ["e^{2\\ln x}", "x^2", "exp(2*log(x))", "x**2"],
  ["\\sqrt[3]{x}^2", "x^{2/3}", "cbrt(x)**2", "x**Rational(2,3)"],
  ["x", "x + \\sin(1000\\pi x)", "x", "x + sin(1000*pi*x)"],
  ["x", "\\sqrt{x^2}", "x", "sqrt(x**2)"],
  ["x^2-1", "(x-1)(x+2)", "x**2-1", "(x-1)*(x+2)"],
  ["\\frac{1}{x-1}-\\frac{1}{x+1}", "\\frac{2}{x^2-1}", "1/(x-1)-1/(x+1)", "2/(x**2-1)"],
  ["\\cos^2 x - \\sin^2 x", "\\cos(2x)", "cos(x)**2-sin(x)**2", "cos(2*x)"],
  ["\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", "sqrt(3)/3", "1/sqrt(3)"],
  ["2^{10}", "1024", "2**10", "1024"],
  ["\\log_2 8", "3", "log(8, 2)", "3"],
  ["x^3", "x^3 + 10^{-3}x", "x**3", "x**3 + x/1000"],
];

describe.skipIf(!hasSympy)("identity test agrees with sympy", () => {
  it("on identities and near-identities", () => {
    const script = [
      "import sys, json",
      "from sympy import *",
      "x, y = symbols('x y', real=True)",
      "out = []",
      "for g, a in json.loads(sys.stdin.read()):",
      "    out.append(bool(simplify(sympify(g, locals()) - sympify(a, locals())) == 0))",
      "print(json.dumps(out))",
    ].join("\n");
    const result = spawnSync(python, ["-c", script], {
      input: JSON.stringify(pairs.map(([, , gold, answer]) => [gold, answer])),
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(result.status, result.stderr).toBe(0);
    const reference = JSON.parse(result.stdout) as boolean[];
    const ours = pairs.map(([gold, answer]) => isMathEquivalent({ gold, answer }).equivalent);
    expect(ours).toEqual(reference);
    // The cross-check is not vacuous: both verdicts occur.
    expect(new Set(reference).size).toBe(2);
  });
});
