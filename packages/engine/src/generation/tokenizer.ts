import type { ChatMessage } from "@posttrain/core";

/**
 * What generation needs from a tokenizer. @posttrain/data's `TextTokenizer` satisfies it
 * structurally (the engine may not import data: layer rule), so callers pass data's tokenizer in.
 */
export interface GenerationTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /** Every id that ends a generation. */
  eosTokenIds: number[];
  applyChatTemplate(params: { messages: readonly ChatMessage[]; addGenerationPrompt: boolean }): string;
}
