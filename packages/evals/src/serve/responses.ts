/**
 * OpenAI response shapes: `chat.completion`, `chat.completion.chunk`, `text_completion`
 * (whole and streamed), log-prob blocks and usage.
 */
import type { GenerationTokenizer } from "@posttrain/engine";
import type { SequenceResult, TokenAlternative } from "./scheduler.js";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(params: { promptTokens: number; completionTokens: number }): Usage {
  return {
    prompt_tokens: params.promptTokens,
    completion_tokens: params.completionTokens,
    total_tokens: params.promptTokens + params.completionTokens,
  };
}

/** The text of one token as OpenAI reports it (special tokens included). */
export function tokenText(tokenizer: GenerationTokenizer, tokenId: number): string {
  return tokenizer.decode([tokenId], { skipSpecialTokens: false });
}

const utf8Bytes = (text: string) => [...Buffer.from(text, "utf8")];

/** Chat `logprobs.content` entries for tokens. */
export function chatLogProbContent(params: {
  tokenizer: GenerationTokenizer;
  tokenIds: readonly number[];
  logProbs: readonly number[];
  alternatives: readonly (readonly TokenAlternative[])[];
}) {
  const { tokenizer } = params;
  return params.tokenIds.map((tokenId, index) => {
    const token = tokenText(tokenizer, tokenId);
    return {
      token,
      logprob: params.logProbs[index]!,
      bytes: utf8Bytes(token),
      top_logprobs: (params.alternatives[index] ?? []).map((alternative) => {
        const text = tokenText(tokenizer, alternative.tokenId);
        return { token: text, logprob: alternative.logProb, bytes: utf8Bytes(text) };
      }),
    };
  });
}

/** Completions `logprobs` block (`text_offset` counts characters from `textOffset`). */
export function completionLogProbs(params: {
  tokenizer: GenerationTokenizer;
  tokenIds: readonly number[];
  logProbs: readonly number[];
  alternatives: readonly (readonly TokenAlternative[])[];
  textOffset: number;
  withAlternatives: boolean;
}) {
  const { tokenizer } = params;
  const tokens = params.tokenIds.map((tokenId) => tokenText(tokenizer, tokenId));
  const offsets: number[] = [];
  let offset = params.textOffset;
  for (const token of tokens) {
    offsets.push(offset);
    offset += token.length;
  }
  return {
    tokens,
    token_logprobs: [...params.logProbs],
    top_logprobs: params.withAlternatives
      ? params.tokenIds.map((_, index) =>
          Object.fromEntries(
            (params.alternatives[index] ?? []).map((alternative) => [
              tokenText(tokenizer, alternative.tokenId),
              alternative.logProb,
            ]),
          ),
        )
      : null,
    text_offset: offsets,
  };
}

/** `finish_reason` for a finished sequence (an aborted one is never answered). */
export const finishReasonOf = (result: SequenceResult): "stop" | "length" =>
  result.finishReason === "length" ? "length" : "stop";
