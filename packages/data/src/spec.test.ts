import { describe, expect, it } from "vitest";
import { describeSpec, parseDatasetSpec } from "./spec.js";

const sha = "0123456789abcdef0123456789abcdef01234567";

describe("DatasetSpec", () => {
  it("accepts a pinned Hub spec and a local folder", () => {
    const hub = parseDatasetSpec({
      value: {
        kind: "hub",
        repo: "allenai/tulu-3-sft-mixture",
        revision: sha,
        split: "train",
        amount: { fraction: 0.5 },
      },
    });
    expect(describeSpec(hub)).toBe("allenai/tulu-3-sft-mixture@0123456789ab (train)");
    expect(
      parseDatasetSpec({ value: { kind: "local", directory: "datasets/tiny", amount: { rows: 10 } } }),
    ).toMatchObject({
      directory: "datasets/tiny",
    });
  });

  it("refuses a branch unless pinning is not required", () => {
    const value = { kind: "hub", repo: "allenai/tulu-3-sft-mixture", revision: "main" };
    expect(() => parseDatasetSpec({ value })).toThrow(
      expect.objectContaining({ code: "data_spec_unpinned" }),
    );
    expect(parseDatasetSpec({ value, requirePinned: false }).kind).toBe("hub");
  });

  it("names every offending field", () => {
    expect(() =>
      parseDatasetSpec({
        value: {
          kind: "hub",
          repo: "no-slash",
          revision: sha,
          amount: { rows: -1 },
          expect: { rows: 1, files: [{ path: "a" }] },
        },
      }),
    ).toThrow(/repo[\s\S]*amount[\s\S]*expect\.files\[0\]\.size/);
  });
});
