import { PosttrainError } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { ifevalLabelSchema } from "./labels.js";
import { parsePythonLiteral } from "./python-literal.js";

describe("parsePythonLiteral", () => {
  it("reads Python dicts, lists, tuples, strings, numbers and constants", () => {
    expect(
      parsePythonLiteral("[{'instruction_id': ['a:b'], 'kwargs': [{'N': None, 'x': 1.5, 'ok': True}]}]"),
    ).toEqual([{ instruction_id: ["a:b"], kwargs: [{ N: null, x: 1.5, ok: true }] }]);
    expect(parsePythonLiteral(`("it's", 'say "hi"', 'a' "b", -3, 1e3, 1_000)`)).toEqual([
      "it's",
      'say "hi"',
      "ab",
      -3,
      1000,
      1000,
    ]);
    expect(parsePythonLiteral("'tab\\there \\u00e9 \\x41'")).toEqual("tab\there é A");
    expect(parsePythonLiteral('{"json": [true, false, null]}')).toEqual({ json: [true, false, null] });
  });

  it("rejects malformed text with the offset", () => {
    for (const text of ["{'a': }", "[1, 2", "'unterminated", "[1] extra", "os.system('x')"]) {
      expect(() => parsePythonLiteral(text)).toThrow(PosttrainError);
    }
    try {
      parsePythonLiteral("[1, 2");
    } catch (error) {
      expect(PosttrainError.hasCode(error, "python_literal_invalid")).toBe(true);
    }
  });

  it("lets the ifeval label schema read open-instruct's stored ground truth", () => {
    const stored =
      "[{'instruction_id': ['punctuation:no_comma', 'count:lowercase_counting'], 'kwargs': [None, {'N': 3}]}]";
    expect(ifevalLabelSchema.parse(stored)).toEqual({
      instructionIds: ["punctuation:no_comma", "count:lowercase_counting"],
      kwargs: [null, { N: 3 }],
    });
  });
});
