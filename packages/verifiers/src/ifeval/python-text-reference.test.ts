import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  pythonIsLower,
  pythonIsUpper,
  pythonSplitWhitespace,
  pythonStrip,
  pythonWordBoundary,
} from "./python-text.js";
import { countWords } from "./word-tokenize.js";

/**
 * Differential test against Python 3 itself: word counts (`\w+`), `isupper`, `islower`,
 * `split()`, `strip()`, `lower()` and the Unicode `\b[a-z]+\b` count on the IFEval prompts
 * (as written, uppercased, lowercased) and on hand-picked Unicode edge cases. Skips when
 * there is no python3 on PATH at /usr/bin.
 */
const python = "/usr/bin/python3";
const script = fileURLToPath(new URL("./reference/python_text.py", import.meta.url));
const inputData = fileURLToPath(
  new URL("../../../../../shared/data/benchmarks/ifeval-input_data.jsonl", import.meta.url),
);
const lowercaseWord = new RegExp(`${pythonWordBoundary}[a-z]+${pythonWordBoundary}`, "gu");

const edgeCases = [
  "",
  "  \u001c\u0085 padded \t",
  "\ufeffbom",
  "naïve café déjà-vu",
  "नमस्ते दुनिया",
  "Straße ǅemal ΣΊΣΥΦΟΣ",
  "snake_case 3.14 ١٢٣",
  "écat café au lait",
  "ALL CAPS 42!",
  "Mixed\u00a0space\u3000wide\u2028line",
];

describe.skipIf(!existsSync(python))("Python string semantics vs Python 3", () => {
  it("agrees on IFEval prompts and Unicode edge cases", () => {
    const prompts = existsSync(inputData)
      ? readFileSync(inputData, "utf8")
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map((line) => String((JSON.parse(line) as { prompt: string }).prompt))
      : [];
    const texts = [
      ...edgeCases,
      ...prompts,
      ...prompts.map((text) => text.toUpperCase()),
      ...prompts.map((text) => text.toLowerCase()),
    ];
    const reference = execFileSync(python, [script], {
      input: `${texts.map((text) => JSON.stringify(text)).join("\n")}\n`,
      maxBuffer: 1 << 26,
    })
      .toString()
      .trim()
      .split("\n");
    expect(reference).toHaveLength(texts.length);
    const mismatches = texts.flatMap((text, index) => {
      const ours = [
        countWords(text),
        pythonIsUpper(text),
        pythonIsLower(text),
        pythonSplitWhitespace(text),
        pythonStrip(text),
        text.toLowerCase(),
        text.match(lowercaseWord)?.length ?? 0,
      ];
      const expected = JSON.parse(reference[index]!) as unknown[];
      return JSON.stringify(ours) === JSON.stringify(expected) ? [] : [{ text, ours, expected }];
    });
    expect(mismatches).toEqual([]);
  });
});
