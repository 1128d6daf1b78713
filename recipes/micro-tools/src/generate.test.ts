import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  checkRow,
  ignoredLabel,
  loadTokenizer,
  readTableBatches,
  rowsFromTable,
  tokenizeSft,
} from "@posttrain/data";
import { evaluateExpression } from "@posttrain/tools";
import { describe, expect, it } from "vitest";
import { generateMicroToolsFiles, microToolsDataSeed } from "./generate.js";
import { calculatorInstructions } from "./problems.js";
import { toolOutputSpan } from "./recipe.js";

const repositoryRoot = fileURLToPath(new URL("../../..", import.meta.url));
const generated = generateMicroToolsFiles({ seed: microToolsDataSeed });

type Message = { role: "system" | "user" | "assistant"; content: string };

async function readRows(config: string, split: string) {
  const rows: Record<string, unknown>[] = [];
  const path = join(repositoryRoot, "datasets/micro-tools", config, `${split}-00000-of-00001.parquet`);
  for await (const table of readTableBatches({ path })) rows.push(...rowsFromTable(table));
  return rows;
}

const messagesOf = (row: Record<string, unknown>) => row["messages"] as Message[];
const question = (row: Record<string, unknown>) =>
  messagesOf(row).find((message) => message.role === "user")!.content;

describe("micro-tools data generator", () => {
  it("is deterministic: the shipped files (made by another process) are what it generates", () => {
    for (const [path, content] of Object.entries(generated.files)) {
      const shipped = readFileSync(join(repositoryRoot, path));
      expect(
        Buffer.compare(shipped, Buffer.from(content)),
        `${path} is stale: run node scripts/pnpm.mjs --filter @posttrain-recipes/micro-tools generate`,
      ).toBe(0);
    }
    const sizes = { sftTrain: 20, sftTest: 5, rlvrTrain: 20, evaluation: 10 };
    const path = "datasets/micro-tools/sft_tools/train-00000-of-00001.parquet";
    const small = generateMicroToolsFiles({ seed: microToolsDataSeed, sizes }).files[path];
    expect(generateMicroToolsFiles({ seed: microToolsDataSeed, sizes }).files[path]).toEqual(small);
    expect(generateMicroToolsFiles({ seed: microToolsDataSeed + 1, sizes }).files[path]).not.toEqual(small);
  });

  it("writes well-formed rows, the counts the card states, the same problems in both arms", async () => {
    for (const [config, splits] of Object.entries(generated.counts)) {
      const format = config.startsWith("sft") ? "sft" : "rlvr";
      for (const [split, count] of Object.entries(splits)) {
        const rows = await readRows(config, split);
        expect(rows).toHaveLength(count);
        for (const row of rows) expect(checkRow({ format, value: row })).toMatchObject({ ok: true });
      }
    }
    expect(generated.counts).toEqual({
      sft_tools: { train: 4000, test: 64 },
      sft_direct: { train: 4000, test: 64 },
      rlvr_tools: { train: 1000 },
      rlvr_direct: { train: 1000 },
      eval: { test: 500 },
    });
    const system = calculatorInstructions;
    for (const [tools, direct] of [
      ["sft_tools", "sft_direct"],
      ["rlvr_tools", "rlvr_direct"],
    ] as const) {
      const [withTool, without] = [await readRows(tools, "train"), await readRows(direct, "train")];
      withTool.forEach((row, index) => {
        expect(row["id"]).toBe(without[index]!["id"]);
        expect(question(row)).toBe(question(without[index]!));
        expect(messagesOf(row)[0]).toEqual({ role: "system", content: system });
        expect(messagesOf(without[index]!).some((message) => message.role === "system")).toBe(false);
      });
    }
  });

  it("demonstrations are right: the call computes the ground truth, both answers end in the result", async () => {
    const [withTool, without] = [await readRows("sft_tools", "train"), await readRows("sft_direct", "train")];
    for (const [index, row] of withTool.slice(0, 300).entries()) {
      const answer = messagesOf(row).at(-1)!.content;
      const match = /^<calculator>([^<]+)<\/calculator><output>\n(-?\d+)\n<\/output>\n(-?\d+)$/.exec(answer);
      expect(match, answer).not.toBeNull();
      const [, expression, output, final] = match!;
      expect(evaluateExpression({ expression: expression! })).toEqual({ value: output });
      expect(final).toBe(output);
      expect(messagesOf(without[index]!).at(-1)!.content).toBe(`${expression} = ${output}`);
      // Every number of the call is in the question, in the question's order.
      const numbers = (text: string) => text.match(/\d+/g) ?? [];
      expect(numbers(expression!)).toEqual(numbers(question(row)));
    }
  });

  it("holds out the eval problems from every other split, and the test split from the train splits", async () => {
    const seen = new Map<string, string>();
    for (const [config, split] of [
      ["sft_direct", "train"],
      ["sft_direct", "test"],
      ["rlvr_direct", "train"],
      ["eval", "test"],
    ] as const) {
      for (const row of await readRows(config, split)) {
        const key = question(row);
        expect(seen.get(key), `${config}/${split}: "${key}"`).toBeUndefined();
        seen.set(key, `${config}/${split}`);
      }
    }
    for (const row of await readRows("eval", "test")) {
      expect(row["dataset"]).toBe("gsm8k");
      expect(
        evaluateExpression({
          expression: question(row)
            .match(/\d+/g)!
            .join(row["kind"] === "product" ? "*" : "+"),
        }),
      ).toEqual({
        value: row["ground_truth"],
      });
    }
  });

  it("ships a BPE that spells numbers digit by digit; SFT trains on the call and the answer, never on the tool output", async () => {
    const tokenizer = await loadTokenizer({
      directory: join(repositoryRoot, "recipes/micro-tools/tokenizer"),
      chatTemplate: "tulu",
    });
    // At most the model's 512 embeddings: the digit-free corpus runs out of pairs seen twice first.
    expect(tokenizer.vocabularySize).toBeLessThanOrEqual(512);
    for (const text of [" 20126", "20126", "<output>\n20126\n</output>\n"]) {
      const pieces = tokenizer
        .encode(text, { addSpecialTokens: false })
        .map((id) => tokenizer.decode([id], { skipSpecialTokens: false }));
      for (const piece of pieces) if (/\d/.test(piece)) expect(piece).toMatch(/^\d$/);
    }
    const row = (await readRows("sft_tools", "test"))[0]!;
    const result = tokenizeSft({ tokenizer, messages: messagesOf(row), maskedSpans: [toolOutputSpan] });
    if (!result.ok) throw new Error(result.reason);
    const { inputIds, labels } = result.value;
    const decode = (ids: Iterable<number>) => tokenizer.decode([...ids], { skipSpecialTokens: false });
    expect(decode(inputIds)).toBe(
      tokenizer.applyChatTemplate({ messages: messagesOf(row), addGenerationPrompt: false }),
    );
    const trained = decode([...labels].filter((label) => label !== ignoredLabel));
    const answer = messagesOf(row).at(-1)!.content;
    const output = /<output>\n(\d+)\n<\/output>\n/.exec(answer)!;
    expect(trained).toBe(`${answer.replace(output[0], "")}<|endoftext|>`);
    // The masked tool output is exactly the tokens the driver appends after the call.
    const appended = tokenizer.encode(output[0], { addSpecialTokens: false });
    const ids = [...inputIds];
    const at = ids.findIndex((_, index) => appended.every((id, offset) => ids[index + offset] === id));
    expect(at).toBeGreaterThan(0);
    expect(labels.slice(at, at + appended.length).every((label) => label === ignoredLabel)).toBe(true);
  });
});
