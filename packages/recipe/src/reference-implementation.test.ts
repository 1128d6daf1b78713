import { describe, expect, it } from "vitest";
import { referenceImplementationSchema } from "./reference-implementation.js";

const valid = {
  engine: "open-instruct",
  repository: "https://github.com/allenai/open-instruct",
  commit: "e363290be27225e799c6b7497a6bfb4bca25be68",
  stages: {
    dpo: {
      script: "open_instruct/dpo_tune.py",
      published: { file: "docs/tulu3.md", lines: [136, 166] },
      tokenizer: { repo: "allenai/Llama-3.1-Tulu-3-8B-SFT", revision: "main" },
      differences: [{ flag: "--model_revision", reason: "chained" }],
    },
  },
};

const issuePaths = (input: unknown) => {
  const result = referenceImplementationSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join("."));
};

describe("referenceImplementationSchema", () => {
  it("accepts a pinned commit with per-stage scripts, published lines and reasons", () => {
    const parsed = referenceImplementationSchema.parse(valid);
    expect(parsed.stages.dpo?.differences).toHaveLength(1);
    expect(
      referenceImplementationSchema.parse({
        ...valid,
        stages: {
          sft: { script: "open_instruct/finetune.py", published: { file: "docs/tulu3.md", lines: [22, 55] } },
        },
      }).stages.sft?.differences,
    ).toEqual([]);
  });

  it("names the wrong field: a short SHA, a reversed line range, a flag without dashes, an unknown key", () => {
    expect(issuePaths({ ...valid, commit: "e363290" })).toEqual(["commit"]);
    const stage = valid.stages.dpo;
    expect(
      issuePaths({
        ...valid,
        stages: { dpo: { ...stage, published: { file: "docs/tulu3.md", lines: [166, 136] } } },
      }),
    ).toEqual(["stages.dpo.published.lines"]);
    expect(
      issuePaths({
        ...valid,
        stages: { dpo: { ...stage, differences: [{ flag: "model_revision", reason: "x" }] } },
      }),
    ).toEqual(["stages.dpo.differences.0.flag"]);
    expect(issuePaths({ ...valid, stages: { dpo: { ...stage, deepspeed: 2 } } })).toEqual(["stages.dpo"]);
    expect(issuePaths({ ...valid, stages: { dpo: { ...stage, deepspeedStage: 1 } } })).toEqual([
      "stages.dpo.deepspeedStage",
    ]);
  });
});
