import { describe, expect, it } from "vitest";
import { createAdmission, measureRequest } from "./admission.js";

describe("admission: measuring a raw request before any per-prompt work", () => {
  it("counts rows (prompts × n) and prompt lengths on every route, ignoring wrong types", () => {
    expect(measureRequest({ route: "completions", body: { prompt: "abc", n: 3 } })).toEqual({
      rows: 3,
      promptCharacters: [3],
      promptTokens: [],
    });
    expect(measureRequest({ route: "completions", body: { prompt: [[1, 2], "xy", [3]], n: 2 } })).toEqual({
      rows: 6,
      promptCharacters: [2],
      promptTokens: [2, 1],
    });
    expect(measureRequest({ route: "completions", body: { prompt: [5, 6, 7] } })).toMatchObject({
      rows: 1,
      promptTokens: [3],
    });
    expect(
      measureRequest({
        route: "chat",
        body: { n: 4, messages: [{ content: "abcd" }, { content: [{ type: "text", text: "ef" }] }, "junk"] },
      }),
    ).toEqual({ rows: 4, promptCharacters: [6 + 3 * 16], promptTokens: [] });
    expect(measureRequest({ route: "responses", body: { instructions: "ab", input: "cde" } })).toMatchObject({
      rows: 1,
      promptCharacters: [5],
    });
    expect(
      measureRequest({ route: "responses", body: { input: [{ role: "user", content: "cde" }] } }),
    ).toMatchObject({ promptCharacters: [3 + 16] });
    expect(
      measureRequest({ route: "generate", body: { input_ids: [[1], [2], [3]], sampling_params: { n: 5 } } }),
    ).toMatchObject({ rows: 15, promptTokens: [1, 1, 1] });
    // Per-prompt sampling params: the sum of their n; missing entries count one row each.
    expect(
      measureRequest({
        route: "generate",
        body: { text: ["a", "b", "c"], sampling_params: [{ n: 2 }, { n: 7 }] },
      }),
    ).toMatchObject({ rows: 10, promptCharacters: [1, 1, 1] });
    // Wrong types count as one choice (zod names the field afterwards).
    expect(measureRequest({ route: "completions", body: { prompt: "a", n: "64" } }).rows).toBe(1);
    expect(measureRequest({ route: "completions", body: { prompt: "a", n: 1e300 } }).rows).toBe(1);
    expect(measureRequest({ route: "chat", body: null }).rows).toBe(0);
  });

  it("refuses what can never fit (400) and what does not fit now (503), and releases reservations once", () => {
    const admission = createAdmission({
      maxBodyBytes: 100,
      maxBufferedBodyBytes: 150,
      maxPendingRows: 10,
      maxPromptCharacters: 20,
    });
    const check = (measure: Parameters<typeof admission.check>[0]["measure"]) =>
      admission.check({ measure, contextLength: 8, promptParam: "prompt" });
    expect(() => check({ rows: 11, promptCharacters: [], promptTokens: [] })).toThrow(
      expect.objectContaining({ code: "serve_too_many_rows", status: 400 }),
    );
    expect(() => check({ rows: 1, promptCharacters: [5, 21], promptTokens: [] })).toThrow(
      expect.objectContaining({ code: "serve_prompt_too_long", status: 400, param: "prompt" }),
    );
    expect(() => check({ rows: 1, promptCharacters: [], promptTokens: [9] })).toThrow(
      expect.objectContaining({ code: "serve_prompt_too_long" }),
    );
    check({ rows: 10, promptCharacters: [20], promptTokens: [8] });
    admission.checkRendered({ characters: 20, promptParam: "messages" });
    expect(() => admission.checkRendered({ characters: 21, promptParam: "messages" })).toThrow(
      expect.objectContaining({ code: "serve_prompt_too_long", param: "messages" }),
    );
    const release = admission.reserveRows(6);
    expect(() => admission.reserveRows(5)).toThrow(
      expect.objectContaining({ code: "serve_overloaded", status: 503 }),
    );
    release();
    release();
    expect(admission.rowsInFlight).toBe(0);
    admission.reserveRows(10)();
    expect(admission.reserveBodyBytes(100)).toBe(true);
    expect(admission.reserveBodyBytes(51)).toBe(false);
    admission.releaseBodyBytes(100);
    expect(admission.bufferedBodyBytes).toBe(0);
    expect(() =>
      createAdmission({
        maxBodyBytes: 0,
        maxBufferedBodyBytes: 1,
        maxPendingRows: 1,
        maxPromptCharacters: 1,
      }),
    ).toThrow(/maxBodyBytes/);
  });
});
