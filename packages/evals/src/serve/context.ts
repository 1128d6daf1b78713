/**
 * What every route of `posttrain serve` shares: the model and tokenizer, the admission limits,
 * the scheduler, the weight updater, and the two steps of a generating request that do not
 * depend on the route — planning the rows and sampling settings ({@link ServeContext.planSampling})
 * and running them on the scheduler ({@link ServeContext.generate}).
 */
import { Random } from "@posttrain/core";
import type { GenerationTokenizer, PretrainedModel, SamplingParameters } from "@posttrain/engine";
import { type Admission, chatMessageOverheadCharacters } from "./admission.js";
import { ServeRequestError } from "./errors.js";
import type { ChatCompletionRequest, CompletionRequest } from "./request-schema.js";
import type { ContinuousBatchScheduler, SequenceResult, TokenEvent } from "./scheduler.js";
import type { WeightUpdateAccess } from "./weight-access.js";
import type { createWeightUpdater } from "./weight-updates.js";

/** One generated row of a request: prompt `prompt`, choice index `choice`. */
export interface PlannedRow {
  prompt: number;
  choice: number;
  promptTokenIds: number[];
}

/** A request's rows with their shared sampling settings and random stream. */
export interface GenerationPlan {
  maxNewTokens: number;
  sampling: SamplingParameters;
  rows: PlannedRow[];
  base: Random;
  stop: ChatCompletionRequest["stop"];
}

export interface ServeContext {
  model: PretrainedModel;
  tokenizer: GenerationTokenizer;
  servedModelName: string;
  contextLength: number;
  vocabularySize: number;
  admission: Admission;
  access: WeightUpdateAccess;
  scheduler: ContinuousBatchScheduler;
  weights: ReturnType<typeof createWeightUpdater>;
  /** Arrays and objects a JSON body may hold (checked by a byte scan before `JSON.parse`). */
  maxJsonContainers: number;
  /** The next request's stream of the server's `Random` (for requests without a seed). */
  nextRequestRandom(): Random;
  /** 404 unless `name` is the served model. */
  checkModel(name: string): void;
  /** The `/v1/models` entry of the served model. */
  modelCard(): Record<string, unknown>;
  /** Validates lengths and turns the shared sampling fields into engine settings. */
  planSampling(params: {
    body: ChatCompletionRequest | CompletionRequest;
    prompts: number[][];
    defaultMaxTokens: number | null;
  }): GenerationPlan;
  /** Runs every row; streams through `onToken`; rejects on engine failure. */
  generate(params: {
    plan: GenerationPlan;
    topLogProbs: number;
    signal: AbortSignal;
    onToken?: (row: PlannedRow, event: TokenEvent) => void;
    onFinish?: (row: PlannedRow, result: SequenceResult) => void;
  }): Promise<SequenceResult[]>;
}

export function createServeContext(params: {
  model: PretrainedModel;
  tokenizer: GenerationTokenizer;
  servedModelName: string;
  admission: Admission;
  access: WeightUpdateAccess;
  scheduler: ContinuousBatchScheduler;
  weights: ReturnType<typeof createWeightUpdater>;
  seed: number;
}): ServeContext {
  const { model, servedModelName, admission, scheduler } = params;
  const contextLength = model.config.maxPositionEmbeddings;
  const serverRandom = Random.fromSeed(params.seed);
  const created = Math.floor(Date.now() / 1000);
  let requestCounter = 0;
  const nextRequestRandom = () => {
    requestCounter += 1;
    return serverRandom.stream(`request ${requestCounter}`);
  };
  return {
    ...params,
    contextLength,
    vocabularySize: model.config.vocab_size,
    /**
     * 4 per admissible row (a prompt's id list, its sampling object, its stop list, one spare)
     * and 4 per chat message the prompt limit admits (the message, its content parts).
     */
    maxJsonContainers:
      4 * admission.limits.maxPendingRows +
      4 * Math.ceil(admission.limits.maxPromptCharacters / chatMessageOverheadCharacters) +
      64,
    nextRequestRandom,
    checkModel: (name) => {
      if (name !== servedModelName)
        throw new ServeRequestError({
          code: "serve_model_not_found",
          status: 404,
          type: "not_found_error",
          param: "model",
          message: `The model \`${name}\` does not exist; this server serves \`${servedModelName}\``,
        });
    },
    modelCard: () => ({
      id: servedModelName,
      object: "model",
      created,
      owned_by: "posttrain",
      root: model.directory ?? servedModelName,
      max_model_len: contextLength,
    }),
    planSampling: ({ body, prompts, defaultMaxTokens }) => {
      const longest = Math.max(...prompts.map((prompt) => prompt.length));
      const requested =
        body.max_tokens ?? ("max_completion_tokens" in body ? body.max_completion_tokens : null);
      const maxNewTokens = requested ?? defaultMaxTokens ?? contextLength - longest;
      if (maxNewTokens < 1 || longest + maxNewTokens > contextLength)
        throw new ServeRequestError({
          code: "serve_invalid_request",
          status: 400,
          param: requested === null || requested === undefined ? "messages" : "max_tokens",
          message: `This model's maximum context length is ${contextLength} tokens. However, you requested ${longest + maxNewTokens} tokens (${longest} in the prompt, ${maxNewTokens} for the completion).`,
        });
      const sampling: SamplingParameters = {
        temperature: body.temperature ?? 1,
        ...(body.top_p === null || body.top_p === undefined ? {} : { topP: body.top_p }),
        ...(body.top_k === null || body.top_k === undefined || body.top_k <= 0 ? {} : { topK: body.top_k }),
      };
      const n = body.n ?? 1;
      const rows: PlannedRow[] = prompts.flatMap((promptTokenIds, prompt) =>
        Array.from({ length: n }, (_, index) => ({ prompt, choice: prompt * n + index, promptTokenIds })),
      );
      requestCounter += 1;
      const base =
        body.seed === null || body.seed === undefined
          ? serverRandom.stream(`request ${requestCounter}`)
          : Random.fromSeed(body.seed);
      return { maxNewTokens, sampling, rows, base, stop: body.stop };
    },
    generate: (generation) =>
      Promise.all(
        generation.plan.rows.map(async (row) => {
          const onToken = generation.onToken;
          const result = await scheduler.submit({
            promptTokenIds: row.promptTokenIds,
            sampling: generation.plan.sampling,
            maxNewTokens: generation.plan.maxNewTokens,
            stop: generation.plan.stop,
            random: generation.plan.base.stream(`choice ${row.choice}`),
            topLogProbs: generation.topLogProbs,
            signal: generation.signal,
            ...(onToken === undefined ? {} : { onToken: (event: TokenEvent) => onToken(row, event) }),
          });
          generation.onFinish?.(row, result);
          return result;
        }),
      ),
  };
}
