/** `POST /v1/chat/completions` (OpenAI chat completions; streamed as `chat.completion.chunk`). */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ServeContext } from "../context.js";
import { chatPromptTokenIds } from "../prompts.js";
import { chatCompletionRequestSchema, parseRequestBody } from "../request-schema.js";
import { completionTokensOf, respondWithGeneration } from "../responder.js";
import { chatLogProbContent, finishReasonOf, usageOf } from "../responses.js";
import { generatingRoute, type RouteTable } from "./route.js";

export function chatRoutes(context: ServeContext): RouteTable {
  const { tokenizer, servedModelName } = context;
  const handle = async (body: unknown, response: ServerResponse, signal: AbortSignal) => {
    const request = parseRequestBody({
      schema: chatCompletionRequestSchema,
      value: body,
      label: "chat completion request",
    });
    context.checkModel(request.model);
    const prompt = chatPromptTokenIds({
      request,
      tokenizer,
      checkRendered: (characters) => context.admission.checkRendered({ characters, promptParam: "messages" }),
    });
    const plan = context.planSampling({ body: request, prompts: [prompt], defaultMaxTokens: null });
    const withLogProbs = request.logprobs === true;
    const topLogProbs = withLogProbs ? (request.top_logprobs ?? 0) : 0;
    const header = {
      id: `chatcmpl-${randomUUID().replaceAll("-", "")}`,
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model: servedModelName,
    };
    const usage = (results: Parameters<typeof completionTokensOf>[0]) =>
      usageOf({ promptTokens: prompt.length, completionTokens: completionTokensOf(results) });
    await respondWithGeneration({
      context,
      response,
      signal,
      plan,
      topLogProbs,
      stream: request.stream === true,
      reply: {
        sendsEmptyTokens: withLogProbs,
        openingChunks: (rows) =>
          rows.map((row) => ({
            ...header,
            choices: [
              {
                index: row.choice,
                delta: { role: "assistant", content: "" },
                logprobs: null,
                finish_reason: null,
              },
            ],
          })),
        tokenChunk: (row, event) => ({
          ...header,
          choices: [
            {
              index: row.choice,
              delta: { content: event.textDelta },
              logprobs: withLogProbs
                ? {
                    content: chatLogProbContent({
                      tokenizer,
                      tokenIds: [event.tokenId],
                      logProbs: [event.logProb],
                      alternatives: [event.alternatives],
                    }),
                  }
                : null,
              finish_reason: null,
            },
          ],
        }),
        finishChunk: (row, result) => ({
          ...header,
          choices: [{ index: row.choice, delta: {}, logprobs: null, finish_reason: finishReasonOf(result) }],
        }),
        usageChunk: (results) =>
          request.stream_options?.include_usage === true
            ? { ...header, choices: [], usage: usage(results) }
            : undefined,
        complete: (results) => ({
          id: header.id,
          object: "chat.completion",
          created: header.created,
          model: servedModelName,
          choices: results.map((result, index) => ({
            index,
            message: { role: "assistant", content: result.text },
            ...(request.return_token_ids === true ? { token_ids: result.tokenIds } : {}),
            logprobs: withLogProbs
              ? {
                  content: chatLogProbContent({
                    tokenizer,
                    tokenIds: result.tokenIds,
                    logProbs: result.logProbs,
                    alternatives: result.alternatives,
                  }),
                }
              : null,
            finish_reason: finishReasonOf(result),
          })),
          usage: usage(results),
        }),
      },
    });
  };
  return {
    "/v1/chat/completions": generatingRoute({ context, route: "chat", promptParam: "messages", handle }),
  };
}
