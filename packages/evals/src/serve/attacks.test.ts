// Issue 16's server attacks S1, S2 and S4 (S3 is in weight-updates.test.ts) and issue 20's
// 5 MB request, each sent as an attacker would against the default limits: every one is
// refused with an OpenAI-style error, the heap stays bounded, no rejection goes unhandled,
// and a normal request is answered afterwards.
import { request as httpRequest } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type LoadedTokenizer, loadTokenizer } from "@posttrain/data";
import type { GenerationTokenizer, PretrainedModel } from "@posttrain/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTinyServeModel, microTokenizerDirectory } from "../test/serve-model.js";
import { defaultAdmissionLimits } from "./admission.js";
import { type ServeServer, startServeServer } from "./server.js";

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;
const heapUsed = () => {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
};

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of several shapes, checked by the assertions.
type Json = any;

/** A raw HTTP/1.1 request with a request target that fetch would normalise. */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: "127.0.0.1", port, method: "GET", path: target }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

describe("posttrain serve under attack (default admission limits)", () => {
  let model: PretrainedModel;
  let tokenizer: LoadedTokenizer;
  let server: ServeServer;
  /** The longest text the server handed the tokeniser. */
  let longestEncoded = 0;
  const unhandled: unknown[] = [];
  const recordUnhandled = (reason: unknown) => unhandled.push(reason);
  const post = (path: string, body: unknown, init: RequestInit = {}) =>
    fetch(`${server.url.replace(/\/v1$/, "")}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...init,
    });
  const expectError = async (response: Response, status: number, code: string) => {
    expect(response.status).toBe(status);
    const body = (await response.json()) as Json;
    expect(body.error).toMatchObject({ code });
    expect(body.error.type).toMatch(/_error$/);
    expect(typeof body.error.message).toBe("string");
    return body.error;
  };
  const normalRequestAnswered = async () => {
    const response = await post("/v1/completions", {
      model: "tiny",
      prompt: "Hello",
      max_tokens: 4,
      temperature: 0,
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as Json;
    expect(answer.choices).toHaveLength(1);
    expect(answer.usage.completion_tokens).toBeGreaterThan(0);
  };

  beforeAll(async () => {
    process.on("unhandledRejection", recordUnhandled);
    tokenizer = await loadTokenizer({ directory: microTokenizerDirectory });
    model = createTinyServeModel({ seed: 5, eosTokenId: tokenizer.eosTokenIds[0]! });
    const counting: GenerationTokenizer = {
      encode: (text, options) => {
        longestEncoded = Math.max(longestEncoded, text.length);
        return tokenizer.encode(text, options);
      },
      decode: (ids, options) => (ids.length === 0 ? "" : tokenizer.decode(ids, options)),
      eosTokenIds: tokenizer.eosTokenIds,
      applyChatTemplate: (chat) =>
        tokenizer.applyChatTemplate(chat as Parameters<typeof tokenizer.applyChatTemplate>[0]),
    };
    server = await startServeServer({
      model,
      tokenizer: counting,
      servedModelName: "tiny",
      threads: 1,
      port: 0,
    });
  });
  afterAll(async () => {
    process.off("unhandledRejection", recordUnhandled);
    await server?.close();
  });

  it("S1: /generate with 1,000,000 prompts × n = 64 is refused, the heap stays bounded", async () => {
    const before = heapUsed();
    // The attack as found: a ~5 MB body (over the 2 MiB default).
    const prompts = `[${Array.from({ length: 1_000_000 }, () => "[1]").join(",")}]`;
    const attack = `{"input_ids":${prompts},"sampling_params":{"n":64,"max_new_tokens":8}}`;
    expect(attack.length).toBeGreaterThan(defaultAdmissionLimits.maxBodyBytes);
    await expectError(await post("/generate", attack), 413, "serve_request_too_large");
    // The same attack under the byte limit: 400,000 one-token prompts × 64, refused by a byte
    // scan before JSON.parse (too many arrays for any admissible request).
    const small = `{"input_ids":[${Array.from({ length: 400_000 }, () => "[1]").join(",")}],"sampling_params":{"n":64}}`;
    expect(small.length).toBeLessThan(defaultAdmissionLimits.maxBodyBytes);
    const scanned = await expectError(await post("/generate", small), 400, "serve_invalid_request");
    expect(scanned.message).toContain("arrays and objects");
    // Few enough arrays, too many rows: 5,000 prompts × 64, refused from the row count.
    const rows = await expectError(
      await post("/generate", {
        input_ids: Array.from({ length: 5000 }, () => [1]),
        sampling_params: { n: 64 },
      }),
      400,
      "serve_too_many_rows",
    );
    expect(rows.message).toContain("320000");
    // Per-prompt sampling params, text prompts, and the OpenAI route: refused the same way.
    const perPrompt = {
      text: Array.from({ length: 2000 }, () => "a"),
      sampling_params: Array.from({ length: 2000 }, () => ({ n: 64 })),
    };
    await expectError(await post("/generate", perPrompt), 400, "serve_too_many_rows");
    await expectError(
      await post("/v1/completions", { model: "tiny", prompt: Array.from({ length: 100 }, () => "a"), n: 64 }),
      400,
      "serve_too_many_rows",
    );
    expect(heapUsed() - before).toBeLessThan(256 * 1024 * 1024);
    await normalRequestAnswered();
  });

  it("S2 and issue 20: a 16 MB and a 5 MB prompt are refused before tokenising; long prompts never reach the tokeniser", async () => {
    const before = heapUsed();
    await expectError(
      await post("/v1/completions", { model: "tiny", prompt: "x".repeat(16 * 1024 * 1024) }),
      413,
      "serve_request_too_large",
    );
    await expectError(
      await post("/v1/chat/completions", {
        model: "tiny",
        messages: [{ role: "user", content: "x".repeat(5 * 1024 * 1024) }],
      }),
      413,
      "serve_request_too_large",
    );
    // Under the byte limit but over the character limit (8 × the 512-token context): 400 with
    // no tokenising, on every generating route.
    const long = "x".repeat(1_900_000);
    const limit = 512 * defaultAdmissionLimits.promptCharactersPerToken;
    longestEncoded = 0;
    const refused = await expectError(
      await post("/v1/completions", { model: "tiny", prompt: long }),
      400,
      "serve_prompt_too_long",
    );
    expect(refused.param).toBe("prompt");
    await expectError(await post("/generate", { text: long }), 400, "serve_prompt_too_long");
    await expectError(await post("/generate", { text: ["a", long] }), 400, "serve_prompt_too_long");
    await expectError(
      await post("/v1/chat/completions", {
        model: "tiny",
        messages: [
          { role: "system", content: long.slice(0, limit) },
          { role: "user", content: [{ type: "text", text: "x".repeat(10) }] },
        ],
      }),
      400,
      "serve_prompt_too_long",
    );
    await expectError(
      await post("/v1/responses", { model: "tiny", input: long }),
      400,
      "serve_prompt_too_long",
    );
    // Many empty messages: cheap in bytes, each rendered by the chat template. 2,000 count 16
    // characters of markup each (over the limit); 60,000 are refused by the byte scan.
    const emptyMessages = (count: number) => ({
      model: "tiny",
      messages: Array.from({ length: count }, () => ({ role: "user", content: "" })),
    });
    await expectError(await post("/v1/chat/completions", emptyMessages(2000)), 400, "serve_prompt_too_long");
    await expectError(
      await post("/v1/chat/completions", emptyMessages(60_000)),
      400,
      "serve_invalid_request",
    );
    await expectError(
      await post("/generate", { input_ids: Array.from({ length: 100_000 }, () => 1) }),
      400,
      "serve_prompt_too_long",
    );
    expect(longestEncoded).toBe(0);
    expect(heapUsed() - before).toBeLessThan(256 * 1024 * 1024);
    await normalRequestAnswered();
    expect(longestEncoded).toBeLessThanOrEqual(limit);
  });

  it("Expect: 100-continue: a body declared over the limit is refused before it is sent", async () => {
    const ask = (length: number, body: string) =>
      new Promise<{ status: number; continued: boolean; text: string }>((resolve, reject) => {
        let continued = false;
        const request = httpRequest(
          {
            host: "127.0.0.1",
            port: server.port,
            method: "POST",
            path: "/v1/completions",
            headers: { "content-type": "application/json", "content-length": length, expect: "100-continue" },
          },
          (response) => {
            let text = "";
            response.on("data", (chunk: Buffer) => {
              text += chunk.toString("utf8");
            });
            response.on("end", () => resolve({ status: response.statusCode ?? 0, continued, text }));
          },
        );
        request.on("continue", () => {
          continued = true;
          request.end(body);
        });
        request.on("error", reject);
        request.flushHeaders();
      });
    const refused = await ask(16 * 1024 * 1024, "");
    expect(refused).toMatchObject({ status: 413, continued: false });
    expect(JSON.parse(refused.text).error.code).toBe("serve_request_too_large");
    const body = JSON.stringify({ model: "tiny", prompt: "Hello", max_tokens: 2 });
    const accepted = await ask(Buffer.byteLength(body), body);
    expect(accepted).toMatchObject({ status: 200, continued: true });
  });

  it("S4: malformed URIs answer 400, never 500", async () => {
    const base = server.url;
    await expectError(await fetch(`${base}/models/%E0%A4%A`), 400, "serve_invalid_request");
    await expectError(await fetch(`${base}/models/%`), 400, "serve_invalid_request");
    for (const target of ["/v1/models/%E0%A4%A", "http://x:99999/v1/models", "/v1/models/%C0%80%"]) {
      const answer = await rawGet(server.port, target);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).error.code).toBe("serve_invalid_request");
    }
    // A prototype name is not a route.
    await expectError(await fetch(`${base.replace(/\/v1$/, "")}/constructor`), 404, "serve_route_not_found");
    await normalRequestAnswered();
  });

  it("deeply nested bodies are refused as bad requests", async () => {
    const depth = 900_000;
    const nested = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    for (const path of ["/v1/completions", "/v1/chat/completions", "/generate", "/v1/responses"]) {
      const error = await expectError(await post(path, nested), 400, "serve_invalid_request");
      expect(error.message).toContain("nests");
    }
    const deepPrompt = `{"model":"tiny","prompt":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    expect((await post("/v1/completions", deepPrompt)).status).toBe(400);
    const deepContent = `{"model":"tiny","messages":[{"role":"user","content":${'{"a":'.repeat(300_000)}1${"}".repeat(300_000)}}]}`;
    expect((await post("/v1/chat/completions", deepContent)).status).toBe(400);
    await normalRequestAnswered();
  });

  it("no attack left an unhandled rejection behind", () => {
    expect(unhandled).toEqual([]);
  });
});

describe("posttrain serve: rows in flight are capped across requests", () => {
  let server: ServeServer;
  beforeAll(async () => {
    const tokenizer = await loadTokenizer({ directory: microTokenizerDirectory });
    // A long context, so the running request below is still decoding when the others arrive.
    const model = createTinyServeModel({
      seed: 5,
      eosTokenId: tokenizer.eosTokenIds[0]!,
      contextLength: 4096,
    });
    server = await startServeServer({
      model,
      tokenizer: {
        encode: (text, options) => tokenizer.encode(text, options),
        decode: (ids, options) => (ids.length === 0 ? "" : tokenizer.decode(ids, options)),
        eosTokenIds: [],
        applyChatTemplate: (chat) =>
          tokenizer.applyChatTemplate(chat as Parameters<typeof tokenizer.applyChatTemplate>[0]),
      },
      servedModelName: "tiny",
      threads: 1,
      port: 0,
      maxPendingRows: 4,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers 503 + Retry-After while full, 400 for a request that can never fit, and frees the rows afterwards", async () => {
    const controller = new AbortController();
    // Four streaming rows that run long (no EOS id: only the length stops them).
    const running = await fetch(`${server.url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", prompt: "Go", n: 4, max_tokens: 4000, stream: true, seed: 1 }),
      signal: controller.signal,
    });
    const reader = running.body!.getReader();
    await reader.read();
    const full = await fetch(`${server.url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", prompt: "Hi", max_tokens: 2 }),
    });
    expect(full.status).toBe(503);
    expect(full.headers.get("retry-after")).toBe("1");
    expect(((await full.json()) as Json).error.code).toBe("serve_overloaded");
    const tooMany = await fetch(`${server.url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", prompt: "Hi", max_tokens: 2, n: 5 }),
    });
    expect(tooMany.status).toBe(400);
    controller.abort();
    await reader.cancel().catch(() => undefined);
    // The disconnected rows leave the batch before the next step; their reservation goes with them.
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const stats = (await (await fetch(`${server.url.replace(/\/v1$/, "")}/stats`)).json()) as Json;
      if (stats.rows_in_flight === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const after = await fetch(`${server.url}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", prompt: "Hi", max_tokens: 2 }),
    });
    expect(after.status).toBe(200);
  });
});
