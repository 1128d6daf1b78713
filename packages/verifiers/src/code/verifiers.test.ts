import { parseWithSchema, ValidationError } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import type { Verifier } from "../types.js";
import { codeProbes, codeVerifiers } from "./index.js";
import { codeLabelSchema, codeStdioLabelSchema, codeStdioVerifier, codeVerifier } from "./verifiers.js";

const context = { timeoutMilliseconds: 30_000 };

describe("code label schemas", () => {
  it("accepts open-instruct's list of snippets, its JSON string, and the object form", () => {
    expect(parseWithSchema({ schema: codeLabelSchema, value: ["assert f() == 1"], label: "row 0" })).toEqual({
      tests: ["assert f() == 1"],
      language: "python",
    });
    expect(
      parseWithSchema({ schema: codeLabelSchema, value: '["assert f() == 1"]', label: "row 0" }),
    ).toEqual({ tests: ["assert f() == 1"], language: "python" });
    expect(
      parseWithSchema({
        schema: codeLabelSchema,
        value: { tests: ["assert.ok(f())"], language: "javascript", wallSeconds: 5 },
        label: "row 0",
      }),
    ).toEqual({
      tests: ["assert.ok(f())"],
      language: "javascript",
      wallSeconds: 5,
    });
    expect(
      parseWithSchema({
        schema: codeStdioLabelSchema,
        value: '[{"input": "1", "output": "2"}]',
        label: "row 0",
      }),
    ).toEqual({
      tests: [{ input: "1", output: "2" }],
      language: "python",
    });
  });

  it("rejects bad labels with a ValidationError naming the row", () => {
    expect(() => parseWithSchema({ schema: codeLabelSchema, value: [], label: "row 7" })).toThrow(
      ValidationError,
    );
    expect(() => parseWithSchema({ schema: codeLabelSchema, value: "not json", label: "row 7" })).toThrow(
      /row 7/,
    );
    expect(() =>
      parseWithSchema({ schema: codeStdioLabelSchema, value: [{ input: "1" }], label: "row 3" }),
    ).toThrow(/row 3/);
  });
});

describe("code verifiers", () => {
  it("exports code and code_stdio at version 2.0.0 (the value boundary)", () => {
    expect(codeVerifiers.map((verifier) => [verifier.name, verifier.version])).toEqual([
      ["code", "2.0.0"],
      ["code_stdio", "2.0.0"],
    ]);
  });

  it("scores the fraction of tests passed and explains each test", async () => {
    const label = parseWithSchema({
      schema: codeLabelSchema,
      value: ["assert add(1, 2) == 3", "assert add(2, 2) == 5"],
      label: "row",
    });
    const result = await codeVerifier.verify({
      response: "```python\ndef add(a, b):\n    return a + b\n```",
      label,
      context,
    });
    expect(result.score).toBe(0.5);
    expect(result.details).toMatchObject({
      language: "python",
      program: "def add(a, b):\n    return a + b",
      passed: 1,
      total: 2,
    });
    const tests = result.details.tests as Array<{ index: number; passed: boolean; reason: string }>;
    expect(tests.map((test) => [test.index, test.passed, test.reason])).toEqual([
      [0, true, "ok"],
      [1, false, "assertion_failed"],
    ]);
  });

  it("scores 0 with a reason when the response has no program for the language", async () => {
    const label = parseWithSchema({
      schema: codeStdioLabelSchema,
      value: [{ input: "", output: "1" }],
      label: "row",
    });
    const result = await codeStdioVerifier.verify({ response: "```bash\necho 1\n```", label, context });
    expect(result).toEqual({
      score: 0,
      details: expect.objectContaining({ reason: "no_code_block", program: null }),
    });
  });

  it("fails tests that would start after the check's deadline", async () => {
    const label = parseWithSchema({
      schema: codeLabelSchema,
      value: ["assert True", "assert True"],
      label: "row",
    });
    const result = await codeVerifier.verify({
      response: "```python\nx = 1\n```",
      label,
      context: { timeoutMilliseconds: 0 },
    });
    expect(result.score).toBe(0);
    const tests = result.details.tests as Array<{ reason: string }>;
    expect(tests.every((test) => test.reason === "deadline_exceeded")).toBe(true);
  });
});

describe("code probes", () => {
  const verifiers = new Map<string, Verifier<unknown>>(
    codeVerifiers.map((verifier) => [verifier.name, verifier as Verifier<unknown>]),
  );

  it("covers every hack named in the issue and has honest counterparts", () => {
    const names = new Set(codeProbes.map((probe) => probe.name));
    for (const name of [
      "sys_exit_before_asserts",
      "os_exit_before_asserts",
      "shadow_assertion_error",
      "eq_always_true",
      "read_test_file",
      "rewrite_test_file",
      "print_extra_candidates",
      "monkeypatch_builtins",
      "pass_only_body",
      "fork_bomb",
      "unbounded_output",
    ]) {
      expect(names).toContain(name);
    }
    expect(codeProbes.filter((probe) => probe.kind === "honest").length).toBeGreaterThanOrEqual(5);
  });

  it.each(codeProbes.map((probe) => [`${probe.verifier}/${probe.kind}/${probe.name}`, probe] as const))(
    "%s",
    async (_name, probe) => {
      const verifier = verifiers.get(probe.verifier);
      if (verifier === undefined) throw new Error(`unknown verifier ${probe.verifier}`);
      const label = parseWithSchema({ schema: verifier.labelSchema, value: probe.label, label: probe.name });
      const result = await verifier.verify({ response: probe.response, label, context });
      expect({ probe: probe.name, score: result.score }).toEqual({
        probe: probe.name,
        score: probe.expectedScore,
      });
    },
  );
});
