import { describe, expect, it } from "vitest";
import { formatProbeReport, runProbes } from "./run-probes.js";

describe("runProbes", () => {
  it("every shipped probe of our verifiers passes through the worker pool", async () => {
    const verifiers = [
      "gsm8k",
      "gsm8k_strict",
      "math",
      "strict_math",
      "string_matcher",
      "string_f1",
      "puzzle",
      "flan",
      "re_search",
      "re_search_f1",
      "max_length",
      "up_to_max_length",
    ];
    const report = await runProbes({ verifiers, workers: 2 });
    const failures = report.verifiers.flatMap((verifier) =>
      verifier.probes
        .filter((probe) => !probe.passed)
        .map((probe) => `${verifier.verifier}/${probe.name}: ${probe.score}`),
    );
    expect(failures).toEqual([]);
    expect(report.verifiers.map((verifier) => verifier.verifier)).toEqual(verifiers);
    for (const verifier of report.verifiers) {
      expect(verifier.probes.some((probe) => probe.kind === "adversarial")).toBe(true);
      expect(verifier.probes.some((probe) => probe.kind === "honest")).toBe(true);
    }
    const text = formatProbeReport({ report });
    expect(text).toContain("math 1.0.0:");
    expect(text).toMatch(/pass {2}several-boxed-answers/);
    expect(text).toMatch(/total: \d+ passed, 0 failed/);
  });
  it("reports a failing probe as failed", async () => {
    const report = await runProbes({
      verifiers: ["gsm8k"],
      workers: 0,
      probes: [
        {
          verifier: "gsm8k",
          name: "wrong-expectation",
          kind: "honest",
          response: "17",
          label: "18",
          expectedScore: 1,
          why: "test",
        },
      ],
    });
    expect(report).toMatchObject({ passed: 0, failed: 1 });
    expect(report.verifiers[0]?.probes[0]).toMatchObject({
      passed: false,
      score: 0,
      details: { reason: "not_equal" },
    });
  });
});

describe("runProbes: bounds and reference rules", () => {
  it("a probe that times out fails even when its score matches", async () => {
    const report = await runProbes({
      verifiers: ["ifeval"],
      workers: 1,
      timeoutMilliseconds: 1,
      probes: [
        {
          verifier: "ifeval",
          name: "times-out",
          kind: "adversarial",
          response: "a sentence. ".repeat(10_000),
          label: {
            instruction_id: ["change_case:capital_word_frequency"],
            kwargs: [{ capital_frequency: 1, capital_relation: "at least" }],
          },
          expectedScore: 0,
          why: "test",
        },
      ],
    });
    expect(report.verifiers[0]?.probes[0]).toMatchObject({ score: 0, timeout: true, passed: false });
  });
  it("labels reference-rule probes and reports the token counter", async () => {
    const report = await runProbes({ verifiers: ["ifeval_old", "max_length"], workers: 0 });
    expect(report.failed).toBe(0);
    expect(report.tokenCounter).toBe("utf8-bytes");
    const text = formatProbeReport({ report });
    expect(text).toMatch(/pass {2}choice-substring +reference-rule .*\(accepted by the reference's rule\)/);
    expect(text).toMatch(/pass {2}unclosed-think-hides-words/);
  });
});
