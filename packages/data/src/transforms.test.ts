import { describe, expect, it } from "vitest";
import type { ChatMessage } from "./row-formats.js";
import { hasSharedTokenizer, loadSharedTokenizer } from "./test/index.js";
import { ignoredLabel, tokenizePreference, tokenizeRlvr, tokenizeSft } from "./transforms.js";

const conversation: ChatMessage[] = [
  { role: "system", content: "You answer in one line." },
  { role: "user", content: "Name a prime number." },
  { role: "assistant", content: "Seven is prime." },
  { role: "user", content: "Another one?" },
  { role: "assistant", content: "Eleven, also prime." },
];

/** The decoded text of each maximal run of trained (unmasked) tokens. */
function trainedSpans(params: {
  inputIds: Int32Array;
  labels: Int32Array;
  decode: (ids: number[]) => string;
}): string[] {
  const spans: string[] = [];
  let current: number[] = [];
  params.labels.forEach((label, index) => {
    if (label === ignoredLabel) {
      if (current.length > 0) spans.push(params.decode(current));
      current = [];
    } else {
      expect(label).toBe(params.inputIds[index]);
      current.push(label);
    }
  });
  if (current.length > 0) spans.push(params.decode(current));
  return spans;
}

describe.skipIf(!hasSharedTokenizer("SmolLM2-135M-Instruct"))("SFT masks with SmolLM2", () => {
  it("trains exactly on the assistant turns plus EOS with the tulu template", async () => {
    const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct", "tulu");
    const result = tokenizeSft({ tokenizer, messages: conversation });
    if (!result.ok) throw new Error(result.reason);
    const spans = trainedSpans({ ...result.value, decode: (ids) => tokenizer.decode(ids) });
    expect(spans).toEqual(["Seven is prime.<|im_end|>", "Eleven, also prime.<|im_end|>"]);
    expect(tokenizer.decode([...result.value.inputIds])).toBe(
      tokenizer.applyChatTemplate({ messages: conversation, addGenerationPrompt: false }),
    );
  });

  it("trains on the assistant turns and their end markers with the model's ChatML template", async () => {
    const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct");
    const result = tokenizeSft({ tokenizer, messages: conversation });
    if (!result.ok) throw new Error(result.reason);
    expect(trainedSpans({ ...result.value, decode: (ids) => tokenizer.decode(ids) })).toEqual([
      "Seven is prime.<|im_end|>\n",
      "Eleven, also prime.<|im_end|>\n",
    ]);
  });

  it("truncates to maxLength and filters rows left without trainable tokens", async () => {
    const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct", "tulu");
    const full = tokenizeSft({ tokenizer, messages: conversation });
    if (!full.ok) throw new Error(full.reason);
    const firstTrained = full.value.labels.findIndex((label) => label !== ignoredLabel);
    const cut = tokenizeSft({ tokenizer, messages: conversation, maxLength: firstTrained + 3 });
    if (!cut.ok) throw new Error(cut.reason);
    expect(cut.value.inputIds).toEqual(full.value.inputIds.slice(0, firstTrained + 3));
    expect(cut.value.labels).toEqual(full.value.labels.slice(0, firstTrained + 3));
    expect(tokenizeSft({ tokenizer, messages: conversation, maxLength: firstTrained })).toEqual({
      ok: false,
      reason: "no_trainable_tokens",
    });
  });

  it("stores the shared preference prompt once", async () => {
    const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct", "tulu");
    const prompt = conversation.slice(0, 2);
    const row = {
      prompt,
      chosen: { role: "assistant" as const, content: "Seven." },
      rejected: { role: "assistant" as const, content: "Nine, I think." },
    };
    const result = tokenizePreference({ tokenizer, row });
    if (!result.ok) throw new Error(result.reason);
    const { promptIds, chosenIds, rejectedIds } = result.value;
    expect(tokenizer.decode([...promptIds])).toBe(
      tokenizer.applyChatTemplate({ messages: prompt, addGenerationPrompt: true }),
    );
    expect(tokenizer.decode([...chosenIds])).toBe("Seven.<|im_end|>");
    expect(tokenizer.decode([...rejectedIds])).toBe("Nine, I think.<|im_end|>");
    const cut = tokenizePreference({ tokenizer, row, maxLength: promptIds.length + 2 });
    if (!cut.ok) throw new Error(cut.reason);
    expect(cut.value.rejectedIds).toEqual(rejectedIds.slice(0, 2));
    expect(tokenizePreference({ tokenizer, row, maxLength: promptIds.length })).toEqual({
      ok: false,
      reason: "prompt_too_long",
    });
  });

  it("keeps RLVR prompt ids with the generation prompt and the labels", async () => {
    const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct", "tulu");
    const row = {
      messages: [{ role: "user" as const, content: "What is 6*7?" }],
      groundTruth: ["42"],
      dataset: ["gsm8k"],
    };
    const result = tokenizeRlvr({ tokenizer, row });
    if (!result.ok) throw new Error(result.reason);
    expect(tokenizer.decode([...result.value.promptIds])).toBe("<|user|>\nWhat is 6*7?\n<|assistant|>\n");
    expect(result.value.groundTruth).toEqual(["42"]);
    expect(tokenizeRlvr({ tokenizer, row, maxPromptLength: 3 })).toEqual({
      ok: false,
      reason: "prompt_too_long",
    });
  });
});

describe.skipIf(!hasSharedTokenizer("OLMo-2-1124-13B-Instruct"))(
  "SFT masks with OLMo 2's own template",
  () => {
    it("trains exactly on the assistant turns plus EOS", async () => {
      const tokenizer = await loadSharedTokenizer("OLMo-2-1124-13B-Instruct");
      const result = tokenizeSft({ tokenizer, messages: conversation });
      if (!result.ok) throw new Error(result.reason);
      expect(trainedSpans({ ...result.value, decode: (ids) => tokenizer.decode(ids) })).toEqual([
        "Seven is prime.<|endoftext|>",
        "Eleven, also prime.<|endoftext|>",
      ]);
      expect(result.value.inputIds[0]).toBe(100257); // the template's leading bos_token
    });
  },
);

describe("SFT masks of tool output inside assistant turns (maskedSpans)", () => {
  const toolOutput = { start: "<output>\n", end: "\n</output>\n" };
  const demonstration: ChatMessage[] = [
    { role: "system", content: "Call <calculator>expression</calculator> when you need it." },
    { role: "user", content: "What is 347 * 58?" },
    {
      role: "assistant",
      content: "<calculator>347 * 58</calculator><output>\n20126\n</output>\n#### 20126",
    },
  ];

  /** The decoded text of each maximal run of masked tokens. */
  function maskedRuns(params: {
    inputIds: Int32Array;
    labels: Int32Array;
    decode: (ids: number[]) => string;
  }) {
    const runs: string[] = [];
    let current: number[] = [];
    params.labels.forEach((label, index) => {
      if (label === ignoredLabel) current.push(params.inputIds[index]!);
      else {
        if (current.length > 0) runs.push(params.decode(current));
        current = [];
      }
    });
    if (current.length > 0) runs.push(params.decode(current));
    return runs;
  }

  it("masks the prompt and every tool-output span, trains on the call and the answer (byte tokenizer)", async () => {
    const { loadTokenizer } = await import("./tokenizer.js");
    const { mkdtemp } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { writeByteTokenizer } = await import("./test/index.js");
    const tokenizer = await loadTokenizer({
      directory: writeByteTokenizer(join(await mkdtemp(join(tmpdir(), "mask-spans-")), "tokenizer")),
      chatTemplate: "tulu",
    });
    const twoCalls: ChatMessage[] = [
      ...demonstration.slice(0, 2),
      {
        role: "assistant",
        content:
          "<calculator>347 * 58</calculator><output>\n20126\n</output>\n<calculator>20126 + 1</calculator><output>\n20127\n</output>\n#### 20127",
      },
    ];
    const result = tokenizeSft({ tokenizer, messages: twoCalls, maskedSpans: [toolOutput] });
    if (!result.ok) throw new Error(result.reason);
    const decode = (ids: number[]) => tokenizer.decode(ids, { skipSpecialTokens: false });
    expect(decode([...result.value.inputIds])).toBe(
      tokenizer.applyChatTemplate({ messages: twoCalls, addGenerationPrompt: false }),
    );
    expect(trainedSpans({ ...result.value, decode })).toEqual([
      "<calculator>347 * 58</calculator>",
      "<calculator>20126 + 1</calculator>",
      "#### 20127<|endoftext|>",
    ]);
    const masked = maskedRuns({ ...result.value, decode });
    expect(masked.slice(1)).toEqual(["<output>\n20126\n</output>\n", "<output>\n20127\n</output>\n"]);
    expect(masked[0]).toMatch(/^<\|system\|>[\s\S]*<\|assistant\|>\n$/);
    // Without spans: the whole assistant turn trains, as before.
    const plain = tokenizeSft({ tokenizer, messages: twoCalls });
    if (!plain.ok) throw new Error(plain.reason);
    expect(trainedSpans({ ...plain.value, decode })).toHaveLength(1);
    // A start marker without its end marker is ordinary text; user text is never cut.
    const unclosed = tokenizeSft({
      tokenizer,
      messages: [
        { role: "user", content: "Say <output>\nhi" },
        { role: "assistant", content: "<output>\n7 and no end" },
      ],
      maskedSpans: [toolOutput],
    });
    if (!unclosed.ok) throw new Error(unclosed.reason);
    expect(trainedSpans({ ...unclosed.value, decode })).toEqual(["<output>\n7 and no end<|endoftext|>"]);
  });

  it.skipIf(!hasSharedTokenizer("SmolLM2-135M-Instruct"))(
    "no token straddles a span edge, so the tool output is exactly the tokens a rollout appends (SmolLM2)",
    async () => {
      const tokenizer = await loadSharedTokenizer("SmolLM2-135M-Instruct", "tulu");
      const result = tokenizeSft({ tokenizer, messages: demonstration, maskedSpans: [toolOutput] });
      if (!result.ok) throw new Error(result.reason);
      const decode = (ids: number[]) => tokenizer.decode(ids, { skipSpecialTokens: false });
      const spans = trainedSpans({ ...result.value, decode });
      expect(spans).toEqual(["<calculator>347 * 58</calculator>", "#### 20126<|im_end|>"]);
      const output = tokenizer.encode("<output>\n20126\n</output>\n", { addSpecialTokens: false });
      const ids = [...result.value.inputIds];
      const at = ids.findIndex((_, index) => output.every((id, offset) => ids[index + offset] === id));
      expect(at).toBeGreaterThan(0);
      expect(
        [...result.value.labels.slice(at, at + output.length)].every((label) => label === ignoredLabel),
      ).toBe(true);
      // One pass over the whole text merges `><` across the call/output edge in this vocabulary.
      const whole = tokenizer.encode(
        tokenizer.applyChatTemplate({ messages: demonstration, addGenerationPrompt: false }),
        { addSpecialTokens: false },
      );
      expect(whole.length).toBeLessThan(ids.length);
    },
  );
});
