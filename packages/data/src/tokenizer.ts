import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { parseWithSchema, sha256Hex } from "@posttrain/core";
import { z } from "zod";
import {
  type ChatTemplate,
  type ChatTemplateChoice,
  chatTemplateSource,
  createChatTemplate,
} from "./chat-template.js";
import { DataError } from "./errors.js";
import type { ChatMessage } from "./row-formats.js";
import { tokenizerJsonFromVocabulary } from "./tokenizer-json-from-vocabulary.js";

/**
 * The tokenizer seam shared by data, engine and evals: data implements it, the others
 * consume it. Ids are plain numbers; `applyChatTemplate` returns text (encode it with
 * `addSpecialTokens: false`, as transformers does for rendered chats).
 */
export interface TextTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** Every id that ends a generation (the config's eos plus generation_config's list). */
  eosTokenIds: number[];
  bosTokenId: number | null;
  padTokenId: number | null;
  /** One past the largest id, added tokens included. */
  vocabularySize: number;
  applyChatTemplate(params: { messages: readonly ChatMessage[]; addGenerationPrompt: boolean }): string;
}

/** A tokenizer loaded from files, with what a cache key needs to know about it. */
export interface LoadedTokenizer extends TextTokenizer {
  directory: string;
  chatTemplate: ChatTemplate;
  /** sha256 of each asset read (file name → hash); part of every tokenized-cache key. */
  assetHashes: Record<string, string>;
  /** The id of a token string, or `null` when it is not in the vocabulary. */
  tokenToId(token: string): number | null;
}

const tokenValueSchema = z
  .union([z.string(), z.strictObject({ content: z.string() }).loose(), z.null()])
  .optional()
  .transform((value) =>
    value === undefined || value === null ? null : typeof value === "string" ? value : value.content,
  );

const tokenizerConfigSchema = z
  .object({
    bos_token: tokenValueSchema,
    eos_token: tokenValueSchema,
    pad_token: tokenValueSchema,
    unk_token: tokenValueSchema,
    additional_special_tokens: z
      .array(z.union([z.string(), z.object({ content: z.string() }).loose()]))
      .optional(),
    chat_template: z.unknown().optional(),
  })
  .loose();

const generationConfigSchema = z
  .object({ eos_token_id: z.union([z.number().int(), z.array(z.number().int()), z.null()]).optional() })
  .loose();

async function readJson(path: string, hashes: Record<string, string>, name: string): Promise<unknown> {
  const text = await readFile(path, "utf8");
  hashes[name] = sha256Hex(text);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DataError({
      code: "data_tokenizer_invalid",
      message: `${path} is not valid JSON`,
      cause: error,
    });
  }
}

/**
 * Loads a Hugging Face tokenizer folder: `tokenizer.json` (or, when absent, a byte-level
 * BPE built from `vocab.json` + `merges.txt`), `tokenizer_config.json`, and when present
 * `special_tokens_map.json` and `generation_config.json` (extra eos ids). The chat template
 * is the config's own unless `chatTemplate` names a built-in or gives Jinja source.
 */
export async function loadTokenizer(params: {
  directory: string;
  chatTemplate?: ChatTemplateChoice;
}): Promise<LoadedTokenizer> {
  const { directory } = params;
  const assetHashes: Record<string, string> = {};
  const configPath = join(directory, "tokenizer_config.json");
  if (!existsSync(configPath)) {
    throw new DataError({
      code: "data_tokenizer_invalid",
      message: `${configPath} not found`,
      details: { directory },
    });
  }
  const config = parseWithSchema({
    schema: tokenizerConfigSchema,
    value: await readJson(configPath, assetHashes, "tokenizer_config.json"),
    label: configPath,
  });
  let tokenizerJson: unknown;
  if (existsSync(join(directory, "tokenizer.json"))) {
    tokenizerJson = await readJson(join(directory, "tokenizer.json"), assetHashes, "tokenizer.json");
  } else if (existsSync(join(directory, "vocab.json")) && existsSync(join(directory, "merges.txt"))) {
    const vocabularyText = await readFile(join(directory, "vocab.json"), "utf8");
    const mergesText = await readFile(join(directory, "merges.txt"), "utf8");
    assetHashes["vocab.json"] = sha256Hex(vocabularyText);
    assetHashes["merges.txt"] = sha256Hex(mergesText);
    tokenizerJson = tokenizerJsonFromVocabulary({
      vocabulary: JSON.parse(vocabularyText) as Record<string, number>,
      merges: mergesText,
      config: config as Record<string, unknown>,
    });
  } else {
    throw new DataError({
      code: "data_tokenizer_invalid",
      message: `${directory} has neither tokenizer.json nor vocab.json + merges.txt`,
      details: { directory },
    });
  }
  let specialTokensMap: z.infer<typeof tokenizerConfigSchema> | undefined;
  if (existsSync(join(directory, "special_tokens_map.json"))) {
    specialTokensMap = parseWithSchema({
      schema: tokenizerConfigSchema,
      value: await readJson(
        join(directory, "special_tokens_map.json"),
        assetHashes,
        "special_tokens_map.json",
      ),
      label: join(directory, "special_tokens_map.json"),
    });
  }
  let generationEos: number[] = [];
  if (existsSync(join(directory, "generation_config.json"))) {
    const generation = parseWithSchema({
      schema: generationConfigSchema,
      value: await readJson(join(directory, "generation_config.json"), assetHashes, "generation_config.json"),
      label: join(directory, "generation_config.json"),
    });
    const value = generation.eos_token_id;
    generationEos = value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
  }
  return createTokenizer({
    directory,
    tokenizerJson,
    tokenizerConfig: config as Record<string, unknown>,
    ...(specialTokensMap === undefined
      ? {}
      : { specialTokensMap: specialTokensMap as Record<string, unknown> }),
    generationEosTokenIds: generationEos,
    assetHashes,
    ...(params.chatTemplate === undefined ? {} : { chatTemplate: params.chatTemplate }),
  });
}

/** Builds a {@link LoadedTokenizer} from parsed assets (used by {@link loadTokenizer} and tests). */
export function createTokenizer(params: {
  directory: string;
  tokenizerJson: unknown;
  tokenizerConfig: Record<string, unknown>;
  specialTokensMap?: Record<string, unknown>;
  generationEosTokenIds?: number[];
  assetHashes?: Record<string, string>;
  chatTemplate?: ChatTemplateChoice;
}): LoadedTokenizer {
  const config = parseWithSchema({
    schema: tokenizerConfigSchema,
    value: params.tokenizerConfig,
    label: "tokenizer config",
  });
  const map =
    params.specialTokensMap === undefined
      ? undefined
      : parseWithSchema({
          schema: tokenizerConfigSchema,
          value: params.specialTokensMap,
          label: "special tokens map",
        });
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(params.tokenizerJson as object, params.tokenizerConfig);
  } catch (error) {
    throw new DataError({
      code: "data_tokenizer_invalid",
      message: "could not build the tokenizer",
      cause: error,
    });
  }
  const tokenToId = (token: string | null): number | null => {
    if (token === null) return null;
    const id = tokenizer.token_to_id(token);
    return id === undefined ? null : id;
  };
  const bosToken = config.bos_token ?? map?.bos_token ?? null;
  const eosToken = config.eos_token ?? map?.eos_token ?? null;
  const padToken = config.pad_token ?? map?.pad_token ?? null;
  const unknownToken = config.unk_token ?? map?.unk_token ?? null;
  const additional = (config.additional_special_tokens ?? map?.additional_special_tokens ?? []).map(
    (token) => (typeof token === "string" ? token : token.content),
  );
  const eosTokenIds = [...new Set([tokenToId(eosToken), ...(params.generationEosTokenIds ?? [])])].filter(
    (id): id is number => id !== null,
  );
  let largest = -1;
  for (const id of tokenizer.get_vocab(true).values()) largest = Math.max(largest, id);
  const chatTemplate = createChatTemplate({
    source: chatTemplateSource({ choice: params.chatTemplate, configTemplate: config.chat_template }),
    specialTokens: { bosToken, eosToken, padToken, unknownToken, additionalSpecialTokens: additional },
  });
  return {
    directory: params.directory,
    chatTemplate,
    assetHashes: params.assetHashes ?? {},
    eosTokenIds,
    bosTokenId: tokenToId(bosToken),
    padTokenId: tokenToId(padToken),
    vocabularySize: largest + 1,
    tokenToId,
    encode(text, options) {
      return tokenizer.encode(text, { add_special_tokens: options?.addSpecialTokens ?? true }).ids;
    },
    decode(ids, options) {
      // @huggingface/tokenizers throws on an empty list; an empty completion (EOS first) is "".
      if (ids.length === 0) return "";
      return tokenizer.decode([...ids], { skip_special_tokens: options?.skipSpecialTokens ?? false });
    },
    applyChatTemplate(templateParams) {
      return chatTemplate.render(templateParams);
    },
  };
}
