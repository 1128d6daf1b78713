/**
 * SGLang's native API, as the remote backend uses it.
 *
 * Generation — `POST /generate` with `input_ids` (one list per sequence: a request's prompt
 * repeated once per sample, so every sample has its own seed), `sampling_params` (one object per
 * sequence: `max_new_tokens`, `temperature`, `top_p`, `top_k`, `stop`, `n: 1`,
 * `sampling_seed`) and `return_logprob`. The answer is a list, one object per sequence:
 * `{ text, output_ids, meta_info: { finish_reason: { type: "stop" | "length" | "abort", … },
 * output_token_logprobs: [[logprob, token_id, text | null], …], weight_version?, … } }`.
 * `output_ids` are the completion's token ids (the EOS it stopped on included).
 * `sampling_seed` is a sampling parameter of recent SGLang releases (it makes sampling
 * reproducible; older releases reject unknown sampling parameters, so `sendSamplingSeed:
 * false` leaves it out).
 *
 * Weights — `POST /update_weights_from_disk` `{ model_path, weight_version }` loads a model
 * folder of the same architecture (config.json + safetensors) and answers
 * `{ success, message, num_paused_requests }` (400 with `success: false` when it cannot).
 * It waits for running requests, so the next rollout generates with the new weights.
 */
import { type Completion, type GenerationRequest, Random } from "@posttrain/core";
import { z } from "zod";
import { RemoteGenerationError } from "./errors.js";
import { authorizationHint, type HttpClientOptions, parseAnswer, request } from "./http.js";

const logProbEntry = z.tuple([z.number().nullable(), z.number().int().nonnegative()]).rest(z.unknown());

/** One sequence of a `/generate` answer (the fields the backend reads; others are allowed). */
export const sglangSequenceSchema = z.looseObject({
  text: z.string(),
  output_ids: z.array(z.number().int().nonnegative()),
  meta_info: z.looseObject({
    finish_reason: z.looseObject({ type: z.enum(["stop", "length", "abort"]) }).nullable(),
    output_token_logprobs: z.array(logProbEntry).nullish(),
    weight_version: z.string().nullish(),
  }),
});

/** A `/generate` answer: a list for a batch, one object for a single sequence (read as a list of one). */
export const sglangGenerateAnswerSchema = z.preprocess(
  (value) => (Array.isArray(value) ? value : [value]),
  z.array(sglangSequenceSchema),
);

/** `/update_weights_from_disk`'s answer. */
export const sglangUpdateAnswerSchema = z.looseObject({
  success: z.boolean(),
  message: z.string(),
  num_paused_requests: z.number().int().nullish(),
});

/** The `/generate` body for one request (its prompt repeated once per sample). */
export function sglangGenerateBody(params: {
  request: GenerationRequest;
  requestIndex: number;
  promptTokenIds: readonly number[];
  sendSamplingSeed: boolean;
}): Record<string, unknown> {
  const { sampling } = params.request;
  const samples = params.request.samples ?? 1;
  const seeds =
    sampling.seed === undefined || sampling.temperature === 0
      ? null
      : Random.fromSeed(sampling.seed).stream(`request ${params.requestIndex}`);
  return {
    input_ids: Array.from({ length: samples }, () => [...params.promptTokenIds]),
    sampling_params: Array.from({ length: samples }, (_, sample) => ({
      max_new_tokens: sampling.maxNewTokens,
      temperature: sampling.temperature,
      n: 1,
      ...(sampling.topP === undefined ? {} : { top_p: sampling.topP }),
      ...(sampling.topK === undefined ? {} : { top_k: sampling.topK }),
      ...(sampling.stop === undefined || sampling.stop.length === 0 ? {} : { stop: sampling.stop }),
      ...(seeds === null || !params.sendSamplingSeed
        ? {}
        : { sampling_seed: seeds.stream(`sample ${sample}`).nextUint32() }),
    })),
    return_logprob: sampling.logprobs === true,
  };
}

/** Completions of a `/generate` answer (validated: one per sample, ids and log-probs aligned). */
export function sglangCompletions(params: {
  answer: z.output<typeof sglangGenerateAnswerSchema>;
  samples: number;
  logprobs: boolean;
}): Completion[] {
  const sequences = params.answer;
  if (sequences.length !== params.samples)
    throw new RemoteGenerationError({
      code: "remote_generation_invalid_response",
      message: `/generate: expected ${params.samples} sequences, got ${sequences.length}`,
    });
  return sequences.map((sequence, index) => {
    const reason = sequence.meta_info.finish_reason?.type ?? "length";
    if (reason === "abort")
      throw new RemoteGenerationError({
        code: "remote_generation_invalid_response",
        message: `/generate: sequence ${index} was aborted by the server`,
        details: { finishReason: sequence.meta_info.finish_reason },
      });
    let logprobs: number[] | null = null;
    if (params.logprobs) {
      const entries = sequence.meta_info.output_token_logprobs;
      if (entries == null || entries.length !== sequence.output_ids.length)
        throw new RemoteGenerationError({
          code: "remote_generation_invalid_response",
          message: `/generate: sequence ${index} has ${entries?.length ?? "no"} output_token_logprobs for ${sequence.output_ids.length} output_ids`,
        });
      entries.forEach((entry, position) => {
        if (entry[1] !== sequence.output_ids[position])
          throw new RemoteGenerationError({
            code: "remote_generation_invalid_response",
            message: `/generate: sequence ${index}, token ${position}: output_token_logprobs names id ${entry[1]}, output_ids ${sequence.output_ids[position]}`,
          });
      });
      logprobs = entries.map((entry) => entry[0] ?? Number.NEGATIVE_INFINITY);
    }
    return {
      text: sequence.text,
      tokenIds: [...sequence.output_ids],
      logprobs,
      finishReason: reason,
    };
  });
}

/** One request's completions from `/generate`. */
export async function sglangGenerate(params: {
  client: HttpClientOptions;
  request: GenerationRequest;
  requestIndex: number;
  promptTokenIds: readonly number[];
  sendSamplingSeed: boolean;
  signal?: AbortSignal;
}): Promise<Completion[]> {
  const answer = await request({
    client: params.client,
    method: "POST",
    path: "/generate",
    body: sglangGenerateBody(params),
    ...(params.signal === undefined ? {} : { signal: params.signal }),
  });
  if (answer.status !== 200)
    throw new RemoteGenerationError({
      code: "remote_generation_status",
      message: `POST /generate: HTTP ${answer.status}: ${answer.text.slice(0, 300)}`,
      details: { status: answer.status, body: answer.text.slice(0, 2000) },
    });
  return sglangCompletions({
    answer: parseAnswer({ answer, schema: sglangGenerateAnswerSchema, label: "SGLang /generate answer" }),
    samples: params.request.samples ?? 1,
    logprobs: params.request.sampling.logprobs === true,
  });
}

/** Loads `modelPath` (as the server sees it) with `/update_weights_from_disk`; returns its message. */
export async function sglangUpdateWeights(params: {
  client: HttpClientOptions;
  modelPath: string;
  weightVersion: string;
  signal?: AbortSignal;
}): Promise<string> {
  const answer = await request({
    client: params.client,
    method: "POST",
    path: "/update_weights_from_disk",
    body: { model_path: params.modelPath, weight_version: params.weightVersion },
    ...(params.signal === undefined ? {} : { signal: params.signal }),
  });
  if (answer.status !== 200 && answer.status !== 400)
    throw new RemoteGenerationError({
      code: "remote_generation_status",
      message: `POST /update_weights_from_disk: HTTP ${answer.status}: ${answer.text.slice(0, 300)}${authorizationHint(answer.status)}`,
      details: { status: answer.status, body: answer.text.slice(0, 2000) },
    });
  const parsed = parseAnswer({
    answer,
    schema: sglangUpdateAnswerSchema,
    label: "SGLang /update_weights_from_disk answer",
  });
  if (!parsed.success || answer.status !== 200)
    throw new RemoteGenerationError({
      code: "remote_generation_weight_update_failed",
      message: `SGLang did not load ${params.modelPath}: ${parsed.message}`,
      details: { status: answer.status, modelPath: params.modelPath },
    });
  return parsed.message;
}
