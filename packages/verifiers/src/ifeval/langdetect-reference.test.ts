import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadLanguageDetector } from "./language.js";

/**
 * Agreement between our detector (eld) and the reference's langdetect (seed 0) on the first
 * 60 IFEval prompts as written and uppercased (langdetect is slow; the full 541 × 3 figures
 * are in README.md). Skips without Debian's
 * python3-langdetect or the shared data. The measured disagreements are listed in README.md.
 */
const python = "/usr/bin/python3";
const script = fileURLToPath(new URL("./reference/langdetect_detect.py", import.meta.url));
const inputData = fileURLToPath(
  new URL("../../../../../shared/data/benchmarks/ifeval-input_data.jsonl", import.meta.url),
);
const hasLangdetect = existsSync(python) && spawnSync(python, ["-c", "import langdetect"]).status === 0;

describe.skipIf(!hasLangdetect || !existsSync(inputData))("eld vs langdetect on IFEval prompts", () => {
  it("agrees on every prompt as written; eld keeps uppercased English English", async () => {
    const prompts = readFileSync(inputData, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .slice(0, 60)
      .map((line) => String((JSON.parse(line) as { prompt: string }).prompt));
    const texts = [...prompts, ...prompts.map((text) => text.toUpperCase())];
    const reference = execFileSync(python, [script], {
      input: `${texts.map((text) => JSON.stringify(text)).join("\n")}\n`,
      maxBuffer: 1 << 26,
    })
      .toString()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as string | null);
    const detector = await loadLanguageDetector();
    const ours = texts.map((text) => detector.detect(text) ?? null);
    const agreement = (offset: number) =>
      prompts.filter((_, index) => ours[offset + index] === reference[offset + index]).length;
    expect(agreement(0)).toBe(prompts.length);
    expect(ours.slice(prompts.length).every((language) => language === "en")).toBe(true);
    expect(agreement(prompts.length)).toBeGreaterThanOrEqual(Math.floor(prompts.length * 0.95));
  });
});
