import { describe, expect, it } from "vitest";
import { MathNormalizationError } from "../errors.js";
import { hendrycksIsEquivalent, stripString } from "./strip-string.js";

const strip = (answer: string) => stripString({ answer });

describe("stripString (Hendrycks)", () => {
  it("removes line breaks, \\!, \\left/\\right, degrees, \\$ and percent", () => {
    expect(strip("1\n2")).toBe("12");
    expect(strip("1\\!000")).toBe("1000");
    expect(strip("\\left(1,2\\right)")).toBe("(1,2)");
    expect(strip("30^\\circ")).toBe("30");
    expect(strip("30^{\\circ}")).toBe("30");
    expect(strip("\\$5")).toBe("5");
    expect(strip("50\\%")).toBe("50");
    expect(strip("50%")).toBe("50");
  });
  it("maps tfrac/dfrac to frac and fixes shorthands", () => {
    expect(strip("\\dfrac{1}{2}")).toBe("\\frac{1}{2}");
    expect(strip("\\tfrac12")).toBe("\\frac{1}{2}");
    expect(strip("\\frac1{72}")).toBe("\\frac{1}{72}");
    expect(strip("\\sqrt3")).toBe("\\sqrt{3}");
  });
  it("drops a unit written as \\text{ unit} on the right", () => {
    expect(strip("5\\text{ cm}")).toBe("5");
  });
  it("adds a leading zero to bare decimals and maps 0.5 to a fraction", () => {
    expect(strip(".5")).toBe("\\frac{1}{2}");
    expect(strip("{.25}")).toBe("{0.25}");
    expect(strip("0.5")).toBe("\\frac{1}{2}");
  });
  it("drops a short 'k =' prefix", () => {
    expect(strip("k = 3")).toBe("3");
    expect(strip("abc = 3")).toBe("abc=3");
  });
  it("turns a/b of integers into a fraction", () => {
    expect(strip("3/4")).toBe("\\frac{3}{4}");
    expect(strip("03/4")).toBe("03/4");
  });
  it("throws where the reference raises, and is_equiv then falls back to raw equality", () => {
    expect(() => strip("5\\text{ cm}\\text{ m}")).toThrow(MathNormalizationError);
    expect(() => strip("x/2")).toThrow(MathNormalizationError);
    expect(hendrycksIsEquivalent({ first: "x/2", second: "x/2" })).toBe(true);
    expect(hendrycksIsEquivalent({ first: "x/2", second: "\\frac{x}{2}" })).toBe(false);
    expect(hendrycksIsEquivalent({ first: "0.5", second: "\\frac12" })).toBe(true);
  });
});
