import { describe, expect, it } from "vitest";
import {
  extractBoxedContents,
  extractLastDollarAnswer,
  extractMathAnswer,
  extractMinervaAnswer,
} from "./extract.js";

describe("answer extraction", () => {
  it("reads every \\boxed{} and \\fbox{} with nested braces, skipping unclosed ones", () => {
    expect(extractBoxedContents({ text: "a \\boxed{\\frac{1}{2}} b \\fbox{3} c \\boxed{4" })).toEqual([
      "\\frac{1}{2}",
      "3",
    ]);
    expect(extractBoxedContents({ text: "$\\boxed 5$" })).toEqual(["5"]);
  });
  it("reads the Minerva sentence (first occurrence, suffix optional at the end)", () => {
    expect(
      extractMinervaAnswer({ text: "Final Answer: The final answer is $7$. I hope it is correct." }),
    ).toBe("$7$");
    expect(extractMinervaAnswer({ text: "Final Answer: The final answer is 8. " })).toBe("8");
    // As in the reference, the appended suffix needs "<character> I hope": "is 8" alone does not match.
    expect(extractMinervaAnswer({ text: "Final Answer: The final answer is 8" })).toBeUndefined();
    expect(extractMinervaAnswer({ text: "no sentence" })).toBeUndefined();
    // The pattern's final "." is any character; the body never crosses a line.
    expect(extractMinervaAnswer({ text: "Final Answer: The final answer is 5. I hope it is correct!" })).toBe(
      "5",
    );
    expect(
      extractMinervaAnswer({
        text: "Final Answer: The final answer is 5\nFinal Answer: The final answer is 6. I hope it is correct.",
      }),
    ).toBe("6");
    // A flood of prefixes on one line matches like the reference (up to the appended suffix).
    const flood = "Final Answer: The final answer is ".repeat(4000);
    expect(extractMinervaAnswer({ text: flood })).toBe(
      flood.slice("Final Answer: The final answer is".length, -2).trim(),
    );
  });
  it("reads the text between the last two dollars", () => {
    expect(extractLastDollarAnswer({ text: "we get $x$ and then $42$." })).toBe("42");
    expect(extractLastDollarAnswer({ text: "costs $5" })).toBeUndefined();
  });
  it("orders flex candidates: boxed, Minerva, else dollars, else whole output", () => {
    const both = extractMathAnswer({
      response: "$\\boxed{1}$\nFinal Answer: The final answer is 2. I hope it is correct.",
    });
    expect(both.candidates.map((candidate) => candidate.source)).toEqual(["boxed", "minerva"]);
    expect(both.extracted).toBe("1");
    expect(extractMathAnswer({ response: "so $3$" })).toMatchObject({ extracted: "3", source: "dollars" });
    expect(extractMathAnswer({ response: "4" })).toMatchObject({ extracted: "4", source: "whole_output" });
  });
  it("strict mode reads only the Minerva sentence", () => {
    expect(extractMathAnswer({ response: "$\\boxed{1}$", mode: "strict" }).extracted).toBeUndefined();
    expect(
      extractMathAnswer({
        response: "Final Answer: The final answer is 2. I hope it is correct.",
        mode: "strict",
      }).extracted,
    ).toBe("2");
  });
});
