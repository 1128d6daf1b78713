import { describe, expect, it } from "vitest";
import { createPathFilter, globToRegExp, matchesAnyPattern } from "./patterns.js";

describe("include globs (huggingface_hub allow_patterns semantics)", () => {
  it("lets * cross folders, as fnmatch does", () => {
    expect(matchesAnyPattern("data/train-00000.parquet", ["*.parquet"])).toBe(true);
    expect(matchesAnyPattern("data/a/b.jsonl", ["data/*"])).toBe(true);
    expect(matchesAnyPattern("README.md", ["*.parquet"])).toBe(false);
  });

  it("supports ?, sets, negated sets and a trailing slash for folders", () => {
    expect(matchesAnyPattern("shard-7.bin", ["shard-?.bin"])).toBe(true);
    expect(matchesAnyPattern("shard-17.bin", ["shard-?.bin"])).toBe(false);
    expect(matchesAnyPattern("v2/x", ["v[12]/*"])).toBe(true);
    expect(matchesAnyPattern("v3/x", ["v[!12]/*"])).toBe(true);
    expect(matchesAnyPattern("v1/x", ["v[!12]/*"])).toBe(false);
    expect(matchesAnyPattern("default/train/0.parquet", ["default/"])).toBe(true);
  });

  it("treats regex metacharacters literally and matches whole paths", () => {
    expect(matchesAnyPattern("a+b.json", ["a+b.json"])).toBe(true);
    expect(matchesAnyPattern("aab.json", ["a+b.json"])).toBe(false);
    expect(matchesAnyPattern("x/config.json.bak", ["*.json"])).toBe(false);
    expect(globToRegExp("[unclosed").test("[unclosed")).toBe(true);
  });

  it("matches everything when no pattern is given", () => {
    expect(matchesAnyPattern("anything", undefined)).toBe(true);
    expect(createPathFilter([])("anything")).toBe(true);
    expect(createPathFilter(["*.md", "*.txt"])("notes.txt")).toBe(true);
  });
});
