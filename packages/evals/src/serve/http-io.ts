/**
 * JSON bodies in and out of `posttrain serve`'s routes: body reading with a size limit, JSON
 * parsing with content-type checks, JSON answers and OpenAI-style error answers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { PosttrainError } from "@posttrain/core";
import type { Admission } from "./admission.js";
import { ServeRequestError } from "./errors.js";

const jsonHeaders = { "content-type": "application/json" };

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  if (response.destroyed || response.writableEnded) return;
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { ...jsonHeaders, ...headers });
  response.end(JSON.stringify(body));
}

export function sendError(response: ServerResponse, error: unknown) {
  if (error instanceof ServeRequestError) {
    const headers: Record<string, string> = {};
    const allow = error.details?.["allow"];
    if (typeof allow === "string") headers["allow"] = allow;
    const authenticate = error.details?.["authenticate"];
    if (typeof authenticate === "string") headers["www-authenticate"] = authenticate;
    if (error.status === 503) headers["retry-after"] = "1";
    sendJson(response, error.status, error.body(), headers);
    return;
  }
  const message = PosttrainError.isInstance(error)
    ? error.message
    : `internal error: ${(error as Error).message}`;
  const code = PosttrainError.isInstance(error) ? error.code : "serve_internal_error";
  sendJson(response, 500, { error: { message, type: "server_error", param: null, code } });
}

/** 413 `serve_request_too_large`. */
export const bodyTooLarge = (maxBodyBytes: number) =>
  new ServeRequestError({
    code: "serve_request_too_large",
    status: 413,
    message: `the request body exceeds ${maxBodyBytes} bytes (--max-body-bytes)`,
  });

/** Whether the request's `content-length` already passes the limit. */
export function declaresTooLargeBody(request: IncomingMessage, maxBodyBytes: number): boolean {
  const declared = Number(request.headers["content-length"]);
  return Number.isFinite(declared) && declared > maxBodyBytes;
}

/**
 * Reads a body of at most `admission.limits.maxBodyBytes` (413 beyond, from `content-length`
 * or while reading), holding its bytes against the shared buffer budget while it arrives
 * (503 when the budget is spent: slow senders of large bodies cannot add up). The caller
 * parses the bytes at once (synchronously), so nothing is held after.
 */
export async function readBody(request: IncomingMessage, admission: Admission): Promise<Buffer> {
  const { maxBodyBytes } = admission.limits;
  const tooLarge = () => bodyTooLarge(maxBodyBytes);
  if (declaresTooLargeBody(request, maxBodyBytes)) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      if (size + chunk.length > maxBodyBytes) throw tooLarge();
      if (!admission.reserveBodyBytes(chunk.length))
        throw new ServeRequestError({
          code: "serve_overloaded",
          status: 503,
          message: `the server is buffering ${admission.bufferedBodyBytes} bytes of request bodies (limit ${admission.limits.maxBufferedBodyBytes}); retry later`,
        });
      size += chunk.length;
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size);
  } finally {
    admission.releaseBodyBytes(size);
  }
}

/** Deepest JSON nesting accepted (request bodies need about 6; a deep one costs the parser seconds). */
export const maxJsonNesting = 64;

/**
 * The deepest `[`/`{` nesting of a JSON text and its number of arrays and objects, outside
 * strings, scanning the bytes once (stops early once past `maxContainers` or
 * {@link maxJsonNesting}). Malformed JSON gets some numbers; the parser reports it afterwards.
 */
function jsonShape(body: Buffer, maxContainers: number): { depth: number; containers: number } {
  let depth = 0;
  let deepest = 0;
  let containers = 0;
  let inString = false;
  for (let index = 0; index < body.length; index += 1) {
    const byte = body[index]!;
    if (inString) {
      if (byte === 0x5c)
        index += 1; // backslash: skip the escaped byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      depth += 1;
      containers += 1;
      if (depth > deepest) deepest = depth;
      if (deepest > maxJsonNesting || containers > maxContainers) break;
    } else if (byte === 0x5d || byte === 0x7d) depth -= 1;
  }
  return { depth: deepest, containers };
}

/**
 * Parses a JSON body (415 unless the content type is JSON). Before `JSON.parse`, a byte scan
 * refuses (400) a body nested deeper than {@link maxJsonNesting} or holding more than
 * `maxContainers` arrays and objects: parsing hundreds of thousands of tiny arrays holds the
 * event loop for a large fraction of a second, and no request this server can accept needs them.
 */
export function parseJson(
  body: Buffer,
  request: IncomingMessage,
  maxContainers: number = Number.POSITIVE_INFINITY,
): unknown {
  const type = request.headers["content-type"];
  if (type !== undefined && !/^application\/(json|[\w.+-]+\+json)\b/i.test(type))
    throw new ServeRequestError({
      code: "serve_unsupported_media_type",
      status: 415,
      message: `expected content-type application/json, got ${type}`,
    });
  const shape = jsonShape(body, maxContainers);
  if (shape.depth > maxJsonNesting)
    throw new ServeRequestError({
      code: "serve_invalid_request",
      status: 400,
      message: `the request body nests more than ${maxJsonNesting} levels deep`,
    });
  if (shape.containers > maxContainers)
    throw new ServeRequestError({
      code: "serve_invalid_request",
      status: 400,
      message: `the request body holds more than ${maxContainers} arrays and objects (at most 4 per row of --max-pending-rows and per chat message the prompt limit allows)`,
    });
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new ServeRequestError({
      code: "serve_invalid_request",
      status: 400,
      message: `the request body is not valid JSON: ${(error as Error).message}`,
      cause: error,
    });
  }
}
