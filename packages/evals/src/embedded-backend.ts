/**
 * The embedded backend: `posttrain eval --model DIR` builds its backend here. It loads the
 * Hugging Face model folder with @posttrain/engine (`loadPretrainedModel`), the tokenizer from the same
 * folder with @posttrain/data (`loadTokenizer`, its chat template unless `chatTemplate`
 * names another), and returns the engine's `createEmbeddedGenerationBackend`. The engine is
 * imported lazily, so code that only uses the HTTP backend never loads onnxruntime.
 *
 * No response cache here: the engine derives sample seeds from a request's position in the
 * `generate` call, so regenerating only the missing requests would change sampled outputs.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type ChatMessage, type GenerationBackend, Random } from "@posttrain/core";
import type { BuiltinChatTemplateName } from "@posttrain/data";
import { EvaluationError } from "./errors.js";
import type { ToolGenerationBackend } from "./tool-eval.js";

export async function createEmbeddedBackend(params: {
  modelDirectory: string;
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** Rows per decode batch (engine default 16). */
  maxBatchSize?: number;
  /** A built-in chat template instead of the tokenizer's own. */
  chatTemplate?: BuiltinChatTemplateName;
}): Promise<GenerationBackend> {
  const directory = params.modelDirectory;
  if (!existsSync(join(directory, "config.json"))) {
    throw new EvaluationError({
      code: "embedded_backend_unavailable",
      message: `--model ${directory} is not a model folder (no config.json); to evaluate a served model pass --endpoint URL instead`,
      details: { modelDirectory: directory },
    });
  }
  const [{ createEmbeddedGenerationBackend, loadPretrainedModel }, { loadTokenizer }] = await Promise.all([
    import("@posttrain/engine"),
    import("@posttrain/data"),
  ]);
  const [model, tokenizer] = await Promise.all([
    loadPretrainedModel({ directory }),
    loadTokenizer({
      directory,
      ...(params.chatTemplate === undefined ? {} : { chatTemplate: params.chatTemplate }),
    }),
  ]);
  return createEmbeddedGenerationBackend({
    model,
    // Workaround: @posttrain/data's decode([]) throws (@huggingface/tokenizers rejects an empty
    // id list), which breaks every sample that stops at once at EOS. An empty id list is "".
    tokenizer: {
      encode: (text, options) => tokenizer.encode(text, options),
      decode: (ids, options) => (ids.length === 0 ? "" : tokenizer.decode(ids, options)),
      eosTokenIds: tokenizer.eosTokenIds,
      applyChatTemplate: (chat) =>
        tokenizer.applyChatTemplate(chat as Parameters<typeof tokenizer.applyChatTemplate>[0]),
    },
    ...(params.threads === undefined ? {} : { threads: params.threads }),
    ...(params.maxBatchSize === undefined ? {} : { maxBatchSize: params.maxBatchSize }),
  });
}

/**
 * The embedded backend's multi-turn side, for tasks that allow tools: the engine's
 * `ConversationDecoder` (each conversation keeps its KV cache between turns; tool output is
 * appended on it, never re-prefilled). Conversation `id` samples from
 * `Random.fromSeed(seed).stream("conversation id")`.
 */
export async function createEmbeddedToolBackend(params: {
  modelDirectory: string;
  threads?: number;
  chatTemplate?: BuiltinChatTemplateName;
}): Promise<ToolGenerationBackend> {
  const directory = params.modelDirectory;
  if (!existsSync(join(directory, "config.json"))) {
    throw new EvaluationError({
      code: "embedded_backend_unavailable",
      message: `--model ${directory} is not a model folder (no config.json)`,
      details: { modelDirectory: directory },
    });
  }
  const [{ ConversationDecoder, DecodingSession, loadPretrainedModel }, { loadTokenizer }] =
    await Promise.all([import("@posttrain/engine"), import("@posttrain/data")]);
  const [model, tokenizer] = await Promise.all([
    loadPretrainedModel({ directory }),
    loadTokenizer({
      directory,
      ...(params.chatTemplate === undefined ? {} : { chatTemplate: params.chatTemplate }),
    }),
  ]);
  const session = await DecodingSession.create({
    model,
    ...(params.threads === undefined ? {} : { threads: params.threads }),
  });
  const generationTokenizer = {
    encode: (text: string, options?: { addSpecialTokens?: boolean }) => tokenizer.encode(text, options),
    decode: (ids: readonly number[], options?: { skipSpecialTokens?: boolean }) =>
      ids.length === 0 ? "" : tokenizer.decode(ids, options),
    eosTokenIds: tokenizer.eosTokenIds,
    applyChatTemplate: (chat: { messages: readonly ChatMessage[]; addGenerationPrompt: boolean }) =>
      tokenizer.applyChatTemplate(chat as Parameters<typeof tokenizer.applyChatTemplate>[0]),
  };
  const endOfTurnId = tokenizer.eosTokenIds[0];
  return {
    tokenizer: generationTokenizer,
    chatTemplate: tokenizer.chatTemplate,
    eosTokenIds: tokenizer.eosTokenIds,
    endOfTurnText:
      endOfTurnId === undefined ? "" : tokenizer.decode([endOfTurnId], { skipSpecialTokens: false }),
    createGenerator: ({ temperature, topP, seed }) => {
      const decoder = ConversationDecoder.create({
        session,
        tokenizer: generationTokenizer,
        sampling: { temperature, ...(topP === undefined ? {} : { topP }) },
        randomFor: (id) => Random.fromSeed(seed).stream(`conversation ${id}`),
      });
      return {
        generateTurns: (request) => decoder.generateTurns(request),
        release: (request) => decoder.release(request),
      };
    },
    describe: () => ({ kind: "embedded", model: directory }),
  };
}
