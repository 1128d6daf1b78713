/**
 * A small OpenAI-compatible server for tests: `GET /v1/models`, `POST /v1/chat/completions`,
 * `POST /v1/completions`, with `n`, `logprobs`, `stop`, OpenAI-style error bodies
 * (`{ error: { message, type, code } }`) for bad requests (4xx), and injectable faults:
 * 503 for the next N requests, a delay per response (for timeouts), dropped connections.
 * Completions come from a `respond` function (default: deterministic text derived from the
 * prompt and the sample index), so tests can script what the "model" says.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sha256Hex } from "@posttrain/core";

/** What the fake model sees for one sample. */
export interface FakeGenerationInput {
  api: "chat" | "completions";
  /** The completions prompt (text), or the chat messages' JSON. */
  prompt: string;
  messages: Array<{ role: string; content: string }> | null;
  sampleIndex: number;
  body: Record<string, unknown>;
}

export interface FakeServerFaults {
  /** Answer the next N generation requests with 503 (then behave). */
  unavailableCount?: number;
  /** Wait this long before answering each generation request. */
  delayMilliseconds?: number;
  /** Destroy the socket of the next N generation requests without answering. */
  dropCount?: number;
}

export interface FakeOpenAiServer {
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Every generation request body received, in arrival order. */
  requests: Array<{ path: string; body: Record<string, unknown> }>;
  /** Generation requests answered with 200. */
  readonly completedRequests: number;
  setFaults(faults: FakeServerFaults): void;
  close(): Promise<void>;
}

/** The default fake model: a deterministic sentence ending in a number derived from the input. */
export function defaultFakeResponse(input: FakeGenerationInput): string {
  const digest = sha256Hex(`${input.prompt}\u0000${input.sampleIndex}`);
  const value = Number.parseInt(digest.slice(0, 4), 16) % 50;
  return `Let me think. So the answer is ${value}.`;
}

const sendJson = (response: ServerResponse, status: number, value: unknown) => {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
};

const sendError = (response: ServerResponse, status: number, message: string, code: string) =>
  sendJson(response, status, { error: { message, type: "invalid_request_error", param: null, code } });

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Starts the server on an ephemeral port of 127.0.0.1. */
export async function startFakeOpenAiServer(
  params: {
    model?: string;
    respond?: (input: FakeGenerationInput) => string;
    faults?: FakeServerFaults;
  } = {},
): Promise<FakeOpenAiServer> {
  const model = params.model ?? "fake-model";
  const respond = params.respond ?? defaultFakeResponse;
  let faults: Required<FakeServerFaults> = {
    unavailableCount: 0,
    delayMilliseconds: 0,
    dropCount: 0,
    ...params.faults,
  };
  const requests: Array<{ path: string; body: Record<string, unknown> }> = [];
  let completedRequests = 0;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (request.method === "GET" && path === "/v1/models") {
      sendJson(response, 200, {
        object: "list",
        data: [{ id: model, object: "model", owned_by: "posttrain-test" }],
      });
      return;
    }
    const api = path === "/v1/chat/completions" ? "chat" : path === "/v1/completions" ? "completions" : null;
    if (request.method !== "POST" || api === null) {
      sendError(response, 404, `no route ${request.method} ${path}`, "not_found");
      return;
    }
    const text = await readBody(request);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      sendError(response, 400, "the body is not valid JSON", "invalid_json");
      return;
    }
    requests.push({ path, body });
    if (faults.dropCount > 0) {
      faults = { ...faults, dropCount: faults.dropCount - 1 };
      request.socket.destroy();
      return;
    }
    if (faults.unavailableCount > 0) {
      faults = { ...faults, unavailableCount: faults.unavailableCount - 1 };
      sendJson(response, 503, { error: { message: "server overloaded", type: "server_error", code: 503 } });
      return;
    }
    if (body["model"] !== model) {
      sendError(response, 404, `The model \`${String(body["model"])}\` does not exist.`, "model_not_found");
      return;
    }
    const maxTokens = body["max_tokens"];
    if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) {
      sendError(response, 400, "max_tokens must be a positive integer", "invalid_max_tokens");
      return;
    }
    const n = body["n"] === undefined ? 1 : body["n"];
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      sendError(response, 400, "n must be a positive integer", "invalid_n");
      return;
    }
    let promptText: string;
    let messages: Array<{ role: string; content: string }> | null = null;
    if (api === "chat") {
      if (!Array.isArray(body["messages"]) || body["messages"].length === 0) {
        sendError(response, 400, "messages must be a non-empty list", "invalid_messages");
        return;
      }
      messages = body["messages"] as Array<{ role: string; content: string }>;
      promptText = JSON.stringify(messages);
    } else {
      const prompt = body["prompt"];
      if (typeof prompt !== "string" && !Array.isArray(prompt)) {
        sendError(response, 400, "prompt must be a string or a list of token ids", "invalid_prompt");
        return;
      }
      promptText = typeof prompt === "string" ? prompt : JSON.stringify(prompt);
    }
    if (faults.delayMilliseconds > 0)
      await new Promise((resolve) => setTimeout(resolve, faults.delayMilliseconds));
    if (response.destroyed) return;
    const stop = Array.isArray(body["stop"])
      ? (body["stop"] as string[])
      : typeof body["stop"] === "string"
        ? [body["stop"]]
        : [];
    // `sampleIndex` is the choice index within this request.
    const choices = Array.from({ length: n }, (_, index) => {
      const full = respond({ api, prompt: promptText, messages, sampleIndex: index, body });
      let end = full.length;
      for (const candidate of stop) {
        const at = full.indexOf(candidate);
        if (at >= 0 && at < end) end = at;
      }
      const words = full.slice(0, end).split(/(?<=\s)/);
      const truncated = words.length > maxTokens;
      const output = truncated ? words.slice(0, maxTokens).join("") : full.slice(0, end);
      const tokenLogprobs = output.split(/(?<=\s)/).map((_, tokenIndex) => -0.1 * (tokenIndex + 1));
      const finishReason = truncated ? "length" : "stop";
      return api === "chat"
        ? {
            index,
            message: { role: "assistant", content: output },
            finish_reason: finishReason,
            logprobs: body["logprobs"]
              ? { content: tokenLogprobs.map((logprob) => ({ token: "", logprob })) }
              : null,
          }
        : {
            index,
            text: output,
            finish_reason: finishReason,
            logprobs: body["logprobs"] ? { token_logprobs: tokenLogprobs } : null,
          };
    });
    completedRequests += 1;
    sendJson(response, 200, {
      id: `fake-${completedRequests}`,
      object: api === "chat" ? "chat.completion" : "text_completion",
      model,
      choices,
      usage: { completion_tokens: choices.length, prompt_tokens: 0, total_tokens: choices.length },
    });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, String(error), "internal_error");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get completedRequests() {
      return completedRequests;
    },
    setFaults(next) {
      faults = { unavailableCount: 0, delayMilliseconds: 0, dropCount: 0, ...next };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
