/**
 * Request → prompt token ids, the same way the embedded backend builds them:
 * - chat: the tokenizer's chat template over the messages with the generation prompt, encoded
 *   without special tokens (as transformers does); a `developer` message is rendered as
 *   `system` (OpenAI's newer name for it). With `continue_final_message` (vLLM) the
 *   final assistant message is not rendered as a turn: the template renders the messages before
 *   it with the generation prompt and the message's content is appended raw, so the model
 *   continues it — exactly the prompt the evals backend renders locally for an assistant prefix
 *   (template + generation prompt + raw prefix), so the chat and completions paths agree.
 * - text: encoded with the tokenizer's special tokens (BOS where it adds one);
 * - token ids: used as given (each must be below the vocabulary size).
 */
import type { ChatMessage } from "@posttrain/core";
import type { GenerationTokenizer } from "@posttrain/engine";
import { yieldToEventLoop } from "./admission.js";
import { ServeRequestError } from "./errors.js";
import type { ChatCompletionRequest, CompletionRequest } from "./request-schema.js";

const invalid = (message: string, param: string) =>
  new ServeRequestError({ code: "serve_invalid_request", status: 400, message, param });

export function chatPromptTokenIds(params: {
  request: ChatCompletionRequest;
  tokenizer: GenerationTokenizer;
  /** Called with the rendered prompt's length before it is tokenised (throws to refuse it). */
  checkRendered?: (characters: number) => void;
}): number[] {
  const { request, tokenizer } = params;
  // OpenAI's `developer` role (its newer name for system instructions) is rendered as `system`:
  // chat templates know only system/user/assistant/tool.
  const messages: ChatMessage[] = request.messages.map((message) => ({
    role: message.role === "developer" ? "system" : message.role,
    content: message.content,
  }));
  let rendered: string;
  if (request.continue_final_message === true) {
    if (request.add_generation_prompt === true)
      throw invalid(
        "continue_final_message and add_generation_prompt cannot both be true",
        "continue_final_message",
      );
    const last = messages.at(-1)!;
    if (last.role !== "assistant")
      throw invalid(
        "continue_final_message needs the final message to have role assistant",
        "continue_final_message",
      );
    const before = messages.slice(0, -1);
    rendered =
      (before.length === 0
        ? ""
        : tokenizer.applyChatTemplate({ messages: before, addGenerationPrompt: true })) + last.content;
  } else {
    rendered = tokenizer.applyChatTemplate({
      messages,
      addGenerationPrompt: request.add_generation_prompt ?? true,
    });
  }
  params.checkRendered?.(rendered.length);
  const ids = tokenizer.encode(rendered, { addSpecialTokens: false });
  if (ids.length === 0) throw invalid("the rendered prompt is empty", "messages");
  return ids;
}

/**
 * One token-id list per prompt of a completions request. Text prompts are encoded one at a
 * time with a yield to the event loop before each, so a request of many prompts never holds
 * the loop for more than one of them (their length is checked before, see admission.ts).
 */
export async function completionPromptTokenIds(params: {
  request: CompletionRequest;
  tokenizer: GenerationTokenizer;
  vocabularySize: number;
}): Promise<number[][]> {
  const { request, tokenizer, vocabularySize } = params;
  const prompt = request.prompt;
  const prompts: Array<string | number[]> =
    typeof prompt === "string"
      ? [prompt]
      : typeof prompt[0] === "number"
        ? [prompt as number[]]
        : (prompt as Array<string | number[]>);
  const encoded: number[][] = [];
  for (const [index, entry] of prompts.entries()) {
    const param = prompts.length === 1 && typeof prompt === "string" ? "prompt" : `prompt[${index}]`;
    if (typeof entry === "string") {
      if (prompts.length > 1) await yieldToEventLoop();
      const ids = tokenizer.encode(entry, { addSpecialTokens: true });
      if (ids.length === 0) throw invalid("the prompt is empty (no tokens)", param);
      encoded.push(ids);
      continue;
    }
    const bad = entry.findIndex((id) => id >= vocabularySize);
    if (bad >= 0)
      throw invalid(
        `token id ${entry[bad]} at position ${bad} is outside the vocabulary (size ${vocabularySize})`,
        param,
      );
    encoded.push(entry);
  }
  return encoded;
}
