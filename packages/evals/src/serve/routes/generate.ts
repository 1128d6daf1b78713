/**
 * SGLang's native `POST /generate` on `posttrain serve`: token ids in, token ids (and their
 * sampling log-probs) out — what an RL trainer needs from an external generation server, with
 * no re-tokenisation of the completion.
 *
 * Request (the `GenerateReqInput` fields honoured): `text` (string or list) or `input_ids`
 * (ids or list of id lists); `sampling_params` (one object, or one per prompt) with
 * `max_new_tokens` (default 128, as SGLang), `temperature` (default 1; 0 = greedy), `top_p`,
 * `top_k` (−1 = off), `stop`, `n`, `sampling_seed`; `return_logprob`; `top_logprobs_num`.
 * Penalties other than neutral, `stream`, `ignore_eos` and `logprob_start_len` ≥ 0 are refused
 * (400) rather than silently dropped.
 *
 * Answer: one object per generated sequence — a bare object for a single prompt with `n` = 1,
 * else a list ordered prompt-major (prompt i, sample j at i·n + j):
 * `{ text, output_ids, meta_info: { id, finish_reason: { type: "stop", matched } |
 * { type: "length", length }, prompt_tokens, completion_tokens, cached_tokens: 0,
 * weight_version, output_token_logprobs?: [[logprob, token_id, null], …],
 * output_top_logprobs?: [[[logprob, token_id, null], …], …] } }`. `output_ids` include the
 * EOS token when the sequence stopped on it (as SGLang's do); `text` skips special tokens and
 * is cut before a stop string. Log-probs are under the sampling distribution (the raw model's
 * at temperature 1 without top-k/top-p, and for greedy rows).
 *
 * Seeds: `sampling_seed` s → sample j draws from `Random.fromSeed(s).stream("choice j")`;
 * without one, from the server's stream for the request.
 */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Random } from "@posttrain/core";
import { Random as RandomStreams } from "@posttrain/core";
import type { GenerationTokenizer, SamplingParameters } from "@posttrain/engine";
import { z } from "zod";
import { yieldToEventLoop } from "../admission.js";
import type { ServeContext } from "../context.js";
import { ServeRequestError } from "../errors.js";
import { sendJson } from "../http-io.js";
import { maxChoicesPerRequest, maxTopLogProbs, parseRequestBody } from "../request-schema.js";
import type { ContinuousBatchScheduler, SequenceResult } from "../scheduler.js";
import { generatingRoute, type RouteTable } from "./route.js";

const neutral = (name: string, value: number) =>
  z
    .number()
    .nullish()
    .refine((given) => given === null || given === undefined || given === value, {
      message: `${name} is not supported by the embedded engine (only ${value})`,
    });

/** SGLang's `sampling_params` (the keys this server honours; unknown keys are ignored). */
export const nativeSamplingParamsSchema = z.object({
  max_new_tokens: z.number().int().min(0).nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(-1).nullish(),
  min_p: neutral("min_p", 0),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).nullish(),
  n: z.number().int().min(1).max(maxChoicesPerRequest).nullish(),
  sampling_seed: z.number().int().nullish(),
  frequency_penalty: neutral("frequency_penalty", 0),
  presence_penalty: neutral("presence_penalty", 0),
  repetition_penalty: neutral("repetition_penalty", 1),
  min_new_tokens: neutral("min_new_tokens", 0),
  ignore_eos: z
    .boolean()
    .nullish()
    .refine((value) => value !== true, { message: "ignore_eos is not supported" }),
  skip_special_tokens: z.boolean().nullish(),
});

const tokenIds = z.array(z.number().int().min(0)).min(1);

/** `POST /generate` (SGLang's `GenerateReqInput`, the fields this server honours). */
export const nativeGenerateRequestSchema = z
  .object({
    text: z.union([z.string(), z.array(z.string()).min(1)]).nullish(),
    input_ids: z.union([tokenIds, z.array(tokenIds).min(1)]).nullish(),
    sampling_params: z.union([nativeSamplingParamsSchema, z.array(nativeSamplingParamsSchema)]).nullish(),
    return_logprob: z.boolean().nullish(),
    logprob_start_len: z
      .number()
      .int()
      .nullish()
      .refine((value) => value === null || value === undefined || value === -1, {
        message: "prompt log-probs are not supported (logprob_start_len must be -1)",
      }),
    top_logprobs_num: z.number().int().min(0).max(maxTopLogProbs).nullish(),
    stream: z
      .boolean()
      .nullish()
      .refine((value) => value !== true, { message: "streaming is not supported on /generate" }),
    rid: z.unknown().optional(),
  })
  .refine((request) => (request.text == null) !== (request.input_ids == null), {
    message: "exactly one of text and input_ids is required",
    path: ["input_ids"],
  });
export type NativeGenerateRequest = z.output<typeof nativeGenerateRequestSchema>;
type NativeSamplingParams = z.output<typeof nativeSamplingParamsSchema>;

const invalid = (message: string, param: string) =>
  new ServeRequestError({ code: "serve_invalid_request", status: 400, message, param });

/**
 * The prompts of a request as token ids, and whether it was a single prompt. Texts are encoded
 * one at a time with a yield to the event loop before each (their length is checked before,
 * see admission.ts).
 */
async function promptsOf(params: {
  request: NativeGenerateRequest;
  tokenizer: GenerationTokenizer;
  vocabularySize: number;
}): Promise<{ prompts: number[][]; single: boolean }> {
  const { request, tokenizer } = params;
  if (request.input_ids != null) {
    const single = typeof request.input_ids[0] === "number";
    const prompts = single ? [request.input_ids as number[]] : (request.input_ids as number[][]);
    prompts.forEach((prompt, index) => {
      const bad = prompt.find((id) => id >= params.vocabularySize);
      if (bad !== undefined)
        throw invalid(
          `token id ${bad} is outside the vocabulary (size ${params.vocabularySize})`,
          single ? "input_ids" : `input_ids[${index}]`,
        );
    });
    return { prompts: prompts.map((prompt) => [...prompt]), single };
  }
  const texts = typeof request.text === "string" ? [request.text] : (request.text as string[]);
  const prompts: number[][] = [];
  for (const [index, text] of texts.entries()) {
    if (texts.length > 1) await yieldToEventLoop();
    const ids = tokenizer.encode(text, { addSpecialTokens: true });
    if (ids.length === 0) throw invalid("the prompt encodes to no tokens", `text[${index}]`);
    prompts.push(ids);
  }
  return { prompts, single: typeof request.text === "string" };
}

const finishReason = (result: SequenceResult, eos: (tokenId: number) => boolean) => {
  if (result.finishReason === "length") return { type: "length", length: result.tokenIds.length };
  const last = result.tokenIds.at(-1);
  return { type: "stop", matched: last !== undefined && eos(last) ? last : null };
};

export function createNativeGenerateHandler(params: {
  scheduler: ContinuousBatchScheduler;
  tokenizer: GenerationTokenizer;
  contextLength: number;
  vocabularySize: number;
  eosTokenIds: readonly number[];
  /** The server's stream for requests without `sampling_seed` (one named stream per request). */
  requestRandom: () => Random;
  weightVersion: () => string;
}) {
  const { scheduler, tokenizer } = params;
  const eos = new Set(params.eosTokenIds);
  return async (body: unknown, response: ServerResponse, signal: AbortSignal): Promise<void> => {
    const request = parseRequestBody({
      schema: nativeGenerateRequestSchema,
      value: body,
      label: "generate request",
    });
    const { prompts, single } = await promptsOf({
      request,
      tokenizer,
      vocabularySize: params.vocabularySize,
    });
    const samplingList = Array.isArray(request.sampling_params)
      ? request.sampling_params
      : prompts.map(() => (request.sampling_params ?? {}) as NativeSamplingParams);
    if (samplingList.length !== prompts.length)
      throw invalid(
        `sampling_params has ${samplingList.length} entries for ${prompts.length} prompts`,
        "sampling_params",
      );
    const serverRandom = params.requestRandom();
    const rows = prompts.flatMap((prompt, promptIndex) => {
      const sampling = samplingList[promptIndex]!;
      const maxNewTokens = sampling.max_new_tokens ?? 128;
      if (prompt.length + maxNewTokens > params.contextLength)
        throw invalid(
          `prompt ${promptIndex} has ${prompt.length} tokens; with max_new_tokens ${maxNewTokens} it exceeds the context of ${params.contextLength}`,
          "sampling_params.max_new_tokens",
        );
      const engineSampling: SamplingParameters = {
        temperature: sampling.temperature ?? 1,
        ...(sampling.top_p == null ? {} : { topP: sampling.top_p }),
        ...(sampling.top_k == null || sampling.top_k <= 0 ? {} : { topK: sampling.top_k }),
      };
      const base =
        sampling.sampling_seed == null
          ? serverRandom.stream(`prompt ${promptIndex}`)
          : RandomStreams.fromSeed(sampling.sampling_seed);
      const stop =
        sampling.stop == null ? [] : typeof sampling.stop === "string" ? [sampling.stop] : sampling.stop;
      return Array.from({ length: sampling.n ?? 1 }, (_, choice) => ({
        prompt,
        maxNewTokens,
        sampling: engineSampling,
        stop,
        random: base.stream(`choice ${choice}`),
      }));
    });
    const topLogProbs = request.return_logprob === true ? (request.top_logprobs_num ?? 0) : 0;
    const results = await Promise.all(
      rows.map((row) =>
        scheduler.submit({
          promptTokenIds: row.prompt,
          sampling: row.sampling,
          maxNewTokens: row.maxNewTokens,
          stop: row.stop,
          random: row.random,
          topLogProbs,
          signal,
        }),
      ),
    );
    if (signal.aborted) return;
    const weightVersion = params.weightVersion();
    const answers = results.map((result, index) => {
      const row = rows[index]!;
      const meta: Record<string, unknown> = {
        id: randomUUID().replaceAll("-", ""),
        finish_reason: finishReason(result, (tokenId) => eos.has(tokenId)),
        prompt_tokens: row.prompt.length,
        completion_tokens: result.tokenIds.length,
        cached_tokens: 0,
        weight_version: weightVersion,
      };
      if (request.return_logprob === true) {
        meta["output_token_logprobs"] = result.tokenIds.map((tokenId, position) => [
          result.logProbs[position]!,
          tokenId,
          null,
        ]);
        if (topLogProbs > 0)
          meta["output_top_logprobs"] = result.alternatives.map((alternatives) =>
            alternatives.map((alternative) => [alternative.logProb, alternative.tokenId, null]),
          );
      }
      return { text: result.text, output_ids: result.tokenIds, meta_info: meta };
    });
    sendJson(response, 200, single && answers.length === 1 ? answers[0] : answers);
  };
}

/** SGLang's native `POST /generate` route. */
export function generateRoutes(context: ServeContext): RouteTable {
  return {
    "/generate": generatingRoute({
      context,
      route: "generate",
      promptParam: (body) =>
        typeof body === "object" && body !== null && "input_ids" in body && body.input_ids != null
          ? "input_ids"
          : "text",
      handle: createNativeGenerateHandler({
        scheduler: context.scheduler,
        tokenizer: context.tokenizer,
        contextLength: context.contextLength,
        vocabularySize: context.vocabularySize,
        eosTokenIds: [...context.tokenizer.eosTokenIds, ...context.model.config.eosTokenIds],
        requestRandom: context.nextRequestRandom,
        weightVersion: () => context.weights.weightVersion,
      }),
    }),
  };
}
