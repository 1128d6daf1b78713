import { PosttrainError } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { getVerifier, parseRemap, verifierProbes, verifierRegistry } from "./registry.js";

describe("verifier registry", () => {
  it("registers open-instruct's names with a version, description and label schema", () => {
    for (const name of [
      "gsm8k",
      "math",
      "strict_math",
      "string_matcher",
      "string_f1",
      "max_length",
      "up_to_max_length",
    ]) {
      const verifier = verifierRegistry.get(name);
      expect(verifier?.name).toBe(name);
      expect(verifier?.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(verifier?.description.length).toBeGreaterThan(10);
    }
  });
  it("every probe names a registered verifier and expects 0 or 1", () => {
    for (const probe of verifierProbes) {
      expect(verifierRegistry.has(probe.verifier), probe.verifier).toBe(true);
      expect(probe.expectedScore).toBe(probe.kind === "honest" ? 1 : 0);
    }
  });
  it("looks names up case-insensitively and applies remaps", () => {
    expect(getVerifier({ name: "GSM8K" }).name).toBe("gsm8k");
    expect(getVerifier({ name: "gsm8k_v2", remap: "gsm8k_v2=gsm8k" }).name).toBe("gsm8k");
    expect(getVerifier({ name: "m", remap: ["x=gsm8k", "m=math"] }).name).toBe("math");
    expect(parseRemap({ remap: "a=b, c=d" })).toEqual(
      new Map([
        ["a", "b"],
        ["c", "d"],
      ]),
    );
  });
  it("rejects unknown names and malformed remaps with typed errors", () => {
    expect(() => getVerifier({ name: "nope" })).toThrow(/unknown verifier "nope"; known verifiers: .*gsm8k/);
    try {
      getVerifier({ name: "a", remap: "a=b=c" });
      expect.unreachable();
    } catch (error) {
      expect(PosttrainError.hasCode(error, "invalid_verifier_remap")).toBe(true);
    }
  });
});
