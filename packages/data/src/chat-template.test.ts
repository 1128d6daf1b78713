import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { builtinChatTemplates, createChatTemplate, type TemplateSpecialTokens } from "./chat-template.js";
import type { ChatMessage } from "./row-formats.js";
import { hasSharedTokenizer, sharedTokenizerDirectory } from "./test/index.js";

const tokens: TemplateSpecialTokens = {
  bosToken: "<s>",
  eosToken: "</s>",
  padToken: null,
  unknownToken: null,
  additionalSpecialTokens: [],
};

const conversation: ChatMessage[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "What is 2+2?" },
  { role: "assistant", content: "4." },
  { role: "user", content: "And 3+3?" },
  { role: "assistant", content: "6." },
];

describe("built-in chat templates (golden renderings written by hand)", () => {
  it("renders the tulu template like open-instruct", () => {
    const template = createChatTemplate({ source: builtinChatTemplates.tulu, specialTokens: tokens });
    expect(template.render({ messages: conversation, addGenerationPrompt: false })).toBe(
      "<|system|>\nBe brief.\n<|user|>\nWhat is 2+2?\n<|assistant|>\n4.</s>\n<|user|>\nAnd 3+3?\n<|assistant|>\n6.</s>",
    );
    expect(template.render({ messages: conversation.slice(0, 4), addGenerationPrompt: true })).toBe(
      "<|system|>\nBe brief.\n<|user|>\nWhat is 2+2?\n<|assistant|>\n4.</s>\n<|user|>\nAnd 3+3?\n<|assistant|>\n",
    );
  });

  it("renders the chatml template", () => {
    const template = createChatTemplate({ source: builtinChatTemplates.chatml, specialTokens: tokens });
    expect(template.render({ messages: conversation.slice(1, 3), addGenerationPrompt: false })).toBe(
      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4.<|im_end|>\n",
    );
    expect(template.render({ messages: conversation.slice(0, 2), addGenerationPrompt: true })).toBe(
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("renders the zephyr template", () => {
    const template = createChatTemplate({ source: builtinChatTemplates.zephyr, specialTokens: tokens });
    expect(template.render({ messages: conversation.slice(0, 3), addGenerationPrompt: false })).toBe(
      "<|system|>\nBe brief.</s>\n<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n4.</s>\n",
    );
  });

  it("wraps template errors as data_template_failed", () => {
    const template = createChatTemplate({
      source: "{{ raise_exception('no system role') }}",
      specialTokens: tokens,
    });
    expect(() => template.render({ messages: conversation, addGenerationPrompt: false })).toThrow(
      expect.objectContaining({ code: "data_template_failed" }),
    );
    expect(() => createChatTemplate({ source: "{% for %}", specialTokens: tokens })).toThrow(
      expect.objectContaining({ code: "data_template_failed" }),
    );
  });
});

describe.skipIf(!hasSharedTokenizer("Qwen2.5-0.5B-Instruct"))("Qwen2.5's own template (real asset)", () => {
  it("adds the default system prompt and the generation prompt", () => {
    const config = JSON.parse(
      readFileSync(
        join(sharedTokenizerDirectory("Qwen2.5-0.5B-Instruct"), "tokenizer_config.torchtune-resaved.json"),
        "utf8",
      ),
    ) as { chat_template: string };
    const template = createChatTemplate({
      source: config.chat_template,
      specialTokens: { ...tokens, bosToken: null, eosToken: "<|im_end|>" },
    });
    expect(
      template.render({
        messages: [
          { role: "user", content: "Hi" },
          { role: "assistant", content: "Hello!" },
          { role: "user", content: "Bye" },
        ],
        addGenerationPrompt: true,
      }),
    ).toBe(
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n" +
        "<|im_start|>assistant\n",
    );
  });
});
