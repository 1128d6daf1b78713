import { describe, expect, it } from "vitest";
import { normalizeFinalAnswer } from "./normalize-final-answer.js";

const normalize = (answer: string) => normalizeFinalAnswer({ answer });

describe("normalizeFinalAnswer (Minerva)", () => {
  it("keeps the text after the last '='", () => {
    expect(normalize("x = y = 5")).toBe("5");
  });
  it("drops articles, spaces, '\\$' and '\\ '", () => {
    expect(normalize("a 5")).toBe("5");
    expect(normalize("an apple")).toBe("apple");
    expect(normalize("\\$ 1 0")).toBe("10");
    expect(normalize("3\\ 4")).toBe("34");
  });
  it("maps mbox to text and 'and' to a comma", () => {
    expect(normalize("x\\text{and}y")).toBe("x,y");
    expect(normalize("x,\\text{and}y")).toBe("x,y");
    // "1,2" then loses its comma: only digits and commas remain.
    expect(normalize("1\\text{and}2")).toBe("12");
    expect(normalize("\\mbox{yes}")).toBe("yes");
  });
  it("removes unit words and markup literally", () => {
    expect(normalize("5 inches")).toBe("5");
    expect(normalize("12 square units")).toBe("12");
    expect(normalize("90^\\circ")).toBe("90");
    expect(normalize("90^{\\circ}")).toBe("90");
    expect(normalize("1{,}000")).toBe("1000");
    expect(normalize("x, y, \\dots")).toBe("x,y,");
    expect(normalize("5\\text{ cm}")).toBe("5");
  });
  it("unwraps $…$, \\text, \\textbf, \\overline and \\boxed", () => {
    expect(normalize("so $\\frac{1}{2}$ here")).toBe("\\frac{1}{2}");
    expect(normalize("\\textbf{7}")).toBe("7");
    expect(normalize("0.\\overline{3}")).toBe("0.3");
    expect(normalize("\\boxed{\\frac{3}{4}}")).toBe("\\frac{3}{4}");
  });
  it("fixes \\frac and \\sqrt shorthands", () => {
    expect(normalize("\\frac12")).toBe("\\frac{1}{2}");
    expect(normalize("\\sqrt3")).toBe("\\sqrt{3}");
  });
  it("removes thousands commas only from pure digit strings", () => {
    expect(normalize("100,000")).toBe("100000");
    expect(normalize("(1,2)")).toBe("(1,2)");
  });
});
