import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { prepareIfFunction } from "./if-functions.js";
import { ifevalLabelSchema } from "./labels.js";
import { ifevalGuard, ifevalGuardedVerifier, ifevalOldVerifier, ifevalVerifier } from "./verifiers.js";

const context = { timeoutMilliseconds: 10_000 };

describe("ifeval label formats", () => {
  const expected = {
    instructionIds: ["punctuation:no_comma", "detectable_format:title"],
    kwargs: [{}, null],
  };

  it("accepts open-instruct's { instruction_id, kwargs }, bare, wrapped in a list or as JSON", () => {
    const label = { instruction_id: ["punctuation:no_comma", "detectable_format:title"], kwargs: [{}, null] };
    expect(ifevalLabelSchema.parse(label)).toEqual(expected);
    expect(ifevalLabelSchema.parse([label])).toEqual(expected);
    expect(ifevalLabelSchema.parse(JSON.stringify([label]))).toEqual(expected);
  });

  it("accepts Google's { instruction_id_list, kwargs, prompt, key }", () => {
    const label = {
      key: 7,
      prompt: "p",
      instruction_id_list: ["punctuation:no_comma", "detectable_format:title"],
      kwargs: [{}, null],
    };
    expect(ifevalLabelSchema.parse(label)).toEqual({ ...expected, prompt: "p" });
  });

  it("rejects empty lists, unknown ids and bad kwargs with a message naming them", () => {
    const empty = ifevalLabelSchema.safeParse({ instruction_id: [], kwargs: [] });
    expect(empty.success).toBe(false);
    expect(JSON.stringify(empty.error?.issues)).toContain("empty");
    const unknown = ifevalLabelSchema.safeParse({ instruction_id: ["made:up"], kwargs: [{}] });
    expect(JSON.stringify(unknown.error?.issues)).toContain("made:up");
    const badKwargs = ifevalLabelSchema.safeParse({
      instruction_id: ["length_constraints:number_words"],
      kwargs: [{ num_words: "ten", relation: "at least" }],
    });
    expect(JSON.stringify(badKwargs.error?.issues)).toContain("kwargs[0].num_words");
    expect(ifevalLabelSchema.safeParse({ kwargs: [{}] }).success).toBe(false);
  });
});

describe("ifeval verifier", () => {
  it("scores the fraction of instructions followed (strict) and reports loose verdicts", async () => {
    const label = ifevalLabelSchema.parse({
      instruction_id: ["detectable_format:json_format", "punctuation:no_comma", "keywords:existence"],
      kwargs: [{}, {}, { keywords: ["banana"] }],
    });
    const result = await ifevalVerifier.verify({ response: 'Answer:\n{"fruit": "apple"}', label, context });
    expect(result.score).toBeCloseTo(1 / 3, 10);
    expect(result.details).toEqual({
      instructions: [
        { id: "detectable_format:json_format", strict: false, loose: true },
        { id: "punctuation:no_comma", strict: true, loose: true },
        { id: "keywords:existence", strict: false, loose: false },
      ],
      promptStrict: false,
      promptLoose: false,
    });
  });

  it("gives 1 when every instruction is followed and 0 for the empty response", async () => {
    const label = ifevalLabelSchema.parse({ instruction_id: ["punctuation:no_comma"], kwargs: [{}] });
    expect((await ifevalVerifier.verify({ response: "no commas here", label, context })).score).toBe(1);
    expect((await ifevalVerifier.verify({ response: "", label, context })).score).toBe(0);
  });

  it("has version 1.1.0 (no-visible-character responses score 0)", () => {
    expect(ifevalVerifier.version).toBe("1.1.0");
    expect(ifevalOldVerifier.version).toBe("1.1.0");
  });
});

describe("ifeval_guarded's opt-in guard", () => {
  const label = (ids: string[], kwargs: unknown[], prompt?: string) =>
    ifevalGuardedVerifier.labelSchema.parse({
      instruction_id_list: ids,
      kwargs,
      ...(prompt === undefined ? {} : { prompt }),
    });
  it("refuses short and off-topic responses, steps aside where a short answer is correct", () => {
    const noComma = label(["punctuation:no_comma"], [{}]);
    expect(ifevalGuard({ response: "x", label: noComma })).toMatchObject({ passed: false, minimumWords: 10 });
    expect(
      ifevalGuard({ response: "one two three four five six seven eight nine ten", label: noComma }).passed,
    ).toBe(true);
    const fewWords = label(["length_constraints:number_words"], [{ num_words: 5, relation: "less than" }]);
    expect(ifevalGuard({ response: "tiny river poem here", label: fewWords })).toMatchObject({
      passed: true,
      minimumWords: 4,
    });
    const constrained = label(["detectable_format:constrained_response"], [{}]);
    expect(ifevalGuard({ response: "My answer is yes.", label: constrained }).passed).toBe(true);
    const withPrompt = label(["punctuation:no_comma"], [{}], "Describe the river near your town.");
    expect(
      ifevalGuard({
        response: "lorem ipsum dolor sit amet consectetur adipiscing elit sed do",
        label: withPrompt,
      }),
    ).toMatchObject({ passed: false, promptOverlap: 0 });
    expect(
      ifevalGuard({
        response: "the river near my town runs slowly past old mills and fields",
        label: withPrompt,
      }),
    ).toMatchObject({ passed: true, promptOverlap: 3 });
  });
  it("scores 0 with details when the guard fails, the ifeval score otherwise", async () => {
    const context = { timeoutMilliseconds: 5_000 };
    const noComma = label(["punctuation:no_comma"], [{}]);
    const short = await ifevalGuardedVerifier.verify({ response: "x", label: noComma, context });
    expect(short).toMatchObject({ score: 0, details: { reason: "guard_failed" } });
    const long = await ifevalGuardedVerifier.verify({
      response: "one two three four five six seven eight nine ten",
      label: noComma,
      context,
    });
    expect(long.score).toBe(1);
  });
});

describe("ifeval_old (Tulu 3 if_functions)", () => {
  const cases: Array<[label: Record<string, unknown>, pass: string, fail: string]> = [
    [{ func_name: "verify_keywords", keyword_list: ["Apple", "pie"] }, "apple PIE", "apple tart"],
    [{ func_name: "verify_keyword_frequency", word: "cat", N: 2 }, "Cat, cat.", "cat catalog cat cat"],
    [{ func_name: "validate_forbidden_words", forbidden_words: ["bad"] }, "good day", "a BADGE"], // substring test
    [{ func_name: "verify_letter_frequency", letter: "a", N: 2 }, "banAna", "banana"], // case-sensitive
    [
      { func_name: "validate_response_language", language: "de" },
      "Ich habe heute keine Zeit, weil ich arbeiten muss.",
      "I have no time today because I must work.",
    ],
    [{ func_name: "verify_paragraph_count", N: 2 }, "one\n  * * *  \ntwo", "one\n***\ntwo"],
    [
      { func_name: "validate_word_constraint", N: 10, quantifier: "around" },
      "a b c d e f g h i",
      "a b c d e f g h",
    ],
    [
      { func_name: "verify_sentence_constraint", N: 2, quantifier: "at most" },
      "One. Two.",
      "One. Two? Three.",
    ],
    [
      { func_name: "validate_paragraphs", N: 2, first_word: "Then", i: 2 },
      "First.\n\n  Then second.",
      "First.\n\nNext second.",
    ],
    [{ func_name: "verify_postscript", postscript_marker: "P.S." }, "Hi.\nP.S. bye", "Hi.\nP.S."],
    [{ func_name: "validate_placeholders", N: 2 }, "[a] and [b]", "[a] only"],
    [{ func_name: "verify_bullet_points", N: 2 }, "* a\n- b", "* a\n- b\n**c**"],
    [{ func_name: "validate_title" }, "<<t>> body", "no title"],
    [
      { func_name: "validate_choice", options: ["My answer is yes.", "My answer is no."] },
      "My answer is no.",
      "I think My answer is no.",
    ],
    [{ func_name: "validate_highlighted_sections", N: 2 }, "*a* *b*", "*a*"],
    [
      { func_name: "validate_sections", N: 2, section_splitter: "SECTION" },
      "SECTION 1 a SECTION 2 b",
      "intro SECTION 1 a SECTION 2 b",
    ],
    [{ func_name: "validate_json_format" }, "[1, 2]", "```json\n[1]\n```"],
    [
      { func_name: "validate_repeat_prompt", original_prompt: "Repeat me." },
      "Repeat me. Answer.",
      "repeat me. Answer.",
    ],
    [{ func_name: "validate_two_responses" }, "A ****** B", "A ****** B ****** C"],
    [{ func_name: "validate_uppercase" }, "ALL CAPS 123", "Not caps"],
    [{ func_name: "validate_lowercase" }, "all lower 123", "Not lower"],
    [
      { func_name: "validate_frequency_capital_words", N: 2, quantifier: "around" },
      "USA and UK",
      "USA UK EU",
    ],
    [{ func_name: "validate_end", end_phrase: "Bye." }, "Ok. Bye.", "Ok. bye."],
    [{ func_name: "validate_quotation" }, '"quoted"', "not quoted"],
    [{ func_name: "validate_no_commas" }, "no commas", "a, b"],
  ];

  it("covers all 25 functions", () => {
    expect(new Set(cases.map(([label]) => label["func_name"])).size).toBe(25);
  });

  for (const [rawLabel, pass, fail] of cases) {
    it(`${String(rawLabel["func_name"])}: pass and fail`, async () => {
      const label = ifevalOldVerifier.labelSchema.parse(rawLabel);
      expect((await ifevalOldVerifier.verify({ response: pass, label, context })).score).toBe(1);
      expect((await ifevalOldVerifier.verify({ response: fail, label, context })).score).toBe(0);
    });
  }

  it("accepts a JSON string label and reports the function in details", async () => {
    const label = ifevalOldVerifier.labelSchema.parse('{"func_name": "validate_no_commas", "N": null}');
    const result = await ifevalOldVerifier.verify({ response: "fine", label, context });
    expect(result).toEqual({ score: 1, details: { functionName: "validate_no_commas", passed: true } });
  });

  it("rejects an unknown func_name or wrong kwargs", () => {
    expect(ifevalOldVerifier.labelSchema.safeParse({ func_name: "nope" }).success).toBe(false);
    expect(ifevalOldVerifier.labelSchema.safeParse({ keyword_list: ["a"] }).success).toBe(false);
    expect(() => prepareIfFunction({ functionName: "validate_placeholders", kwargs: { N: "two" } })).toThrow(
      /N/,
    );
  });
});

const inputData = fileURLToPath(
  new URL("../../../../../shared/data/benchmarks/ifeval-input_data.jsonl", import.meta.url),
);

describe.skipIf(!existsSync(inputData))("Google IFEval input_data.jsonl (541 prompts)", () => {
  // The describe body runs at collection even when skipped: read only when present.
  const rows = (existsSync(inputData) ? readFileSync(inputData, "utf8") : "")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

  it("has 541 prompts whose labels all parse with known instruction ids", () => {
    expect(rows).toHaveLength(541);
    const seen = new Set<string>();
    for (const row of rows) {
      const label = ifevalLabelSchema.parse(row);
      expect(label.instructionIds.length).toBeGreaterThan(0);
      for (const id of label.instructionIds) seen.add(id);
    }
    expect(seen.size).toBe(25);
  });

  it("scores the prompt itself as a response without errors (smoke over every row)", async () => {
    let promptLevelLoose = 0;
    for (const row of rows) {
      const label = ifevalLabelSchema.parse(row);
      const result = await ifevalVerifier.verify({ response: String(row["prompt"]), label, context });
      expect(result.score).toBeGreaterThanOrEqual(0);
      expect(result.score).toBeLessThanOrEqual(1);
      if (result.details["promptLoose"] === true) promptLevelLoose += 1;
    }
    // Echoing the prompt follows few prompts' instructions.
    expect(promptLevelLoose).toBeLessThan(rows.length / 2);
  });
});
