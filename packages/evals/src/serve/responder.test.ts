import type { ServerResponse } from "node:http";
import { Random } from "@posttrain/core";
import { describe, expect, it } from "vitest";
import type { GenerationPlan, PlannedRow, ServeContext } from "./context.js";
import { type GenerationReply, respondWithGeneration } from "./responder.js";
import type { SequenceResult, TokenEvent } from "./scheduler.js";

/** A ServerResponse that records what was written. */
function recordingResponse() {
  const record = { status: 0, headers: {} as Record<string, string>, body: "", ended: false };
  const response = {
    get writableEnded() {
      return record.ended;
    },
    destroyed: false,
    writeHead(status: number, headers: Record<string, string> = {}) {
      record.status = status;
      record.headers = { ...record.headers, ...headers };
      return response;
    },
    setHeader(name: string, value: string) {
      record.headers[name.toLowerCase()] = value;
    },
    flushHeaders() {},
    write(text: string) {
      record.body += text;
      return true;
    },
    end(text = "") {
      record.body += text;
      record.ended = true;
      return response;
    },
  };
  return { response: response as unknown as ServerResponse, record };
}

const rows: PlannedRow[] = [
  { prompt: 0, choice: 0, promptTokenIds: [1] },
  { prompt: 0, choice: 1, promptTokenIds: [1] },
];
const plan: GenerationPlan = {
  maxNewTokens: 4,
  sampling: { temperature: 1 },
  rows,
  base: Random.fromSeed(0),
  stop: [],
};
const token = (textDelta: string): TokenEvent => ({ tokenId: 5, logProb: -1, alternatives: [], textDelta });
const result = (finishReason: SequenceResult["finishReason"], text: string): SequenceResult => ({
  tokenIds: [5],
  logProbs: [-1],
  alternatives: [[]],
  text,
  finishReason,
});

/** A context whose `generate` plays a fixed script: row 0 says "hi" then "" and stops; row 1 is aborted. */
function scriptedContext(failure?: Error): ServeContext {
  return {
    generate: async ({ onToken, onFinish }) => {
      onToken?.(rows[0]!, token("hi"));
      onToken?.(rows[0]!, token(""));
      if (failure !== undefined) throw failure;
      const results = [result("stop", "hi"), result("abort", "")];
      for (const [index, row] of rows.entries()) onFinish?.(row, results[index]!);
      return results;
    },
  } as Partial<ServeContext> as ServeContext;
}

const reply = (sendsEmptyTokens: boolean): GenerationReply => ({
  sendsEmptyTokens,
  openingChunks: (planned) => planned.map((row) => ({ open: row.choice })),
  tokenChunk: (row, event) => ({ token: row.choice, text: event.textDelta }),
  finishChunk: (row, finished) => ({ finish: row.choice, reason: finished.finishReason }),
  usageChunk: (results) => ({ usage: results.length }),
  complete: (results) => ({ texts: results.map((each) => each.text) }),
});

const events = (body: string) => body.split("\n\n").filter((event) => event !== "");

describe("the shared responder", () => {
  it("streams opening chunks, tokens with text, a finish chunk per unaborted row, usage, then [DONE]", async () => {
    const { response, record } = recordingResponse();
    await respondWithGeneration({
      context: scriptedContext(),
      response,
      signal: new AbortController().signal,
      plan,
      topLogProbs: 0,
      stream: true,
      reply: reply(false),
    });
    expect(record.status).toBe(200);
    expect(record.headers["content-type"]).toBe("text/event-stream");
    expect(events(record.body)).toEqual([
      'data: {"open":0}',
      'data: {"open":1}',
      'data: {"token":0,"text":"hi"}',
      'data: {"finish":0,"reason":"stop"}',
      'data: {"usage":2}',
      "data: [DONE]",
    ]);
  });

  it("sends empty-text tokens when the reply carries log-probs", async () => {
    const { response, record } = recordingResponse();
    await respondWithGeneration({
      context: scriptedContext(),
      response,
      signal: new AbortController().signal,
      plan,
      topLogProbs: 0,
      stream: true,
      reply: reply(true),
    });
    expect(events(record.body)).toContain('data: {"token":0,"text":""}');
  });

  it("turns an engine failure after the headers into an error event before [DONE]", async () => {
    const { response, record } = recordingResponse();
    await respondWithGeneration({
      context: scriptedContext(new Error("engine exploded")),
      response,
      signal: new AbortController().signal,
      plan,
      topLogProbs: 0,
      stream: true,
      reply: reply(false),
    });
    const sent = events(record.body);
    expect(sent.at(-1)).toBe("data: [DONE]");
    expect(JSON.parse(sent.at(-2)!.slice("data: ".length))).toEqual({
      error: {
        message: "Error: engine exploded",
        type: "server_error",
        param: null,
        code: "serve_generation_failed",
      },
    });
  });

  it("answers one JSON body when not streaming, and nothing once the client went away", async () => {
    const { response, record } = recordingResponse();
    await respondWithGeneration({
      context: scriptedContext(),
      response,
      signal: new AbortController().signal,
      plan,
      topLogProbs: 0,
      stream: false,
      reply: reply(false),
    });
    expect(record.status).toBe(200);
    expect(JSON.parse(record.body)).toEqual({ texts: ["hi", ""] });

    const gone = recordingResponse();
    const controller = new AbortController();
    controller.abort();
    await respondWithGeneration({
      context: scriptedContext(),
      response: gone.response,
      signal: controller.signal,
      plan,
      topLogProbs: 0,
      stream: false,
      reply: reply(false),
    });
    expect(gone.record.body).toBe("");
  });
});
