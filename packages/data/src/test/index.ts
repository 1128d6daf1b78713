import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { builtinChatTemplates, type ChatTemplateChoice } from "../chat-template.js";
import { type LoadedTokenizer, loadTokenizer } from "../tokenizer.js";

/** Absolute path of a shared tokenizer folder (from /work/shared/data/tokenizers), used by tests. */
export function sharedTokenizerDirectory(name: string): string {
  return fileURLToPath(new URL(`../../../../../shared/data/tokenizers/${name}`, import.meta.url));
}

/** True when the shared tokenizer folder is present (tests skip cleanly otherwise). */
export function hasSharedTokenizer(name: string): boolean {
  return existsSync(sharedTokenizerDirectory(name));
}

/** GPT-2's byte → printable character table used by byte-level BPE vocabularies. */
function byteCharacters(): string[] {
  const printable: number[] = [];
  for (let byte = 33; byte <= 126; byte += 1) printable.push(byte);
  for (let byte = 161; byte <= 172; byte += 1) printable.push(byte);
  for (let byte = 174; byte <= 255; byte += 1) printable.push(byte);
  const characters: string[] = new Array(256);
  let extra = 0;
  for (let byte = 0; byte < 256; byte += 1) {
    characters[byte] = printable.includes(byte)
      ? String.fromCharCode(byte)
      : String.fromCharCode(256 + extra++);
  }
  return characters;
}

/**
 * Writes a tiny, self-contained byte-level tokenizer (one token per byte, no merges, plus
 * ChatML special tokens and `<|endoftext|>` as eos) for tests that must not depend on the
 * shared assets. Returns the folder.
 */
export function writeByteTokenizer(directory: string): string {
  const vocabulary: Record<string, number> = {};
  byteCharacters().forEach((character, byte) => {
    vocabulary[character] = byte;
  });
  const special = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"];
  const added = Object.fromEntries(
    special.map((content, index) => [String(256 + index), { content, special: true, normalized: false }]),
  );
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, "vocab.json"), JSON.stringify(vocabulary));
  writeFileSync(join(directory, "merges.txt"), "#version: 0.2\n");
  writeFileSync(
    join(directory, "tokenizer_config.json"),
    JSON.stringify({
      added_tokens_decoder: added,
      bos_token: null,
      eos_token: "<|endoftext|>",
      pad_token: "<|endoftext|>",
      chat_template: builtinChatTemplates.chatml,
    }),
  );
  return directory;
}

const loaded = new Map<string, Promise<LoadedTokenizer>>();

/** Loads a shared tokenizer once per test file and template (loading takes ~0.5 s). */
export function loadSharedTokenizer(
  name: string,
  chatTemplate?: ChatTemplateChoice,
): Promise<LoadedTokenizer> {
  const key = `${name}:${JSON.stringify(chatTemplate ?? null)}`;
  let promise = loaded.get(key);
  if (promise === undefined) {
    promise = loadTokenizer({
      directory: sharedTokenizerDirectory(name),
      ...(chatTemplate === undefined ? {} : { chatTemplate }),
    });
    loaded.set(key, promise);
  }
  return promise;
}
