/** `POST /v1/responses` (OpenAI Responses API, basic and non-streaming; responses-api.ts). */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ServeContext } from "../context.js";
import { chatPromptTokenIds } from "../prompts.js";
import { parseRequestBody } from "../request-schema.js";
import { respondWithGeneration } from "../responder.js";
import {
  type ResponsesRequest,
  responseObject,
  responsesRequestSchema,
  responsesToChatRequest,
} from "../responses-api.js";
import { generatingRoute, type RouteTable } from "./route.js";

export function responsesRoutes(context: ServeContext): RouteTable {
  const handle = async (body: unknown, response: ServerResponse, signal: AbortSignal) => {
    const request: ResponsesRequest = parseRequestBody({
      schema: responsesRequestSchema,
      value: body,
      label: "responses request",
    });
    context.checkModel(request.model);
    const chat = responsesToChatRequest(request);
    const prompt = chatPromptTokenIds({
      request: chat,
      tokenizer: context.tokenizer,
      checkRendered: (characters) => context.admission.checkRendered({ characters, promptParam: "input" }),
    });
    const plan = context.planSampling({ body: chat, prompts: [prompt], defaultMaxTokens: null });
    const complete = (
      results: readonly { text: string; finishReason: string; tokenIds: readonly number[] }[],
    ) => {
      const result = results[0]!;
      return responseObject({
        id: `resp_${randomUUID().replaceAll("-", "")}`,
        messageId: `msg_${randomUUID().replaceAll("-", "")}`,
        createdAt: Math.floor(Date.now() / 1000),
        model: context.servedModelName,
        request,
        text: result.text,
        truncated: result.finishReason === "length",
        inputTokens: prompt.length,
        outputTokens: result.tokenIds.length,
      });
    };
    await respondWithGeneration({
      context,
      response,
      signal,
      plan,
      topLogProbs: 0,
      stream: false,
      reply: {
        sendsEmptyTokens: false,
        tokenChunk: () => undefined,
        finishChunk: () => undefined,
        complete,
      },
    });
  };
  return { "/v1/responses": generatingRoute({ context, route: "responses", promptParam: "input", handle }) };
}
