/**
 * OpenAI's Responses API, basic non-streaming form (`POST /v1/responses`): `input` (a string,
 * or a list of messages `{ role, content }` whose content is a string or `input_text` /
 * `output_text` parts), `instructions` (rendered as a system message before the input),
 * `max_output_tokens`, `temperature`, `top_p`. It runs through the chat path (same template,
 * same sampling) and answers a `response` object with one `message` output item holding one
 * `output_text` part (what the official client's `output_text` reads), `status: "incomplete"`
 * with `incomplete_details.reason: "max_output_tokens"` when the length cut it.
 *
 * Refused (400, naming the field) rather than ignored: `stream: true`, `tools`,
 * `previous_response_id` (nothing is stored), `text.format` other than text. Unknown fields
 * (`store`, `metadata`, `user`) are ignored.
 */
import { z } from "zod";
import type { ChatCompletionRequest } from "./request-schema.js";

const textPart = z.object({
  type: z.enum(["input_text", "output_text", "text"]),
  text: z.string(),
});

const inputMessage = z.object({
  type: z.literal("message").optional(),
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.union([
    z.string(),
    z.array(textPart).transform((parts) => parts.map((part) => part.text).join("")),
  ]),
});

const absentOrEmpty = (value: unknown) =>
  value === null || value === undefined || (Array.isArray(value) && value.length === 0);

/** `POST /v1/responses` (the fields honoured). */
export const responsesRequestSchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string().min(1), z.array(inputMessage).min(1)]),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  stream: z
    .boolean()
    .nullish()
    .refine((value) => value !== true, { message: "streaming is not supported on /v1/responses" }),
  tools: z.array(z.unknown()).nullish().refine(absentOrEmpty, { message: "tools are not supported" }),
  previous_response_id: z.string().nullish().refine(absentOrEmpty, {
    message: "previous_response_id is not supported: this server stores no responses",
  }),
  text: z
    .object({ format: z.object({ type: z.string() }).nullish() })
    .nullish()
    .refine((value) => value?.format == null || value.format.type === "text", {
      message: 'only text.format {"type":"text"} is supported: the engine has no constrained decoding',
    }),
});
export type ResponsesRequest = z.output<typeof responsesRequestSchema>;

/** The equivalent chat completion request (instructions first, as a system message). */
export function responsesToChatRequest(request: ResponsesRequest): ChatCompletionRequest {
  const messages =
    typeof request.input === "string"
      ? [{ role: "user" as const, content: request.input }]
      : request.input.map((message) => ({ role: message.role, content: message.content }));
  return {
    model: request.model,
    messages: [
      ...(request.instructions == null ? [] : [{ role: "system" as const, content: request.instructions }]),
      ...messages,
    ],
    max_tokens: request.max_output_tokens ?? null,
    temperature: request.temperature ?? null,
    top_p: request.top_p ?? null,
    stop: [],
  } as ChatCompletionRequest;
}

/** The `response` object of a finished generation. */
export function responseObject(params: {
  id: string;
  messageId: string;
  createdAt: number;
  model: string;
  request: ResponsesRequest;
  text: string;
  truncated: boolean;
  inputTokens: number;
  outputTokens: number;
}) {
  const { request } = params;
  return {
    id: params.id,
    object: "response",
    created_at: params.createdAt,
    status: params.truncated ? "incomplete" : "completed",
    error: null,
    incomplete_details: params.truncated ? { reason: "max_output_tokens" } : null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: params.model,
    output: [
      {
        type: "message",
        id: params.messageId,
        status: params.truncated ? "incomplete" : "completed",
        role: "assistant",
        content: [{ type: "output_text", text: params.text, annotations: [] }],
      },
    ],
    parallel_tool_calls: false,
    previous_response_id: null,
    temperature: request.temperature ?? 1,
    top_p: request.top_p ?? 1,
    text: { format: { type: "text" } },
    tool_choice: "none",
    tools: [],
    usage: {
      input_tokens: params.inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: params.outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: params.inputTokens + params.outputTokens,
    },
    metadata: {},
  };
}
