/**
 * zod schemas of the OpenAI request bodies `posttrain serve` accepts, with vLLM's extensions
 * that the evals HTTP backend uses. Unknown fields are ignored (clients send `user`,
 * `metadata`, …), but a known field with a value the engine cannot honour is rejected rather
 * than silently dropped (non-zero penalties, `echo`, `logit_bias`, `best_of` > `n`, tools,
 * `response_format` other than text).
 */
import { safeParseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { ServeRequestError } from "./errors.js";

/** Largest `n` per request (vLLM has no fixed cap; this bounds one request's batch share). */
export const maxChoicesPerRequest = 64;
/** Largest `top_logprobs` (OpenAI's limit). */
export const maxTopLogProbs = 20;

const stopSchema = z
  .union([z.string(), z.array(z.string()).max(16)])
  .nullish()
  .transform((stop) => (stop === null || stop === undefined ? [] : typeof stop === "string" ? [stop] : stop));

const zeroOnly = (name: string) =>
  z
    .number()
    .nullish()
    .refine((value) => value === null || value === undefined || value === 0, {
      message: `${name} is not supported by the embedded engine (only 0)`,
    });

/** Sampling fields shared by both endpoints. */
const samplingFields = {
  model: z.string().min(1),
  max_tokens: z.number().int().positive().nullish(),
  /** OpenAI's newer name for max_tokens (chat). */
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** vLLM extension: -1 or 0 disable it. */
  top_k: z.number().int().min(-1).nullish(),
  n: z.number().int().min(1).max(maxChoicesPerRequest).nullish(),
  stop: stopSchema,
  seed: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  presence_penalty: zeroOnly("presence_penalty"),
  frequency_penalty: zeroOnly("frequency_penalty"),
  /** vLLM extension: 1 (no penalty) only. */
  repetition_penalty: z
    .number()
    .nullish()
    .refine((value) => value === null || value === undefined || value === 1, {
      message: "repetition_penalty is not supported by the embedded engine (only 1)",
    }),
  logit_bias: z
    .record(z.string(), z.number())
    .nullish()
    .refine((value) => value === null || value === undefined || Object.keys(value).length === 0, {
      message: "logit_bias is not supported by the embedded engine",
    }),
};

const responseFormatSchema = z
  .object({ type: z.string() })
  .nullish()
  .refine((value) => value === null || value === undefined || value.type === "text", {
    message:
      'only response_format {"type":"text"} is supported: the embedded engine has no constrained decoding for json_object or json_schema',
  });

const messageSchema = z.object({
  /** `developer` is OpenAI's newer name for `system` (rendered as `system`, see prompts.ts). */
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([
    z.string(),
    z
      .array(z.object({ type: z.literal("text"), text: z.string() }))
      .transform((parts) => parts.map((part) => part.text).join("")),
  ]),
});

/** `POST /v1/chat/completions`. */
export const chatCompletionRequestSchema = z.object({
  ...samplingFields,
  messages: z.array(messageSchema).min(1),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(maxTopLogProbs).nullish(),
  /** vLLM extension: render the final (assistant) message open-ended and continue it. */
  continue_final_message: z.boolean().nullish(),
  /** vLLM extension (default true): append the generation prompt. */
  add_generation_prompt: z.boolean().nullish(),
  /** vLLM extension: add the generated `token_ids` to each choice. */
  return_token_ids: z.boolean().nullish(),
  /**
   * Only `{ "type": "text" }` (the default) is honoured: the engine has no constrained decoding,
   * so JSON mode and JSON schemas are refused rather than silently ignored.
   */
  response_format: responseFormatSchema,
  tools: z
    .array(z.unknown())
    .nullish()
    .refine((value) => value === null || value === undefined || value.length === 0, {
      message: "tools are not supported",
    }),
});
export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;

const tokenIds = z.array(z.number().int().min(0)).min(1);

/** `POST /v1/completions`: `prompt` is text, token ids, or a list of either (one choice group each). */
export const completionRequestSchema = z.object({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds, z.array(tokenIds).min(1)]),
  /** Alternatives per token (OpenAI: at most 5; vLLM allows more). */
  logprobs: z.number().int().min(0).max(maxTopLogProbs).nullish(),
  echo: z
    .boolean()
    .nullish()
    .refine((value) => value !== true, { message: "echo is not supported" }),
  best_of: z.number().int().min(1).nullish(),
  /** vLLM extension (≥ 0.10.2): add `token_ids` and `prompt_token_ids` to each choice. */
  return_token_ids: z.boolean().nullish(),
  suffix: z
    .string()
    .nullish()
    .refine((value) => value === null || value === undefined || value === "", {
      message: "suffix is not supported",
    }),
});
export type CompletionRequest = z.output<typeof completionRequestSchema>;

/**
 * Parses `value` with `schema`; a failure is a 400 `serve_invalid_request` whose `param` is the
 * first offending field (`messages[0].role`) and whose message lists every issue.
 */
export function parseRequestBody<Schema extends z.ZodType>(params: {
  schema: Schema;
  value: unknown;
  label: string;
}): z.output<Schema> {
  const parsed = safeParseWithSchema(params);
  if (parsed.success) return parsed.value;
  const first = parsed.error.issues[0];
  throw new ServeRequestError({
    code: "serve_invalid_request",
    status: 400,
    message: parsed.error.message,
    param: first === undefined || first.path === "(root)" ? null : first.path,
    details: { issues: parsed.error.issues },
  });
}
