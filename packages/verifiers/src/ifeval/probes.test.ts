import { describe, expect, it } from "vitest";
import { stripReasoning } from "../reasoning.js";
import { ifevalProbes, ifevalVerifiers } from "./index.js";

const context = { timeoutMilliseconds: 10_000 };

describe("ifeval probes", () => {
  it("cover both verifiers with adversarial and honest cases", () => {
    for (const name of ["ifeval", "ifeval_old"]) {
      const kinds = new Set(
        ifevalProbes.filter((probe) => probe.verifier === name).map((probe) => probe.kind),
      );
      expect(kinds).toEqual(new Set(["adversarial", "honest"]));
    }
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
