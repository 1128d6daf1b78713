import { describe, expect, it } from "vitest";
import { stripReasoning } from "../reasoning.js";
import { ifevalProbes, ifevalVerifiers } from "./index.js";

const context = { timeoutMilliseconds: 10_000 };

describe("ifeval probes", () => {
  it("cover every IFEval verifier with adversarial and honest cases, and surface the reference's rules", () => {
    for (const name of ["ifeval", "ifeval_old", "ifeval_guarded"]) {
      const kinds = new Set(
        ifevalProbes.filter((probe) => probe.verifier === name).map((probe) => probe.kind),
      );
      expect(kinds.has("adversarial") && kinds.has("honest")).toBe(true);
    }
    const referenceRules = ifevalProbes
      .filter((probe) => probe.kind === "reference-rule")
      .map((probe) => probe.name);
    expect(referenceRules).toEqual(
      expect.arrayContaining(["choice-substring", "empty-title", "empty-highlight"]),
    );
  });

  for (const probe of ifevalProbes) {
    it(`${probe.verifier} / ${probe.name} scores ${probe.expectedScore}`, async () => {
      const verifier = ifevalVerifiers.find((candidate) => candidate.name === probe.verifier)!;
      const label = verifier.labelSchema.parse(probe.label);
      const response = stripReasoning({ response: probe.response });
      const result = await verifier.verify({ response, label: label as never, context });
      expect(result.score).toBe(probe.expectedScore);
    });
  }
});
