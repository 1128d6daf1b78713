import { describe, expect, it } from "vitest";
import { compileReal } from "./fast-evaluate.js";

describe("compileReal", () => {
  it("evaluates the arithmetic, power, root and function subset in doubles", () => {
    const polynomial = compileReal(["Add", ["Power", "x", 2], ["Multiply", 3, "x"], { num: "0.5" }]);
    expect(polynomial?.({ x: 2 })).toBeCloseTo(10.5);
    const trigonometric = compileReal(["Add", ["Power", ["Sin", "y"], 2], ["Power", ["Cos", "y"], 2]]);
    expect(trigonometric?.({ y: 1.234 })).toBeCloseTo(1);
    expect(compileReal(["Root", "x", 3])?.({ x: -8 })).toBeCloseTo(-2);
    expect(compileReal(["Divide", "Pi", ["Rational", 1, 2]])?.({})).toBeCloseTo(2 * Math.PI);
  });
  it("reports a missing real value as NaN so the CAS can give the complex one", () => {
    expect(compileReal(["Ln", "x"])?.({ x: -1 })).toBeNaN();
    expect(compileReal(["Power", "x", ["Rational", 2, 3]])?.({ x: -8 })).toBeNaN();
  });
  it("refuses anything outside the subset", () => {
    expect(compileReal(["Gamma", "x"])).toBeUndefined();
    expect(compileReal(["Multiply", "ImaginaryUnit", "x"])).toBeUndefined();
    expect(compileReal(["Matrix", ["List", 1, 2]])).toBeUndefined();
  });
});
