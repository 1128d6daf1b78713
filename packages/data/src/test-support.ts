import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Absolute path of a shared tokenizer folder (from /work/shared/data/tokenizers), used by tests. */
export function sharedTokenizerDirectory(name: string): string {
  return fileURLToPath(new URL(`../../../../shared/data/tokenizers/${name}`, import.meta.url));
}

/** True when the shared tokenizer folder is present (tests skip cleanly otherwise). */
export function hasSharedTokenizer(name: string): boolean {
  return existsSync(sharedTokenizerDirectory(name));
}
