/**
 * The embedded implementation of core's {@link GenerationBackend}: requests (text, chat or
 * token prompts; n samples each) become rows of {@link generateTokens} batches of at most
 * `maxBatchSize`, grouped by prompt length to limit padding.
 *
 * - text prompts are encoded with the tokenizer's special tokens (BOS where the tokenizer
 *   adds one); chat prompts are rendered by the chat template with the generation prompt,
 *   `assistantPrefix` appended, and encoded without special tokens (as transformers does);
 * - sample j of request i draws from `Random.fromSeed(seed).stream("request i").stream("sample j")`
 *   (seed defaults to 0), so results do not depend on batching;
 * - `Completion.logprobs` are the log-probs under the sampling distribution (equal to the raw
 *   model log-probs at temperature 1 without top-k/top-p, and for greedy decoding);
 * - generation ends at the tokenizer's EOS ids plus the model config's;
 * - parameters are read from `model.parameters` at every step, so an RLVR trainer that updates
 *   them (in place, or by assigning a buffer of the same layout) needs no new backend.
 */
import {
  type Completion,
  type ContinuationRequest,
  type GenerationBackend,
  type GenerationRequest,
  Random,
} from "@posttrain/core";
import { modelHash, type PretrainedModel } from "../model/pretrained.js";
import type { ExecutionProvider } from "../runtime.js";
import { type CompletionRow, computeCompletionLogProbs } from "./completion-log-probs.js";
import { DecodingSession } from "./decoding-session.js";
import { type GenerationRow, generateTokens } from "./generate.js";
import type { GenerationTokenizer } from "./tokenizer.js";

export interface EmbeddedGenerationBackendOptions {
  model: PretrainedModel;
  tokenizer: GenerationTokenizer;
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** Rows per decode batch (default 16). */
  maxBatchSize?: number;
  executionProvider?: ExecutionProvider;
}

/** Token ids of a request's prompt. */
export function promptTokenIds(params: {
  request: GenerationRequest;
  tokenizer: GenerationTokenizer;
}): number[] {
  const { request, tokenizer } = params;
  const prompt = request.prompt;
  if (prompt.kind === "tokens") return [...prompt.tokenIds];
  if (prompt.kind === "text") return tokenizer.encode(prompt.text, { addSpecialTokens: true });
  const rendered = tokenizer.applyChatTemplate({ messages: prompt.messages, addGenerationPrompt: true });
  return tokenizer.encode(rendered + (prompt.assistantPrefix ?? ""), { addSpecialTokens: false });
}

/**
 * Prompt and continuation token ids of a scoring request. An `assistant` continuation of a
 * chat prompt is tokenized as DPO's preference rows are: the whole conversation (prompt
 * turns + the assistant turn) rendered by the chat template and encoded at once, the prompt
 * being its common prefix with the rendered prompt — so the continuation carries the
 * template's end-of-turn tokens, and a merge across the boundary is not split.
 */
export function continuationTokenIds(params: {
  request: ContinuationRequest;
  tokenizer: GenerationTokenizer;
}): CompletionRow {
  const { request, tokenizer } = params;
  const promptIds = promptTokenIds({
    request: { prompt: request.prompt, sampling: { temperature: 0, maxNewTokens: 1 } },
    tokenizer,
  });
  const continuation = request.continuation;
  if (continuation.kind === "text") {
    return {
      promptTokenIds: promptIds,
      completionTokenIds: tokenizer.encode(continuation.text, { addSpecialTokens: false }),
    };
  }
  if (request.prompt.kind !== "chat" || request.prompt.assistantPrefix !== undefined)
    throw new RangeError("an assistant continuation needs a chat prompt without an assistant prefix");
  const rendered = tokenizer.applyChatTemplate({
    messages: [...request.prompt.messages, { role: "assistant", content: continuation.content }],
    addGenerationPrompt: false,
  });
  const whole = tokenizer.encode(rendered, { addSpecialTokens: false });
  let shared = 0;
  while (shared < promptIds.length && whole[shared] === promptIds[shared]) shared += 1;
  return { promptTokenIds: whole.slice(0, shared), completionTokenIds: whole.slice(shared) };
}

export function createEmbeddedGenerationBackend(
  options: EmbeddedGenerationBackendOptions,
): GenerationBackend {
  const { model, tokenizer } = options;
  const maxBatchSize = options.maxBatchSize ?? 16;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1)
    throw new RangeError("maxBatchSize must be a positive integer");
  let session: Promise<DecodingSession> | undefined;
  const eosTokenIds = [...new Set([...tokenizer.eosTokenIds, ...model.config.eosTokenIds])];
  return {
    describe() {
      // Hashed at every call: a trainer may have updated the parameters since.
      const hash = modelHash(model);
      return { kind: "embedded", model: model.directory ?? "(initialised in memory)", modelHash: hash };
    },
    async generate(params) {
      session ??= DecodingSession.create({
        model,
        ...(options.threads === undefined ? {} : { threads: options.threads }),
        ...(options.executionProvider === undefined ? {} : { executionProvider: options.executionProvider }),
      });
      const decoding = await session;
      const rows: (GenerationRow & { request: number; sample: number })[] = [];
      params.requests.forEach((request, requestIndex) => {
        const prompt = promptTokenIds({ request, tokenizer });
        const samples = request.samples ?? 1;
        const s = request.sampling;
        for (let sample = 0; sample < samples; sample += 1) {
          rows.push({
            request: requestIndex,
            sample,
            promptTokenIds: prompt,
            sampling: {
              temperature: s.temperature,
              ...(s.topP === undefined ? {} : { topP: s.topP }),
              ...(s.topK === undefined ? {} : { topK: s.topK }),
            },
            maxNewTokens: s.maxNewTokens,
            ...(s.stop === undefined ? {} : { stop: s.stop }),
            random: Random.fromSeed(s.seed ?? 0)
              .stream(`request ${requestIndex}`)
              .stream(`sample ${sample}`),
          });
        }
      });
      const results: Completion[][] = params.requests.map((request) =>
        Array.from({ length: request.samples ?? 1 }),
      );
      const order = rows
        .map((_, index) => index)
        .sort((a, b) => rows[b]!.promptTokenIds.length - rows[a]!.promptTokenIds.length);
      const remaining = params.requests.map((request) => request.samples ?? 1);
      let completedRequests = 0;
      let generatedTokens = 0;
      for (let start = 0; start < order.length; start += maxBatchSize) {
        const batch = order.slice(start, start + maxBatchSize).map((index) => rows[index]!);
        const generated = await generateTokens({
          session: decoding,
          rows: batch,
          eosTokenIds,
          tokenizer,
          ...(params.signal === undefined ? {} : { signal: params.signal }),
          onStep: (count) => {
            generatedTokens += count;
          },
        });
        generated.forEach((sequence, index) => {
          const row = batch[index]!;
          results[row.request]![row.sample] = {
            text: sequence.text ?? "",
            tokenIds: sequence.tokenIds,
            logprobs:
              params.requests[row.request]!.sampling.logprobs === true ? sequence.samplingLogProbs : null,
            finishReason: sequence.finishReason,
          };
          remaining[row.request]! -= 1;
          if (remaining[row.request] === 0) completedRequests += 1;
        });
        params.onProgress?.({ completedRequests, totalRequests: params.requests.length, generatedTokens });
      }
      return results;
    },
    async scoreContinuations(params) {
      const rows = params.requests.map((request) => continuationTokenIds({ request, tokenizer }));
      for (const [index, row] of rows.entries())
        if (row.promptTokenIds.length === 0 || row.completionTokenIds.length === 0)
          throw new RangeError(`request ${index}: the prompt and the continuation each need a token`);
      const scores = [];
      for (let start = 0; start < rows.length; start += maxBatchSize) {
        params.signal?.throwIfAborted();
        const batch = rows.slice(start, start + maxBatchSize);
        const logProbs = await computeCompletionLogProbs({
          model,
          batch,
          ...(options.threads === undefined ? {} : { threads: options.threads }),
          ...(options.executionProvider === undefined
            ? {}
            : { executionProvider: options.executionProvider }),
        });
        for (const [index, result] of logProbs.entries())
          scores.push({ logProbability: result.sum, tokenCount: batch[index]!.completionTokenIds.length });
      }
      return scores;
    },
    async close() {
      session = undefined;
    },
  };
}
