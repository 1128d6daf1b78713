import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkRow, loadTokenizer, type RowFormat, readTableBatches, rowsFromTable } from "@posttrain/data";
import { describe, expect, it } from "vitest";
import { generateMicroFiles, microDataSeed } from "./generate.js";

const repositoryRoot = fileURLToPath(new URL("../../..", import.meta.url));
const generated = generateMicroFiles({ seed: microDataSeed });

async function readRows(config: string, split: string) {
  const rows: Record<string, unknown>[] = [];
  const path = join(repositoryRoot, "datasets/micro", config, `${split}-00000-of-00001.parquet`);
  for await (const table of readTableBatches({ path })) rows.push(...rowsFromTable(table));
  return rows;
}

const userTurn = (row: Record<string, unknown>, column: string) =>
  (row[column] as Array<{ role: string; content: string }>)[0]!.content;

describe("micro data generator", () => {
  it("is deterministic: the shipped files (made by another process) are what it generates", () => {
    for (const [path, content] of Object.entries(generated.files)) {
      const shipped = readFileSync(join(repositoryRoot, path));
      expect(
        Buffer.compare(shipped, Buffer.from(content)),
        `${path} is stale: run pnpm --filter @posttrain-recipes/micro generate`,
      ).toBe(0);
    }
    const sizes = {
      sftTrain: 20,
      preferenceTrain: 20,
      rlvrTrain: 20,
      test: 5,
      evaluation: 10,
      evaluationPreference: 10,
      instructionShare: 0.25,
    };
    const sftTrain = "datasets/micro/sft/train-00000-of-00001.parquet";
    const small = generateMicroFiles({ seed: microDataSeed, sizes }).files[sftTrain];
    expect(generateMicroFiles({ seed: microDataSeed, sizes }).files[sftTrain]).toEqual(small);
    expect(generateMicroFiles({ seed: microDataSeed + 1, sizes }).files[sftTrain]).not.toEqual(small);
  });

  it("writes well-formed Tulu rows in every config and split", async () => {
    const formats: Record<string, RowFormat> = { sft: "sft", preference: "preference", rlvr: "rlvr" };
    for (const [config, format] of Object.entries(formats)) {
      for (const split of ["train", "test"]) {
        const rows = await readRows(config, split);
        expect(rows.length).toBe(generated.counts[config]![split]);
        for (const row of rows) expect(checkRow({ format, value: row })).toMatchObject({ ok: true });
      }
    }
  });

  it("holds out every test prompt from every train split", async () => {
    const train = new Set<string>();
    for (const [config, column] of [
      ["sft", "messages"],
      ["preference", "chosen"],
      ["rlvr", "messages"],
    ] as const) {
      for (const row of await readRows(config, "train")) train.add(userTurn(row, column).split("?")[0]!);
    }
    for (const [config, column] of [
      ["sft", "messages"],
      ["preference", "chosen"],
      ["rlvr", "messages"],
    ] as const) {
      for (const row of await readRows(config, "test"))
        expect(train.has(userTurn(row, column).split("?")[0]!)).toBe(false);
    }
  });

  it("gives verifiable RLVR labels and preference pairs that differ only in the answer", async () => {
    const rlvr = await readRows("rlvr", "train");
    const datasets = new Set(rlvr.map((row) => row["dataset"]));
    expect(datasets).toEqual(new Set(["gsm8k", "ifeval"]));
    for (const row of rlvr) {
      if (row["dataset"] === "gsm8k") expect(row["ground_truth"]).toMatch(/^\d+$/);
      else
        expect(JSON.parse(String(row["ground_truth"]))).toMatchObject({
          instruction_id: [expect.any(String)],
        });
    }
    const sft = await readRows("sft", "train");
    for (const row of sft.slice(0, 200)) {
      const answer = (row["messages"] as Array<{ content: string }>)[1]!.content;
      expect(answer).toMatch(/#### \d+/);
    }
    for (const row of (await readRows("preference", "train")).slice(0, 200)) {
      expect(userTurn(row, "chosen")).toBe(userTurn(row, "rejected"));
      expect(row["chosen"]).not.toEqual(row["rejected"]);
    }
  });

  it("ships a byte-level BPE that round-trips text and renders the Tulu template", async () => {
    const tokenizer = await loadTokenizer({ directory: join(repositoryRoot, "recipes/micro/tokenizer") });
    expect(tokenizer.vocabularySize).toBe(512);
    const rows = await readRows("sft", "test");
    let tokens = 0;
    for (const row of rows) {
      const messages = row["messages"] as Array<{ role: "user" | "assistant"; content: string }>;
      const text = tokenizer.applyChatTemplate({ messages, addGenerationPrompt: false });
      expect(text).toBe(
        `<|user|>\n${messages[0]!.content}\n<|assistant|>\n${messages[1]!.content}<|endoftext|>`,
      );
      const ids = tokenizer.encode(text);
      expect(tokenizer.decode(ids)).toBe(text);
      tokens += ids.length;
    }
    // Compression the model relies on: a conversation is far shorter than its characters.
    expect(tokens / rows.length).toBeLessThan(80);
    expect(tokenizer.eosTokenIds).toContain(0);
  });
});
