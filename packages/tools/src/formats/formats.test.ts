import { existsSync, readFileSync } from "node:fs";
import { createChatTemplate } from "@posttrain/data";
import { describe, expect, it } from "vitest";
import { createCalculatorTool } from "../calculator.js";
import { createPythonTool } from "../python.js";
import { createToolRegistry } from "../registry.js";
import type { Tool } from "../types.js";
import { createChatTemplateFormat, parseHermesToolCalls } from "./chat-template.js";
import { createTagFormat } from "./tags.js";

const registry = createToolRegistry({
  tools: [createPythonTool() as Tool<unknown>, createCalculatorTool() as Tool<unknown>],
});

describe("tag format (open-instruct legacy parser)", () => {
  const format = createTagFormat({ registry, callNames: { code: "python", calculator: "calculator" } });

  it("stops at every closing tag and finds every complete call in text order, bodies verbatim", () => {
    expect(format.stop).toEqual(["</code>", "</calculator>"]);
    expect(
      format.parse({ text: "First <calculator>6*7</calculator> then run <code>print('hello')</code>" }),
    ).toEqual([
      { kind: "call", call: { name: "calculator", arguments: { expression: "6*7" } } },
      { kind: "call", call: { name: "python", arguments: { code: "print('hello')" } } },
    ]);
    expect(format.parse({ text: "<code>\nif x > 5 and y < 10: print('yes')\n</code>" })).toEqual([
      {
        kind: "call",
        call: { name: "python", arguments: { code: "\nif x > 5 and y < 10: print('yes')\n" } },
      },
    ]);
    expect(format.parse({ text: "<code>a</code> <code>b</code>" }).map((entry) => entry.kind)).toEqual([
      "call",
      "call",
    ]);
    expect(format.parse({ text: "no tools here, <search>q</search> is not configured" })).toEqual([]);
    expect(format.parse({ text: "<code></code>" })).toEqual([
      { kind: "call", call: { name: "python", arguments: { code: "" } } },
    ]);
  });

  it("an unclosed call is malformed (an error observation), not silently dropped", () => {
    expect(format.parse({ text: "let me compute <code>print(1" })).toEqual([
      { kind: "malformed", error: "unclosed <code>: a call is <code>…</code>" },
    ]);
    expect(format.parse({ text: "<code>a</code> then <calculator>1+" }).map((entry) => entry.kind)).toEqual([
      "call",
      "malformed",
    ]);
  });

  it("wraps each output as <output>\\n…\\n</output>\\n and concatenates them", () => {
    expect(format.continuation({ messages: [], outputs: ["42"] })).toBe("<output>\n42\n</output>\n");
    expect(format.continuation({ messages: [], outputs: ["1", "2\u0000"] })).toBe(
      "<output>\n1\n</output>\n<output>\n2\n</output>\n",
    );
    expect(createTagFormat({ registry }).stop).toEqual(["</python>", "</calculator>"]);
    expect(() => createTagFormat({ registry, callNames: { code: "shell" } })).toThrow(/unknown tool "shell"/);
  });
});

describe("Hermes / Qwen2.5 tool calls", () => {
  it("parses every well-formed call in order", () => {
    const text =
      'Let me compute.\n<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*7"}}\n</tool_call>\n<tool_call>{"name":"python","arguments":{"code":"print(1)"}}</tool_call>';
    expect(parseHermesToolCalls({ text })).toEqual([
      { kind: "call", call: { name: "calculator", arguments: { expression: "6*7" } } },
      { kind: "call", call: { name: "python", arguments: { code: "print(1)" } } },
    ]);
    expect(parseHermesToolCalls({ text: "The answer is 42." })).toEqual([]);
  });

  it("refuses malformed calls with a reason", () => {
    const reason = (body: string) => {
      const [entry] = parseHermesToolCalls({ text: `<tool_call>${body}</tool_call>` });
      return entry?.kind === "malformed" ? entry.error : "parsed";
    };
    expect(reason("{name: calculator}")).toMatch(/^malformed tool call: not valid JSON/);
    expect(reason('["calculator"]')).toBe('malformed tool call: expected {"name": …, "arguments": {…}}');
    expect(reason('{"arguments": {}}')).toBe('malformed tool call: "name" must be a non-empty string');
    expect(reason('{"name": "calculator", "arguments": "{\\"expression\\": \\"1\\"}"}')).toBe(
      'malformed tool call: "arguments" must be a JSON object',
    );
    expect(reason('{"name": "calculator", "arguments": {}, "id": 3}')).toBe(
      'malformed tool call: unexpected key "id"',
    );
    expect(parseHermesToolCalls({ text: '<tool_call>{"name": "calculator", "arguments": {' })).toEqual([
      { kind: "malformed", error: "malformed tool call: <tool_call> is never closed" },
    ]);
  });
});

const qwenConfig =
  "/work/shared/data/tokenizers/Qwen2.5-0.5B-Instruct/tokenizer_config.torchtune-resaved.json";

describe.skipIf(!existsSync(qwenConfig))("Qwen2.5's own chat template (shared/data)", () => {
  const config = JSON.parse(readFileSync(qwenConfig, "utf8")) as { chat_template: string };
  const template = createChatTemplate({
    source: config.chat_template,
    specialTokens: {
      bosToken: null,
      eosToken: "<|im_end|>",
      padToken: "<|endoftext|>",
      unknownToken: null,
      additionalSpecialTokens: [],
    },
  });
  const tools = [
    {
      type: "function",
      function: {
        name: "calculator",
        description: "exact arithmetic",
        parameters: {
          type: "object",
          properties: { expression: { type: "string" } },
          required: ["expression"],
        },
      },
    },
  ];

  it("renders tool calls and tool messages through our Jinja path", () => {
    const text = template.renderToolConversation({
      messages: [
        { role: "user", content: "What is 6*7?" },
        {
          role: "assistant",
          content: "",
          tool_calls: [{ name: "calculator", arguments: { expression: "6*7" } }],
        },
        { role: "tool", content: "42" },
        { role: "assistant", content: "42" },
      ],
      tools,
      addGenerationPrompt: false,
    });
    expect(text).toBe(
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
        '{"type": "function", "function": {"name": "calculator", "description": "exact arithmetic", "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}}}' +
        '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
        "<|im_start|>user\nWhat is 6*7?<|im_end|>\n" +
        '<|im_start|>assistant\n<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*7"}}\n</tool_call><|im_end|>\n' +
        "<|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>\n" +
        "<|im_start|>assistant\n42<|im_end|>\n",
    );
    // The template's own tool-call text (the assistant turn) parses back to the call.
    const assistant = text.slice(
      text.indexOf("<|im_start|>assistant"),
      text.indexOf("<|im_start|>user\n<tool_response>"),
    );
    expect(parseHermesToolCalls({ text: assistant })).toEqual([
      { kind: "call", call: { name: "calculator", arguments: { expression: "6*7" } } },
    ]);
  });

  it("the continuation after a tool-call turn is the template's tool message and generation prompt", () => {
    const format = createChatTemplateFormat({ template, endOfTurn: "<|im_end|>", tools });
    expect(format.stop).toEqual([]);
    const continuation = format.continuation({
      messages: [
        { role: "user", content: "What is 6*7 and 2+2?" },
        {
          role: "assistant",
          content: '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*7"}}\n</tool_call>',
        },
      ],
      outputs: ["42", "4"],
    });
    expect(continuation).toBe(
      "\n<|im_start|>user\n<tool_response>\n42\n</tool_response>\n<tool_response>\n4\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
    );
  });
});
