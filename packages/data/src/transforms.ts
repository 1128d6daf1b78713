import type { ChatMessage, PreferenceRow, RlvrRow } from "./row-formats.js";
import type { TextTokenizer } from "./tokenizer.js";

/** The label of a token that is not trained on (PyTorch's cross-entropy `ignore_index`). */
export const ignoredLabel = -100;

/** Why a well-formed row was filtered after tokenization (counted, never silent). */
export type FilterReason = "no_trainable_tokens" | "prompt_too_long";

/**
 * A tokenized SFT conversation. `labels[t]` is `inputIds[t]` on assistant tokens and
 * {@link ignoredLabel} elsewhere (labels are aligned with inputs; the loss shifts them).
 */
export interface TokenizedSft {
  inputIds: Int32Array;
  labels: Int32Array;
}

/** A tokenized preference pair: the shared prompt once, then each completion's ids. */
export interface TokenizedPreference {
  promptIds: Int32Array;
  chosenIds: Int32Array;
  rejectedIds: Int32Array;
}

/** A tokenized RLVR prompt (rendered with the generation prompt) with its labels. */
export interface TokenizedRlvr {
  promptIds: Int32Array;
  groundTruth: string[];
  dataset: string[];
}

export type TransformResult<Value> = { ok: true; value: Value } | { ok: false; reason: FilterReason };

const encodeChat = (
  tokenizer: TextTokenizer,
  messages: readonly ChatMessage[],
  addGenerationPrompt: boolean,
): number[] =>
  tokenizer.encode(tokenizer.applyChatTemplate({ messages, addGenerationPrompt }), {
    addSpecialTokens: false,
  });

/**
 * SFT tokenization with loss masks, behaving like open-instruct's
 * `sft_tulu_tokenize_and_truncate_v1` + `sft_tulu_filter_v1`: the whole conversation is
 * rendered and tokenized once; every non-assistant message is masked from the token count
 * of the rendered prefix before it to the token count of the prefix through it (with the
 * generation prompt when an assistant turn follows, so the assistant header is masked too).
 * Rendering prefixes works for any template, with or without generation tags. The result
 * is cut to `maxLength` tokens; a row left without trainable tokens is filtered.
 */
export function tokenizeSft(params: {
  tokenizer: TextTokenizer;
  messages: readonly ChatMessage[];
  maxLength?: number;
  /** Spans of assistant text without loss (tool output): see {@link tokenizeSftWithMaskedSpans}. */
  maskedSpans?: readonly MaskedSpan[];
}): TransformResult<TokenizedSft> {
  const { tokenizer, messages } = params;
  const maxLength = params.maxLength ?? Number.POSITIVE_INFINITY;
  if (params.maskedSpans !== undefined && params.maskedSpans.length > 0)
    return tokenizeSftWithMaskedSpans({ tokenizer, messages, maxLength, maskedSpans: params.maskedSpans });
  const full = encodeChat(tokenizer, messages, false);
  const length = Math.min(full.length, maxLength);
  const inputIds = Int32Array.from(full.slice(0, length));
  const labels = Int32Array.from(inputIds);
  const prefixLengths = new Map<string, number>();
  const prefixLength = (count: number, addGenerationPrompt: boolean): number => {
    if (count === 0) return 0;
    const key = `${count}:${addGenerationPrompt}`;
    let value = prefixLengths.get(key);
    if (value === undefined) {
      value = encodeChat(tokenizer, messages.slice(0, count), addGenerationPrompt).length;
      prefixLengths.set(key, value);
    }
    return value;
  };
  for (let index = 0; index < messages.length; index += 1) {
    if (messages[index]!.role === "assistant") continue;
    const start = prefixLength(index, false);
    const end = prefixLength(index + 1, messages[index + 1]?.role === "assistant");
    labels.fill(ignoredLabel, Math.min(start, length), Math.min(end, length));
    if (end >= maxLength) break;
  }
  if (!labels.some((label) => label !== ignoredLabel)) return { ok: false, reason: "no_trainable_tokens" };
  return { ok: true, value: { inputIds, labels } };
}

/**
 * A span of assistant text that gets no loss: from `start` through `end`, both included, e.g.
 * the tool output of a tool-use demonstration (`{ start: "<output>\n", end: "\n</output>\n" }`
 * for open-instruct's tag format), which a rollout appends as tool tokens rather than
 * generating it.
 */
export interface MaskedSpan {
  start: string;
  end: string;
}

/**
 * SFT tokenization of tool-use demonstrations: like {@link tokenizeSft} (non-assistant
 * messages and the assistant header masked), and inside assistant messages every
 * `start`…`end` span of `maskedSpans` is masked too (a `start` without its `end` in the same
 * message is ordinary text). The rendered conversation is tokenized piece by piece, cut at the
 * edges of every masked region, as a multi-turn rollout tokenizes it — the prompt, each model
 * turn and each tool output are encoded on their own — so no token straddles a span edge and
 * the model trains on the token sequence it generates at inference.
 */
function tokenizeSftWithMaskedSpans(params: {
  tokenizer: TextTokenizer;
  messages: readonly ChatMessage[];
  maxLength: number;
  maskedSpans: readonly MaskedSpan[];
}): TransformResult<TokenizedSft> {
  const { tokenizer, messages } = params;
  const render = (count: number, addGenerationPrompt: boolean) =>
    count === 0
      ? ""
      : tokenizer.applyChatTemplate({ messages: messages.slice(0, count), addGenerationPrompt });
  const text = render(messages.length, false);
  // Masked character ranges: non-assistant messages (through the next assistant header), and
  // the spans inside assistant messages.
  const masked: Array<[number, number]> = [];
  for (let index = 0; index < messages.length; index += 1) {
    const message = messages[index]!;
    if (message.role !== "assistant") {
      masked.push([
        render(index, false).length,
        render(index + 1, messages[index + 1]?.role === "assistant").length,
      ]);
      continue;
    }
    const from = render(index, true).length;
    const to = render(index + 1, false).length;
    for (const span of params.maskedSpans) {
      let cursor = from;
      while (cursor < to) {
        const start = text.indexOf(span.start, cursor);
        if (start === -1 || start >= to) break;
        const end = text.indexOf(span.end, start + span.start.length);
        if (end === -1 || end + span.end.length > to) break;
        masked.push([start, end + span.end.length]);
        cursor = end + span.end.length;
      }
    }
  }
  const edges = [...new Set([0, text.length, ...masked.flat()])]
    .filter((edge) => edge >= 0 && edge <= text.length)
    .sort((a, b) => a - b);
  const inputIds: number[] = [];
  const labels: number[] = [];
  for (let index = 0; index + 1 < edges.length; index += 1) {
    const [from, to] = [edges[index]!, edges[index + 1]!];
    if (from === to) continue;
    const ids = tokenizer.encode(text.slice(from, to), { addSpecialTokens: false });
    const isMasked = masked.some(([start, end]) => from >= start && to <= end);
    for (const id of ids) {
      inputIds.push(id);
      labels.push(isMasked ? ignoredLabel : id);
    }
  }
  const length = Math.min(inputIds.length, params.maxLength);
  const cutLabels = Int32Array.from(labels.slice(0, length));
  if (!cutLabels.some((label) => label !== ignoredLabel)) return { ok: false, reason: "no_trainable_tokens" };
  return { ok: true, value: { inputIds: Int32Array.from(inputIds.slice(0, length)), labels: cutLabels } };
}

/**
 * Preference tokenization (the shape `preference_tulu_tokenize_and_truncate_v1` trains on,
 * stored without repeating the prompt): chosen and rejected conversations are tokenized
 * whole; the prompt is their common prefix up to the prompt's own length (the rendered
 * prompt with generation prompt), so `prompt + completion` is exactly each full
 * tokenization. Completions are cut so prompt + completion ≤ `maxLength`; a prompt that
 * leaves no room for a completion is filtered.
 */
export function tokenizePreference(params: {
  tokenizer: TextTokenizer;
  row: PreferenceRow;
  maxLength?: number;
}): TransformResult<TokenizedPreference> {
  const { tokenizer, row } = params;
  const maxLength = params.maxLength ?? Number.POSITIVE_INFINITY;
  const prompt = encodeChat(tokenizer, row.prompt, true);
  const chosen = encodeChat(tokenizer, [...row.prompt, row.chosen], false);
  const rejected = encodeChat(tokenizer, [...row.prompt, row.rejected], false);
  let shared = 0;
  while (shared < prompt.length && chosen[shared] === prompt[shared] && rejected[shared] === prompt[shared])
    shared += 1;
  if (shared >= maxLength || shared === chosen.length || shared === rejected.length) {
    return { ok: false, reason: shared >= maxLength ? "prompt_too_long" : "no_trainable_tokens" };
  }
  const room = maxLength - shared;
  return {
    ok: true,
    value: {
      promptIds: Int32Array.from(chosen.slice(0, shared)),
      chosenIds: Int32Array.from(chosen.slice(shared, shared + Math.min(room, chosen.length - shared))),
      rejectedIds: Int32Array.from(rejected.slice(shared, shared + Math.min(room, rejected.length - shared))),
    },
  };
}

/**
 * RLVR tokenization like `rlvr_tokenize_v1` + `rlvr_max_length_filter_v1`: the prompt
 * rendered with the generation prompt; prompts longer than `maxPromptLength` are filtered.
 */
export function tokenizeRlvr(params: {
  tokenizer: TextTokenizer;
  row: RlvrRow;
  maxPromptLength?: number;
}): TransformResult<TokenizedRlvr> {
  const promptIds = encodeChat(params.tokenizer, params.row.messages, true);
  if (promptIds.length > (params.maxPromptLength ?? Number.POSITIVE_INFINITY))
    return { ok: false, reason: "prompt_too_long" };
  return {
    ok: true,
    value: {
      promptIds: Int32Array.from(promptIds),
      groundTruth: params.row.groundTruth,
      dataset: params.row.dataset,
    },
  };
}
