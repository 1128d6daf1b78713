import { PosttrainError } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import { checkIfevalInstructions, looseVariants, prepareInstructions } from "./check.js";
import { IfevalLabelError } from "./errors.js";
import { googleInstructionIds, iftrainInstructionIds, instructionRegistry } from "./registry.js";

describe("looseVariants", () => {
  it("builds Google's 8 variants in order", () => {
    expect(looseVariants("*first*\nmiddle *x*\nlast")).toEqual([
      "*first*\nmiddle *x*\nlast",
      "first\nmiddle x\nlast",
      "middle *x*\nlast",
      "*first*\nmiddle *x*",
      "middle *x*",
      "middle x\nlast",
      "first\nmiddle x",
      "middle x",
    ]);
  });
});

describe("instructionRegistry", () => {
  it("lists 54 distinct ids: 25 Google + 29 IFTrain", () => {
    expect(instructionRegistry.size).toBe(54);
    expect(new Set([...googleInstructionIds, ...iftrainInstructionIds]).size).toBe(54);
    expect(googleInstructionIds).toContain("detectable_format:number_highlighted_sections");
    expect(iftrainInstructionIds).toContain("keywords:keyword_specific_position");
  });
});

describe("prepareInstructions", () => {
  it("rejects an empty instruction list instead of dividing by zero", () => {
    expect(() => prepareInstructions({ instructionIds: [], kwargs: [] })).toThrow(IfevalLabelError);
    try {
      prepareInstructions({ instructionIds: [], kwargs: [] });
    } catch (error) {
      expect(PosttrainError.hasCode(error, "ifeval_empty_instructions")).toBe(true);
    }
  });

  it("rejects unknown ids, length mismatches and bad kwargs, naming the field", () => {
    const codeOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return PosttrainError.isInstance(error) ? { code: error.code, message: error.message } : undefined;
      }
      return undefined;
    };
    expect(codeOf(() => prepareInstructions({ instructionIds: ["nope:nope"], kwargs: [{}] }))?.code).toBe(
      "ifeval_unknown_instruction",
    );
    expect(
      codeOf(() => prepareInstructions({ instructionIds: ["punctuation:no_comma"], kwargs: [] }))?.code,
    ).toBe("ifeval_kwargs_length_mismatch");
    const bad = codeOf(() =>
      prepareInstructions({
        instructionIds: ["punctuation:no_comma", "length_constraints:number_words"],
        kwargs: [{}, { num_words: 10, relation: "around" }],
      }),
    );
    expect(bad?.code).toBe("ifeval_invalid_kwargs");
    expect(bad?.message).toContain("kwargs[1].relation");
    const unexpected = codeOf(() =>
      prepareInstructions({ instructionIds: ["punctuation:no_comma"], kwargs: [{ extra: 1 }] }),
    );
    expect(unexpected?.code).toBe("ifeval_invalid_kwargs");
    const letter = codeOf(() =>
      prepareInstructions({
        instructionIds: ["keywords:letter_frequency"],
        kwargs: [{ letter: "ab", let_frequency: 2, let_relation: "at least" }],
      }),
    );
    expect(letter?.message).toContain("kwargs[0].letter");
  });

  it("drops null kwargs values and null kwargs entries (Hugging Face rows carry every key)", () => {
    const prepared = prepareInstructions({
      instructionIds: ["punctuation:no_comma", "detectable_format:title"],
      kwargs: [{ num_words: null, relation: null }, null],
    });
    expect(prepared.map((instruction) => instruction.kwargs)).toEqual([{}, {}]);
  });
});

describe("checkIfevalInstructions", () => {
  it("reports per-instruction and prompt-level verdicts in label order", async () => {
    const result = await checkIfevalInstructions({
      response: "Here you go:\n<<Title>>\nSome text, with a comma.",
      instructionIds: ["detectable_format:title", "punctuation:no_comma", "startend:quotation"],
      kwargs: [{}, {}, {}],
    });
    expect(result.instructions).toEqual([
      { id: "detectable_format:title", strict: true, loose: true },
      { id: "punctuation:no_comma", strict: false, loose: true }, // the last line (with the comma) removed
      { id: "startend:quotation", strict: false, loose: false },
    ]);
    expect(result.promptStrict).toBe(false);
    expect(result.promptLoose).toBe(false);
  });

  it("prompt-level loose can pass where prompt-level strict fails", async () => {
    const result = await checkIfevalInstructions({
      response: 'Sure, here it is:\n{"answer": "yes"}',
      instructionIds: ["detectable_format:json_format"],
      kwargs: [{}],
    });
    expect(result.promptStrict).toBe(false);
    expect(result.promptLoose).toBe(true);
  });

  it("needs prompt_to_repeat or a prompt for repeat_prompt", async () => {
    await expect(
      checkIfevalInstructions({ response: "x", instructionIds: ["combination:repeat_prompt"], kwargs: [{}] }),
    ).rejects.toThrow(/prompt_to_repeat/);
  });
});
