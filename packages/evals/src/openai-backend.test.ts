import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError } from "@posttrain/core";
import type { TextTokenizer } from "@posttrain/data";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { apiBaseUrl, createOpenAiBackend } from "./openai-backend.js";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "./test/index.js";

let server: FakeOpenAiServer;
let directory: string;

beforeAll(async () => {
  server = await startFakeOpenAiServer({
    model: "tiny",
    respond: ({ api, prompt, messages, sampleIndex }) =>
      api === "chat"
        ? `reply ${sampleIndex} to ${messages?.at(-1)?.content ?? ""}\nQuestion: never seen`
        : `completion ${sampleIndex} of [${prompt}] STOP tail`,
  });
  directory = await mkdtemp(join(tmpdir(), "evals-backend-"));
});
afterAll(async () => {
  await server.close();
  await rm(directory, { recursive: true, force: true });
});
afterEach(() => {
  server.setFaults({});
  server.requests.length = 0;
});

const greedy = { temperature: 0, maxNewTokens: 64 };

describe("createOpenAiBackend against the fake server", () => {
  it("normalises the base URL", () => {
    expect(apiBaseUrl({ endpoint: "http://h:1/" })).toBe("http://h:1/v1");
    expect(apiBaseUrl({ endpoint: "http://h:1/v1" })).toBe("http://h:1/v1");
  });

  it("chat API: sends the assistant prefix as a continued final message, cuts at stop strings", async () => {
    const backend = await createOpenAiBackend({ endpoint: server.url, model: "tiny", retries: 0 });
    const [completions] = await backend.generate({
      requests: [
        {
          prompt: {
            kind: "chat",
            messages: [{ role: "user", content: "Question: 1+1?" }],
            assistantPrefix: "Answer:",
          },
          sampling: { ...greedy, stop: ["Question:"] },
        },
      ],
    });
    expect(completions?.[0]?.text).toBe("reply 0 to Answer:\n");
    const body = server.requests[0]?.body as Record<string, unknown>;
    expect(server.requests[0]?.path).toBe("/v1/chat/completions");
    expect(body["messages"]).toEqual([
      { role: "user", content: "Question: 1+1?" },
      { role: "assistant", content: "Answer:" },
    ]);
    expect(body).toMatchObject({
      continue_final_message: true,
      add_generation_prompt: false,
      stop: ["Question:"],
      n: 1,
    });
  });

  it("completions API with a tokenizer renders the chat template + raw prefix locally; n samples and logprobs", async () => {
    const tokenizer: TextTokenizer = {
      encode: () => [],
      decode: () => "",
      eosTokenIds: [0],
      bosTokenId: null,
      padTokenId: null,
      vocabularySize: 1,
      applyChatTemplate: ({ messages, addGenerationPrompt }) =>
        `${messages.map((message) => `<${message.role}>${message.content}`).join("")}${addGenerationPrompt ? "<assistant>" : ""}`,
    };
    const backend = await createOpenAiBackend({ endpoint: server.url, model: "tiny", tokenizer, retries: 0 });
    const [completions] = await backend.generate({
      requests: [
        {
          prompt: { kind: "chat", messages: [{ role: "user", content: "hi" }], assistantPrefix: "Sure:" },
          sampling: { ...greedy, temperature: 0.8, seed: 7, stop: [" STOP"], logprobs: true },
          samples: 3,
        },
      ],
    });
    const body = server.requests[0]?.body as Record<string, unknown>;
    expect(server.requests[0]?.path).toBe("/v1/completions");
    expect(body).toMatchObject({
      prompt: "<user>hi<assistant>Sure:",
      n: 3,
      seed: 7,
      logprobs: 1,
      temperature: 0.8,
    });
    expect(completions?.map((completion) => completion.text)).toEqual([
      "completion 0 of [<user>hi<assistant>Sure:]",
      "completion 1 of [<user>hi<assistant>Sure:]",
      "completion 2 of [<user>hi<assistant>Sure:]",
    ]);
    expect(completions?.[0]?.logprobs?.length).toBeGreaterThan(0);
  });

  it("retries 503s with backoff, then succeeds", async () => {
    server.setFaults({ unavailableCount: 2 });
    const backend = await createOpenAiBackend({
      endpoint: server.url,
      model: "tiny",
      retries: 3,
      backoffMilliseconds: 5,
    });
    const [completions] = await backend.generate({
      requests: [{ prompt: { kind: "text", text: "x" }, sampling: greedy }],
    });
    expect(completions?.[0]?.text).toContain("completion 0");
    expect(server.requests).toHaveLength(3);
  });

  it("gives up after the retries with the status", async () => {
    server.setFaults({ unavailableCount: 10 });
    const backend = await createOpenAiBackend({
      endpoint: server.url,
      model: "tiny",
      retries: 2,
      backoffMilliseconds: 1,
    });
    const failure = await backend
      .generate({ requests: [{ prompt: { kind: "text", text: "x" }, sampling: greedy }] })
      .catch((error: unknown) => error);
    expect(PosttrainError.hasCode(failure, "http_backend_status")).toBe(true);
    expect((failure as PosttrainError).details).toMatchObject({ status: 503, attempts: 3 });
  });

  it("does not retry a 4xx and reports the server's OpenAI-style message", async () => {
    const backend = await createOpenAiBackend({
      endpoint: server.url,
      model: "missing-model",
      retries: 3,
      backoffMilliseconds: 1,
    });
    const failure = await backend
      .generate({ requests: [{ prompt: { kind: "text", text: "x" }, sampling: greedy }] })
      .catch((error: unknown) => error);
    expect(PosttrainError.hasCode(failure, "http_backend_status")).toBe(true);
    expect((failure as Error).message).toContain("The model `missing-model` does not exist.");
    expect(server.requests).toHaveLength(1);
  });

  it("times out slow responses and retries them", async () => {
    server.setFaults({ delayMilliseconds: 300 });
    const backend = await createOpenAiBackend({
      endpoint: server.url,
      model: "tiny",
      retries: 1,
      timeoutMilliseconds: 50,
      backoffMilliseconds: 1,
    });
    const failure = await backend
      .generate({ requests: [{ prompt: { kind: "text", text: "x" }, sampling: greedy }] })
      .catch((error: unknown) => error);
    expect(PosttrainError.hasCode(failure, "http_backend_timeout")).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it("recovers from dropped connections", async () => {
    server.setFaults({ dropCount: 2 });
    const backend = await createOpenAiBackend({
      endpoint: server.url,
      model: "tiny",
      retries: 3,
      backoffMilliseconds: 1,
    });
    const [completions] = await backend.generate({
      requests: [{ prompt: { kind: "text", text: "y" }, sampling: greedy }],
    });
    expect(completions?.[0]?.text).toContain("completion 0 of [y]");
    expect(server.requests).toHaveLength(3);
  });

  it("caches by request: a second run sends nothing; a new sample count asks only for the missing samples", async () => {
    const cacheDirectory = join(directory, "cache");
    const request = {
      prompt: { kind: "text" as const, text: "cached" },
      sampling: { ...greedy, temperature: 1, seed: 1 },
    };
    const first = await createOpenAiBackend({
      endpoint: server.url,
      model: "tiny",
      cacheDirectory,
      retries: 0,
    });
    const before = await first.generate({ requests: [{ ...request, samples: 2 }] });
    expect(server.requests).toHaveLength(1);
    // A fresh backend (another process) at another URL spelling reads the same cache.
    const second = await createOpenAiBackend({
      endpoint: `${server.url}/v1/`,
      model: "tiny",
      cacheDirectory,
      retries: 0,
    });
    const again = await second.generate({ requests: [{ ...request, samples: 2 }] });
    expect(again).toEqual(before);
    expect(server.requests).toHaveLength(1);
    const more = await second.generate({ requests: [{ ...request, samples: 3 }] });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.body["n"]).toBe(1);
    expect(more[0]?.slice(0, 2)).toEqual(before[0]);
    const lines = (await readFile(join(cacheDirectory, "responses.jsonl"), "utf8")).trim().split("\n");
    expect(lines).toHaveLength(3);
  });

  it("ignores a torn last cache line (a crash mid-write) and regenerates only that entry", async () => {
    const cacheDirectory = join(directory, "torn");
    const backend = await createOpenAiBackend({
      endpoint: server.url,
      model: "tiny",
      cacheDirectory,
      retries: 0,
    });
    await backend.generate({
      requests: [
        { prompt: { kind: "text", text: "a" }, sampling: greedy },
        { prompt: { kind: "text", text: "b" }, sampling: greedy },
      ],
    });
    const path = join(cacheDirectory, "responses.jsonl");
    const text = await readFile(path, "utf8");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(path, text.slice(0, text.length - 20));
    server.requests.length = 0;
    const reopened = await createOpenAiBackend({
      endpoint: server.url,
      model: "tiny",
      cacheDirectory,
      retries: 0,
    });
    const results = await reopened.generate({
      requests: [
        { prompt: { kind: "text", text: "a" }, sampling: greedy },
        { prompt: { kind: "text", text: "b" }, sampling: greedy },
      ],
    });
    expect(server.requests).toHaveLength(1);
    expect(results.map((list) => list[0]?.text)).toEqual([
      "completion 0 of [a] STOP tail",
      "completion 0 of [b] STOP tail",
    ]);
  });
});
