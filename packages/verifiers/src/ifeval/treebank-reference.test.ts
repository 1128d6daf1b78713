import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { treebankTokenize } from "./word-tokenize.js";

/**
 * Differential test against NLTK itself: our Treebank tokenizer must produce NLTK's tokens
 * for every line of the IFEval prompts and the MATH-500 problems. Skips when Debian's
 * python3-nltk (`apt-get install python3-nltk`) or the shared data is absent.
 */
const python = "/usr/bin/python3";
const script = fileURLToPath(new URL("./reference/nltk_treebank.py", import.meta.url));
const benchmarks = fileURLToPath(new URL("../../../../../shared/data/benchmarks/", import.meta.url));
const hasNltk =
  existsSync(python) && spawnSync(python, ["-c", "import nltk.tokenize.destructive"]).status === 0;
const hasData =
  existsSync(`${benchmarks}ifeval-input_data.jsonl`) && existsSync(`${benchmarks}math500-test.jsonl`);

function lines(file: string, field: string): string[] {
  return readFileSync(`${benchmarks}${file}`, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .flatMap((line) => String((JSON.parse(line) as Record<string, unknown>)[field]).split("\n"))
    .filter((text) => text.trim() !== "");
}

describe.skipIf(!hasNltk || !hasData)("Treebank tokenizer vs NLTK", () => {
  it("matches NLTKWordTokenizer on every IFEval prompt line and MATH-500 problem line", () => {
    const texts = [...lines("ifeval-input_data.jsonl", "prompt"), ...lines("math500-test.jsonl", "problem")];
    const output = execFileSync(python, [script], {
      input: `${texts.map((text) => JSON.stringify(text)).join("\n")}\n`,
      maxBuffer: 1 << 26,
    })
      .toString()
      .trim()
      .split("\n");
    expect(output).toHaveLength(texts.length);
    const mismatches = texts.filter(
      (text, index) => JSON.stringify(treebankTokenize(text)) !== JSON.stringify(JSON.parse(output[index]!)),
    );
    expect(mismatches).toEqual([]);
  });
});
