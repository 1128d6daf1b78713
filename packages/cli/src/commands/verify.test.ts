import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Runs the built `posttrain` bin as a user would (turbo's test task depends on build).
const bin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const posttrain = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, CI: "true" } });

const directory = mkdtempSync(join(tmpdir(), "posttrain-verify-"));
const rowsPath = join(directory, "rows.jsonl");
writeFileSync(
  rowsPath,
  [
    { id: "a", response: "So $\\boxed{\\frac{1}{2}}$.", ground_truth: "0.5" },
    { id: "b", response: "<think>\\boxed{3}</think>I think $\\boxed{4}$", ground_truth: "3" },
    { id: "c", response: "$\\boxed{10^{10^{10^{10}}}}$", ground_truth: "6" },
  ]
    .map((row) => JSON.stringify(row))
    .join("\n"),
);

describe("posttrain verify", () => {
  it("writes every row with score and details, in order, and prints a JSON summary", () => {
    const outputPath = join(directory, "out.jsonl");
    const result = posttrain(
      "verify",
      "--verifier",
      "math",
      "--input",
      rowsPath,
      "--output",
      outputPath,
      "--workers",
      "1",
      "--json",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ verifier: "math", count: 3, errors: 0, timeouts: 0 });
    expect(JSON.parse(result.stdout).meanScore).toBeCloseTo(1 / 3, 12);
    const rows = readFileSync(outputPath, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows.map((row) => [row.id, row.score])).toEqual([
      ["a", 1],
      ["b", 0],
      ["c", 0],
    ]);
    expect(rows[0].details.extracted).toBe("\\frac{1}{2}");
    expect(rows[1].details).toMatchObject({ extracted: "4", reasoningStripped: true });
  });

  it("prints rows to stdout and a summary to stderr without --output; applies remaps in-process", () => {
    const result = posttrain(
      "verify",
      "--verifier",
      "m",
      "--remap",
      "m=math",
      "--input",
      rowsPath,
      "--workers",
      "0",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n")).toHaveLength(3);
    expect(result.stderr).toMatch(/mean score 0\.3333/);
  });

  it("--probe --json gives the probe results as data; the table lists pass/fail per probe", () => {
    const json = posttrain("verify", "--probe", "--verifier", "gsm8k", "--workers", "0", "--json");
    // (one spawn per format: each start of the CLI loads every package)
    expect(json.status, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.failed).toBe(0);
    expect(report.verifiers[0].verifier).toBe("gsm8k");
    expect(report.verifiers[0].probes.some((probe: { name: string }) => probe.name === "five-or-six")).toBe(
      true,
    );
    const table = posttrain("verify", "--probe", "--verifier", "string_matcher", "--workers", "0");
    expect(table.stdout).toMatch(/string_matcher 1\.1\.0: \d+ passed, 0 failed/);
    expect(table.stdout).toMatch(/pass {2}several-answers/);
  });

  it("exits 2 on usage errors and 1 on bad data", () => {
    expect(posttrain("verify", "--input", rowsPath).status).toBe(2);
    const unknown = posttrain("verify", "--verifier", "nope", "--input", rowsPath);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("unknown_verifier");
    const badPath = join(directory, "bad.jsonl");
    writeFileSync(badPath, '{"response": "1", "ground_truth": "1"}\nnot json\n');
    const bad = posttrain("verify", "--verifier", "gsm8k", "--input", badPath);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("bad.jsonl:2");
    const labelPath = join(directory, "label.jsonl");
    writeFileSync(labelPath, '{"response": "1", "ground_truth": "one"}\n');
    const label = posttrain("verify", "--verifier", "gsm8k", "--input", labelPath);
    expect(label.status).toBe(1);
    expect(label.stderr).toContain("rows[0].ground_truth");
  });

  it("--tokenizer: length verifiers count every token of the whole response; none given is an error", () => {
    const tokenizer = writeByteTokenizer(join(directory, "byte-tokenizer"));
    const lengthRows = join(directory, "length.jsonl");
    writeFileSync(
      lengthRows,
      [
        { response: "abc", ground_truth: 3 },
        // Before: only the text after the unclosed <think> was counted, in words → 1.
        { response: `x<think>${"word ".repeat(20_000)}`, ground_truth: 1 },
        { response: "héllo", ground_truth: 10 },
      ]
        .map((row) => JSON.stringify(row))
        .join("\n"),
    );
    const missing = posttrain("verify", "--verifier", "max_length", "--input", lengthRows, "--workers", "0");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--tokenizer");
    const result = posttrain(
      "verify",
      "--verifier",
      "up_to_max_length",
      "--input",
      lengthRows,
      "--tokenizer",
      tokenizer,
      "--workers",
      "0",
      "--json",
    );
    expect(result.status, result.stderr).toBe(0);
    const { rows } = JSON.parse(result.stdout);
    expect(rows.map((row: { details: { tokens: number } }) => row.details.tokens)).toEqual([3, 100_008, 6]);
    expect(rows.map((row: { score: number }) => row.score)).toEqual([1, 0, 1]);
    const absent = posttrain(
      "verify",
      "--verifier",
      "max_length",
      "--input",
      lengthRows,
      "--tokenizer",
      join(directory, "nope"),
    );
    expect(absent.status).toBe(2);
  });

  it.skipIf(!existsSync(sharedTokenizer))("--tokenizer with a real tokenizer (SmolLM2) and --probe", () => {
    const result = posttrain(
      "verify",
      "--probe",
      "--verifier",
      "max_length",
      "--tokenizer",
      sharedTokenizer,
      "--workers",
      "0",
      "--json",
    );
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ failed: 0, tokenCounter: "tokenizer" });
  });
});

const sharedTokenizer = fileURLToPath(
  new URL("../../../../../shared/data/tokenizers/SmolLM2-135M-Instruct", import.meta.url),
);

/** A byte-level BPE tokenizer with no merges: one token per UTF-8 byte. */
function writeByteTokenizer(folder: string): string {
  const printable = new Set<number>();
  for (const [low, high] of [
    [33, 126],
    [161, 172],
    [174, 255],
  ] as const) {
    for (let byte = low; byte <= high; byte += 1) printable.add(byte);
  }
  const vocabulary: Record<string, number> = {};
  let extra = 0;
  for (let byte = 0; byte < 256; byte += 1) {
    vocabulary[printable.has(byte) ? String.fromCharCode(byte) : String.fromCharCode(256 + extra++)] = byte;
  }
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "vocab.json"), JSON.stringify(vocabulary));
  writeFileSync(join(folder, "merges.txt"), "#version: 0.2\n");
  writeFileSync(join(folder, "tokenizer_config.json"), JSON.stringify({ eos_token: null }));
  return folder;
}
