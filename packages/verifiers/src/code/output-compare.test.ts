import { describe, expect, it } from "vitest";
import { outputsMatch } from "./output-compare.js";

describe("outputsMatch", () => {
  it("ignores surrounding whitespace per line and blank lines at the ends", () => {
    expect(outputsMatch({ actual: "1 2  \r\n3\n\n", expected: "1 2\n3" })).toBe(true);
    expect(outputsMatch({ actual: "\n  7\n", expected: "7\n" })).toBe(true);
  });

  it("keeps inner blank lines and line counts significant", () => {
    expect(outputsMatch({ actual: "1\n\n2", expected: "1\n2" })).toBe(false);
    expect(outputsMatch({ actual: "1\n2\n3", expected: "1\n2" })).toBe(false);
    expect(outputsMatch({ actual: "7\n8", expected: "7" })).toBe(false);
  });

  it("compares whitespace-separated numbers by exact decimal value", () => {
    expect(outputsMatch({ actual: "1.0 2.50", expected: "1 2.5" })).toBe(true);
    expect(outputsMatch({ actual: "1e3", expected: "1000" })).toBe(true);
    expect(outputsMatch({ actual: "-0.0", expected: "0" })).toBe(true);
    expect(outputsMatch({ actual: "0.30000000000000004", expected: "0.3" })).toBe(false);
    expect(outputsMatch({ actual: "1  2", expected: "1 2" })).toBe(true);
  });

  it("does not treat words as numbers", () => {
    expect(outputsMatch({ actual: "YES", expected: "yes" })).toBe(false);
    expect(outputsMatch({ actual: "1 a", expected: "1.0 a" })).toBe(false);
  });
});
