import { describe, expect, it } from "vitest";
import { createCalculatorTool, evaluateExpression } from "./calculator.js";

const value = (expression: string) => evaluateExpression({ expression });

describe("calculator", () => {
  it("multiplies, adds and divides exactly (no floating point)", () => {
    expect(value("123456789 * 987654321")).toEqual({ value: "121932631112635269" });
    expect(value("12345678901234567890123 * 98765432109876543210")).toEqual({
      value: "1219326311370217952249611949260778341714830",
    });
    expect(value("0.1 + 0.2")).toEqual({ value: "0.3" });
    expect(value("1/3 + 1/6")).toEqual({ value: "0.5" });
    expect(value("1/3")).toEqual({ value: "1/3" });
    expect(value("-7/4")).toEqual({ value: "-1.75" });
    expect(value("2^-3")).toEqual({ value: "0.125" });
    expect(value("2^100")).toEqual({ value: "1267650600228229401496703205376" });
    expect(value("(3 + 4) * 2 - 10 / 4")).toEqual({ value: "11.5" });
    expect(value("17 % 5")).toEqual({ value: "2" });
    expect(value("gcd(12, 18) + lcm(4, 6) + abs(-3)")).toEqual({ value: "21" });
    expect(value("2(3 + 4)")).toEqual({ value: "14" });
  });

  it("refuses anything that is not arithmetic", () => {
    for (const expression of [
      "x + 1",
      "x = 3",
      "f(x) = x^2",
      '"a" + "b"',
      "[1, 2] * 3",
      "sqrt(2)",
      "5 cm",
      "import({}, {})",
      "evaluate('1+1')",
      "a.constructor",
      "cos(1)",
      "1 == 1",
      "3!",
      "x ? 1 : 2",
    ])
      expect("error" in value(expression), expression).toBe(true);
  });

  it("refuses inexact and unbounded results before computing them", () => {
    expect(value("2^0.5")).toEqual({ error: "exponents must be integers (the result must be exact)" });
    expect(value("9^9^9")).toEqual({ error: expect.stringMatching(/too large/) });
    expect(value("(10^5000)^3")).toEqual({ error: expect.stringMatching(/too large/) });
    expect(value("1e99999")).toEqual({ error: "number too large" });
    expect(value("1 + ".repeat(600) + "1")).toEqual({ error: expect.stringMatching(/longer than|too long/) });
    expect(value("1/0")).toEqual({ error: "Division by Zero" });
    expect(value("")).toEqual({ error: "empty expression" });
  });

  it("is a tool whose failures are results, not exceptions", async () => {
    const tool = createCalculatorTool();
    const context = {
      signal: new AbortController().signal,
      limits: { timeoutMilliseconds: 1000, maxOutputCharacters: 100 },
    };
    await expect(tool.call({ expression: "6 * 7" }, context)).resolves.toEqual({ output: "42" });
    await expect(tool.call({ expression: "6 *" }, context)).resolves.toMatchObject({
      output: "",
      error: expect.any(String),
    });
    expect(tool.argumentSchema.safeParse({ expression: 1 }).success).toBe(false);
  });
});
