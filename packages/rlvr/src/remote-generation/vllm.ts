/**
 * vLLM's OpenAI-compatible server, as the remote backend uses it.
 *
 * Generation — `POST /v1/completions` per request: `prompt` = the prompt's token ids, `n` =
 * samples, `max_tokens`, `temperature`, `top_p`, `top_k`, `stop`, `seed`, `logprobs: 0` (the
 * sampled token's log-prob only) and `return_token_ids: true` (vLLM ≥ 0.10.2), which adds
 * `token_ids` (the completion's ids) and `prompt_token_ids` to each choice; the sampled
 * log-probs are `choices[i].logprobs.token_logprobs`. Older vLLM releases answer without
 * `token_ids`: that is a `remote_generation_invalid_response` naming the field.
 *
 * Weights — vLLM cannot load weights from another path outside LoRA. In dev mode
 * (`VLLM_SERVER_DEV_MODE=1`) `POST /collective_rpc` `{ "method": "reload_weights" }` makes every
 * worker re-read the folder the server was started on (the trainer overwrote its files), and
 * `POST /reset_prefix_cache` drops KV blocks computed with the old weights.
 */
import { type Completion, type GenerationRequest, Random } from "@posttrain/core";
import { z } from "zod";
import { RemoteGenerationError } from "./errors.js";
import { authorizationHint, expectSuccess, type HttpClientOptions, parseAnswer, request } from "./http.js";

export const vllmCompletionAnswerSchema = z.looseObject({
  choices: z.array(
    z.looseObject({
      index: z.number().int().nonnegative(),
      text: z.string(),
      token_ids: z.array(z.number().int().nonnegative()),
      finish_reason: z.string().nullable(),
      logprobs: z.looseObject({ token_logprobs: z.array(z.number().nullable()) }).nullish(),
    }),
  ),
});

export const vllmModelsAnswerSchema = z.looseObject({
  data: z.array(z.looseObject({ id: z.string() })).min(1),
});

export function vllmCompletionBody(params: {
  request: GenerationRequest;
  requestIndex: number;
  promptTokenIds: readonly number[];
  model: string;
}): Record<string, unknown> {
  const { sampling } = params.request;
  return {
    model: params.model,
    prompt: [...params.promptTokenIds],
    n: params.request.samples ?? 1,
    max_tokens: sampling.maxNewTokens,
    temperature: sampling.temperature,
    ...(sampling.topP === undefined ? {} : { top_p: sampling.topP }),
    ...(sampling.topK === undefined ? {} : { top_k: sampling.topK }),
    ...(sampling.stop === undefined || sampling.stop.length === 0 ? {} : { stop: sampling.stop }),
    ...(sampling.seed === undefined || sampling.temperature === 0
      ? {}
      : { seed: Random.fromSeed(sampling.seed).stream(`request ${params.requestIndex}`).nextUint32() }),
    ...(sampling.logprobs === true ? { logprobs: 0 } : {}),
    return_token_ids: true,
  };
}

export function vllmCompletions(params: {
  answer: z.output<typeof vllmCompletionAnswerSchema>;
  samples: number;
  logprobs: boolean;
}): Completion[] {
  const choices = [...params.answer.choices].sort((left, right) => left.index - right.index);
  if (choices.length !== params.samples)
    throw new RemoteGenerationError({
      code: "remote_generation_invalid_response",
      message: `/v1/completions: expected ${params.samples} choices, got ${choices.length}`,
    });
  return choices.map((choice) => {
    if (choice.finish_reason === "abort")
      throw new RemoteGenerationError({
        code: "remote_generation_invalid_response",
        message: `/v1/completions: choice ${choice.index} was aborted by the server`,
      });
    let logprobs: number[] | null = null;
    if (params.logprobs) {
      const values = choice.logprobs?.token_logprobs;
      if (values == null || values.length !== choice.token_ids.length)
        throw new RemoteGenerationError({
          code: "remote_generation_invalid_response",
          message: `/v1/completions: choice ${choice.index} has ${values?.length ?? "no"} token_logprobs for ${choice.token_ids.length} token_ids`,
        });
      logprobs = values.map((value) => value ?? Number.NEGATIVE_INFINITY);
    }
    return {
      text: choice.text,
      tokenIds: [...choice.token_ids],
      logprobs,
      finishReason: choice.finish_reason === "length" ? "length" : "stop",
    };
  });
}

export async function vllmGenerate(params: {
  client: HttpClientOptions;
  request: GenerationRequest;
  requestIndex: number;
  promptTokenIds: readonly number[];
  model: string;
  signal?: AbortSignal;
}): Promise<Completion[]> {
  const answer = await request({
    client: params.client,
    method: "POST",
    path: "/v1/completions",
    body: vllmCompletionBody(params),
    ...(params.signal === undefined ? {} : { signal: params.signal }),
  });
  expectSuccess({ answer, label: "POST /v1/completions" });
  return vllmCompletions({
    answer: parseAnswer({
      answer,
      schema: vllmCompletionAnswerSchema,
      label: "vLLM /v1/completions answer (return_token_ids needs vLLM ≥ 0.10.2)",
    }),
    samples: params.request.samples ?? 1,
    logprobs: params.request.sampling.logprobs === true,
  });
}

/** The first served model id (`GET /v1/models`). */
export async function vllmServedModel(params: { client: HttpClientOptions }): Promise<string> {
  const answer = await request({ client: params.client, method: "GET", path: "/v1/models" });
  expectSuccess({ answer, label: "GET /v1/models" });
  return parseAnswer({ answer, schema: vllmModelsAnswerSchema, label: "vLLM /v1/models answer" }).data[0]!.id;
}

/** Re-reads the served folder on every worker, then drops the prefix cache. */
export async function vllmReloadWeights(params: {
  client: HttpClientOptions;
  signal?: AbortSignal;
}): Promise<string> {
  const signal = params.signal === undefined ? {} : { signal: params.signal };
  const reload = await request({
    client: params.client,
    method: "POST",
    path: "/collective_rpc",
    body: { method: "reload_weights" },
    ...signal,
  });
  if (reload.status !== 200)
    throw new RemoteGenerationError({
      code: "remote_generation_weight_update_failed",
      message: `vLLM reload_weights: HTTP ${reload.status}: ${reload.text.slice(0, 300)}${authorizationHint(reload.status) || " (the server needs VLLM_SERVER_DEV_MODE=1)"}`,
      details: { status: reload.status, body: reload.text.slice(0, 2000) },
    });
  const reset = await request({
    client: params.client,
    method: "POST",
    path: "/reset_prefix_cache",
    ...signal,
  });
  expectSuccess({ answer: reset, label: "POST /reset_prefix_cache" });
  return "reloaded the served folder";
}
