import { describe, expect, it } from "vitest";
import { hasSharedTokenizer, loadSharedTokenizer } from "./test/index.js";
import { loadTokenizer } from "./tokenizer.js";

// Golden ids were checked by hand against each vocabulary (vocab.json: 19556 = "Hello",
// 28 = ",", 905 = "Ġworld", 17 = "!"; SmolLM2 splits digits one by one) and, for OLMo 2,
// against tiktoken's cl100k_base ids (OLMo 2 extends cl100k): "Hello, world!" = 9906 11 1917 0.
describe.skipIf(!hasSharedTokenizer("SmolLM2-135M-Instruct"))("SmolLM2 tokenizer (real asset)", () => {
  it("encodes like the reference and round-trips", async () => {
    const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct");
    expect(tokenizer.encode("Hello, world!", { addSpecialTokens: false })).toEqual([19556, 28, 905, 17]);
    expect(tokenizer.encode("I'm don't 1234567 x", { addSpecialTokens: false })).toEqual([
      57, 5248, 1326, 982, 216, 33, 34, 35, 36, 37, 38, 39, 1792,
    ]);
    expect(tokenizer.encode("  leading spaces and   multiple", { addSpecialTokens: false })).toEqual([
      216, 2899, 5600, 284, 256, 2701,
    ]);
    const chat = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n";
    const ids = tokenizer.encode(chat, { addSpecialTokens: false });
    expect(ids).toEqual([1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 2, 198]);
    expect(tokenizer.decode(ids)).toBe(chat);
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe("user\nWhat is 2+2?\n");
    const text = "naïve café 日本語 🤗";
    expect(tokenizer.decode(tokenizer.encode(text, { addSpecialTokens: false }))).toBe(text);
    expect(tokenizer.decode([])).toBe(""); // a completion that stops at EOS at once
  });

  it("reads the special tokens and the config's chat template", async () => {
    const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct");
    expect(tokenizer.eosTokenIds).toEqual([2]);
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.padTokenId).toBe(2);
    expect(tokenizer.vocabularySize).toBe(49152);
    expect(
      tokenizer.applyChatTemplate({ messages: [{ role: "user", content: "Hi" }], addGenerationPrompt: true }),
    ).toBe(
      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(Object.keys(tokenizer.assetHashes).sort()).toEqual([
      "generation_config.json",
      "special_tokens_map.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
  });

  it("uses a named built-in template instead of the config's", async () => {
    const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct", "tulu");
    expect(
      tokenizer.applyChatTemplate({ messages: [{ role: "user", content: "Hi" }], addGenerationPrompt: true }),
    ).toBe("<|user|>\nHi\n<|assistant|>\n");
  });
});

describe.skipIf(!hasSharedTokenizer("OLMo-2-1124-13B-Instruct"))(
  "OLMo 2 tokenizer from vocab.json + merges.txt",
  () => {
    it("matches cl100k ids and OLMo's special tokens", async () => {
      const tokenizer = await loadSharedTokenizer("OLMo-2-1124-13B-Instruct");
      expect(tokenizer.encode("Hello, world!", { addSpecialTokens: false })).toEqual([9906, 11, 1917, 0]);
      // cl100k groups digits by three and keeps "\n\n" as one token (382 = ".\n\n").
      expect(tokenizer.encode("The year 2024 was long.\n\nNew", { addSpecialTokens: false })).toEqual([
        791, 1060, 220, 2366, 19, 574, 1317, 382, 3648,
      ]);
      expect(tokenizer.eosTokenIds).toEqual([100257]);
      expect(tokenizer.padTokenId).toBe(100277);
      expect(tokenizer.vocabularySize).toBe(100278);
      expect(
        tokenizer.applyChatTemplate({
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "Yo" },
          ],
          addGenerationPrompt: false,
        }),
      ).toBe("<|endoftext|><|user|>\nHi\n<|assistant|>\nYo<|endoftext|>");
    });
  },
);

describe("loadTokenizer errors", () => {
  it("names the missing file", async () => {
    await expect(loadTokenizer({ directory: "/nonexistent/tokenizer" })).rejects.toMatchObject({
      code: "data_tokenizer_invalid",
    });
  });
});
