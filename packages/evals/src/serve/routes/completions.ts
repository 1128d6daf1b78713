/** `POST /v1/completions` (OpenAI legacy completions; streamed as `text_completion` chunks). */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ServeContext } from "../context.js";
import { ServeRequestError } from "../errors.js";
import { completionPromptTokenIds } from "../prompts.js";
import { completionRequestSchema, parseRequestBody } from "../request-schema.js";
import { completionTokensOf, respondWithGeneration } from "../responder.js";
import { completionLogProbs, finishReasonOf, usageOf } from "../responses.js";
import type { SequenceResult } from "../scheduler.js";
import { generatingRoute, type RouteTable } from "./route.js";

export function completionRoutes(context: ServeContext): RouteTable {
  const { tokenizer, servedModelName, vocabularySize } = context;
  const handle = async (body: unknown, response: ServerResponse, signal: AbortSignal) => {
    const request = parseRequestBody({
      schema: completionRequestSchema,
      value: body,
      label: "completion request",
    });
    context.checkModel(request.model);
    if (request.best_of !== null && request.best_of !== undefined && request.best_of !== (request.n ?? 1))
      throw new ServeRequestError({
        code: "serve_invalid_request",
        status: 400,
        param: "best_of",
        message: "best_of other than n is not supported",
      });
    const prompts = await completionPromptTokenIds({ request, tokenizer, vocabularySize });
    const plan = context.planSampling({ body: request, prompts, defaultMaxTokens: 16 });
    const withLogProbs = request.logprobs !== null && request.logprobs !== undefined;
    const topLogProbs = request.logprobs ?? 0;
    const promptTokens = prompts.reduce((sum, prompt) => sum + prompt.length, 0);
    const header = {
      id: `cmpl-${randomUUID().replaceAll("-", "")}`,
      object: "text_completion",
      created: Math.floor(Date.now() / 1000),
      model: servedModelName,
    };
    const usage = (results: readonly SequenceResult[]) =>
      usageOf({ promptTokens, completionTokens: completionTokensOf(results) });
    /** Characters streamed so far per choice: the next token's `text_offset`. */
    const offsets = new Map<number, number>();
    await respondWithGeneration({
      context,
      response,
      signal,
      plan,
      topLogProbs,
      stream: request.stream === true,
      reply: {
        sendsEmptyTokens: withLogProbs,
        tokenChunk: (row, event) => {
          const offset = offsets.get(row.choice) ?? 0;
          offsets.set(row.choice, offset + event.textDelta.length);
          return {
            ...header,
            choices: [
              {
                index: row.choice,
                text: event.textDelta,
                logprobs: withLogProbs
                  ? completionLogProbs({
                      tokenizer,
                      tokenIds: [event.tokenId],
                      logProbs: [event.logProb],
                      alternatives: [event.alternatives],
                      textOffset: offset,
                      withAlternatives: topLogProbs > 0,
                    })
                  : null,
                finish_reason: null,
              },
            ],
          };
        },
        finishChunk: (row, result) => ({
          ...header,
          choices: [{ index: row.choice, text: "", logprobs: null, finish_reason: finishReasonOf(result) }],
        }),
        usageChunk: (results) =>
          request.stream_options?.include_usage === true
            ? { ...header, choices: [], usage: usage(results) }
            : undefined,
        complete: (results) => ({
          id: header.id,
          object: "text_completion",
          created: header.created,
          model: servedModelName,
          choices: results.map((result, index) => ({
            index,
            text: result.text,
            ...(request.return_token_ids === true
              ? { token_ids: result.tokenIds, prompt_token_ids: plan.rows[index]!.promptTokenIds }
              : {}),
            logprobs: withLogProbs
              ? completionLogProbs({
                  tokenizer,
                  tokenIds: result.tokenIds,
                  logProbs: result.logProbs,
                  alternatives: result.alternatives,
                  textOffset: 0,
                  withAlternatives: topLogProbs > 0,
                })
              : null,
            finish_reason: finishReasonOf(result),
          })),
          usage: usage(results),
        }),
      },
    });
  };
  return {
    "/v1/completions": generatingRoute({ context, route: "completions", promptParam: "prompt", handle }),
  };
}
