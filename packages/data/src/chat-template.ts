import { Template } from "@huggingface/jinja";
import { sha256Hex } from "@posttrain/core";
import { DataError } from "./errors.js";
import type { ChatMessage } from "./row-formats.js";

/**
 * Built-in chat templates (Jinja), reproducing the behaviour of open-instruct's
 * `CHAT_TEMPLATES` (`tulu`, `zephyr`) and the usual ChatML layout:
 *
 * - `tulu`: `<|system|>\n{c}\n`, `<|user|>\n{c}\n`, `<|assistant|>\n{c}<eos>` followed by `\n`
 *   unless it is the last message; the generation prompt is `<|assistant|>\n`.
 * - `zephyr`: every turn is `<|role|>\n{c}<eos>\n`; generation prompt `<|assistant|>\n`.
 * - `chatml`: every turn is `<|im_start|>{role}\n{c}<|im_end|>\n`; generation prompt
 *   `<|im_start|>assistant\n`.
 */
export const builtinChatTemplates = {
  tulu: [
    "{% for message in messages %}",
    "{% if message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + '\\n' }}",
    "{% elif message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '\\n' }}",
    "{% elif message['role'] == 'assistant' %}",
    "{% if not loop.last %}{{ '<|assistant|>\\n' + message['content'] + eos_token + '\\n' }}",
    "{% else %}{{ '<|assistant|>\\n' + message['content'] + eos_token }}{% endif %}",
    "{% endif %}",
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
    "{% endfor %}",
  ].join(""),
  zephyr: [
    "{% for message in messages %}",
    "{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token + '\\n' }}",
    "{% elif message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + eos_token + '\\n' }}",
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n' + message['content'] + eos_token + '\\n' }}",
    "{% endif %}",
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
    "{% endfor %}",
  ].join(""),
  chatml: [
    "{% for message in messages %}",
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}",
    "{% endfor %}",
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  ].join(""),
} as const;

export type BuiltinChatTemplateName = keyof typeof builtinChatTemplates;

/** Which template to use: a built-in by name, or Jinja source. */
export type ChatTemplateChoice = BuiltinChatTemplateName | { jinja: string };

export function isBuiltinChatTemplateName(value: string): value is BuiltinChatTemplateName {
  return Object.hasOwn(builtinChatTemplates, value);
}

/** The special-token strings a template may reference (`bos_token`, `eos_token`, ...). */
export interface TemplateSpecialTokens {
  bosToken: string | null;
  eosToken: string | null;
  padToken: string | null;
  unknownToken: string | null;
  additionalSpecialTokens: string[];
}

/**
 * A message of a tool-use conversation, in the shape Hugging Face chat templates read:
 * an assistant turn may carry `tool_calls` (`{ name, arguments }`, arguments an object),
 * a `tool` turn carries one tool's output as `content`.
 */
export interface ToolConversationMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  tool_calls?: ReadonlyArray<{ name: string; arguments: Record<string, unknown> }>;
  name?: string;
}

/** A compiled chat template. `source` is the Jinja text; `sha256` its hash (for cache keys). */
export interface ChatTemplate {
  source: string;
  sha256: string;
  render(params: { messages: readonly ChatMessage[]; addGenerationPrompt: boolean }): string;
  /**
   * Renders a tool-use conversation: messages keep `tool_calls` and `name`, and `tools`
   * (OpenAI-style function definitions) is bound as the template's `tools` variable, as
   * transformers' `apply_chat_template(messages, tools=…)` does.
   */
  renderToolConversation(params: {
    messages: readonly ToolConversationMessage[];
    tools?: readonly unknown[];
    addGenerationPrompt: boolean;
  }): string;
}

/**
 * Compiles a chat template with @huggingface/jinja (the Jinja port used by transformers.js),
 * binding the special tokens the way transformers' `apply_chat_template` does (the engine
 * itself provides `raise_exception`, whose error is wrapped as `data_template_failed`).
 */
export function createChatTemplate(params: {
  source: string;
  specialTokens: TemplateSpecialTokens;
}): ChatTemplate {
  let template: Template;
  try {
    template = new Template(params.source);
  } catch (error) {
    throw new DataError({
      code: "data_template_failed",
      message: "could not parse the chat template",
      cause: error,
    });
  }
  const { specialTokens } = params;
  const context = {
    bos_token: specialTokens.bosToken ?? "",
    eos_token: specialTokens.eosToken ?? "",
    pad_token: specialTokens.padToken ?? "",
    unk_token: specialTokens.unknownToken ?? "",
    additional_special_tokens: specialTokens.additionalSpecialTokens,
  };
  const renderWith = (variables: Record<string, unknown>): string => {
    try {
      return template.render({ ...context, ...variables });
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw new DataError({
        code: "data_template_failed",
        message: "could not render the chat template",
        cause: error,
      });
    }
  };
  return {
    source: params.source,
    sha256: sha256Hex(params.source),
    render({ messages, addGenerationPrompt }) {
      return renderWith({
        messages: messages.map((message) => ({ role: message.role, content: message.content })),
        add_generation_prompt: addGenerationPrompt,
      });
    },
    renderToolConversation({ messages, tools, addGenerationPrompt }) {
      return renderWith({
        messages: messages.map((message) => ({
          role: message.role,
          content: message.content,
          ...(message.tool_calls === undefined
            ? {}
            : {
                tool_calls: message.tool_calls.map((call) => ({
                  name: call.name,
                  arguments: call.arguments,
                })),
              }),
          ...(message.name === undefined ? {} : { name: message.name }),
        })),
        ...(tools === undefined || tools.length === 0 ? {} : { tools }),
        add_generation_prompt: addGenerationPrompt,
      });
    },
  };
}

/** The Jinja source for a choice, or for the tokenizer config's own `chat_template`. */
export function chatTemplateSource(params: {
  choice: ChatTemplateChoice | undefined;
  configTemplate: unknown;
}): string {
  const { choice, configTemplate } = params;
  if (choice !== undefined) return typeof choice === "string" ? builtinChatTemplates[choice] : choice.jinja;
  if (typeof configTemplate === "string") return configTemplate;
  if (Array.isArray(configTemplate)) {
    // Newer configs store a list of named templates: use "default".
    const named = configTemplate.find(
      (entry): entry is { name: string; template: string } =>
        typeof entry === "object" && entry !== null && (entry as { name?: unknown }).name === "default",
    );
    if (named) return named.template;
  }
  throw new DataError({
    code: "data_tokenizer_invalid",
    message: "tokenizer_config.json has no chat_template; name one (tulu, chatml, zephyr) explicitly",
  });
}
