import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inspectSource } from "./inspect.js";
import { materializeSource } from "./source.js";
import { writeByteTokenizer } from "./test/index.js";
import { loadTokenizer } from "./tokenizer.js";

describe("inspectSource", () => {
  it("reports rows, lengths, malformed rows and an example with trained spans marked", async () => {
    const root = mkdtempSync(join(tmpdir(), "posttrain-inspect-"));
    const tokenizer = await loadTokenizer({ directory: writeByteTokenizer(join(root, "tokenizer")) });
    mkdirSync(join(root, "data", "data"), { recursive: true });
    const rows = [
      {
        messages: [
          { role: "user", content: "Hi" },
          { role: "assistant", content: "Hello" },
        ],
      },
      {
        messages: [
          { role: "user", content: "Longer question here" },
          { role: "assistant", content: "Longer answer" },
        ],
      },
      { messages: [{ role: "user", content: "no answer" }] },
    ];
    writeFileSync(
      join(root, "data", "data", "train.jsonl"),
      rows.map((row) => JSON.stringify(row)).join("\n"),
    );
    const source = await materializeSource({ spec: { kind: "local", directory: join(root, "data") } });
    const report = await inspectSource({ source, format: "sft", tokenizer, bins: 4 });
    expect(report.rows).toBe(3);
    expect(report.malformed.reasons.no_assistant_turn?.count).toBe(1);
    // "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n" is 1+5+2+1+1+1+10+5+1+1 tokens.
    expect(report.lengths).toMatchObject({ minimum: 28, maximum: 54 });
    expect(report.histogram.reduce((sum, bin) => sum + bin.count, 0)).toBe(2);
    expect(report.example?.spans).toEqual([
      { trained: false, text: "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" },
      { trained: true, text: "Hello<|im_end|>\n" },
    ]);
  });
});
