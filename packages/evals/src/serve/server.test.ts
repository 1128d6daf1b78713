import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoadedTokenizer, loadTokenizer } from "@posttrain/data";
import { createEmbeddedGenerationBackend, type PretrainedModel } from "@posttrain/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenAiBackend, listServedModels } from "../openai-backend.js";
import { runEval } from "../run-eval.js";
import { defineHeldOutTask } from "../tasks/builtin.js";
import { createTinyServeModel, microTokenizerDirectory } from "../test/serve-model.js";
import { type ServeServer, startServeServer } from "./server.js";

/** Reads an SSE response into its `data:` payloads (JSON-parsed, `[DONE]` kept as a string). */
async function readEvents(response: Response): Promise<unknown[]> {
  const text = await response.text();
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => block.slice(6))
    .map((data) => (data === "[DONE]" ? data : JSON.parse(data)));
}

describe("posttrain serve (a tiny random Llama, the micro 512-token tokenizer)", () => {
  let model: PretrainedModel;
  let tokenizer: LoadedTokenizer;
  let server: ServeServer;
  let directory: string;
  const post = (path: string, body: unknown, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...init,
    });

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "serve-test-"));
    tokenizer = await loadTokenizer({ directory: microTokenizerDirectory });
    model = createTinyServeModel({ seed: 5, eosTokenId: tokenizer.eosTokenIds[0]! });
    // Random weights at N(0, 0.02²) give near-uniform logits; scaling them up makes greedy
    // choices decisive (no near-ties that float rounding across batch shapes could flip).
    for (let index = 0; index < model.parameters.length; index += 1) model.parameters[index]! *= 4;
    server = await startServeServer({
      model,
      tokenizer,
      servedModelName: "tiny",
      threads: 1,
      maxBatchSize: 8,
      port: 0,
      maxBodyBytes: 64 * 1024,
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("lists the served model", async () => {
    expect(await listServedModels({ endpoint: server.url })).toEqual(["tiny"]);
    const card = await (await fetch(`${server.url}/models/tiny`)).json();
    expect(card).toMatchObject({ id: "tiny", object: "model", max_model_len: 512 });
  });

  it("answers bad requests with OpenAI-style error bodies and 4xx statuses", async () => {
    const expectError = async (response: Response, status: number, code: string, param: string | null) => {
      expect(response.status).toBe(status);
      const body = (await response.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ code, param });
      expect(body.error["type"]).toMatch(/_error$/);
      expect(typeof body.error["message"]).toBe("string");
      return body.error;
    };
    await expectError(await post("/chat/completions", "{not json"), 400, "serve_invalid_request", null);
    await expectError(
      await post("/chat/completions", { model: "tiny" }),
      400,
      "serve_invalid_request",
      "messages",
    );
    const temperature = await expectError(
      await post("/chat/completions", {
        model: "tiny",
        messages: [{ role: "user", content: "hi" }],
        temperature: -1,
      }),
      400,
      "serve_invalid_request",
      "temperature",
    );
    expect(temperature["message"]).toContain("temperature");
    await expectError(
      await post("/chat/completions", { model: "tiny", messages: [{ role: "robot", content: "hi" }] }),
      400,
      "serve_invalid_request",
      "messages[0].role",
    );
    await expectError(
      await post("/completions", { model: "tiny", prompt: [1, 2, 9999] }),
      400,
      "serve_invalid_request",
      "prompt[0]",
    );
    await expectError(
      await post("/completions", { model: "tiny", prompt: "hi", max_tokens: 100_000 }),
      400,
      "serve_invalid_request",
      "max_tokens",
    );
    await expectError(
      await post("/chat/completions", {
        model: "tiny",
        messages: [{ role: "user", content: "long ".repeat(600) }],
      }),
      400,
      "serve_invalid_request",
      "messages",
    );
    await expectError(
      await post("/completions", { model: "tiny", prompt: "hi", presence_penalty: 0.5 }),
      400,
      "serve_invalid_request",
      "presence_penalty",
    );
    await expectError(
      await post("/completions", { model: "other", prompt: "hi" }),
      404,
      "serve_model_not_found",
      "model",
    );
    await expectError(await fetch(`${server.url}/nowhere`), 404, "serve_route_not_found", null);
    const wrongMethod = await fetch(`${server.url}/completions`);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    await expectError(wrongMethod, 405, "serve_method_not_allowed", null);
    await expectError(
      await post("/completions", { model: "tiny", prompt: "x".repeat(70 * 1024) }),
      413,
      "serve_request_too_large",
      null,
    );
    await expectError(
      await post("/completions", "prompt=hi", { headers: { "content-type": "text/plain" } }),
      415,
      "serve_unsupported_media_type",
      null,
    );
  });

  it("issue 20: developer role, response_format, /v1/responses and a 404 that names the routes", async () => {
    const chat = async (messages: Array<{ role: string; content: string }>, extra: object = {}) =>
      post("/chat/completions", { model: "tiny", messages, max_tokens: 6, temperature: 0, ...extra });
    const asSystem = (await (
      await chat([
        { role: "system", content: "Be brief." },
        { role: "user", content: "Name a color." },
      ])
    ).json()) as { choices: Array<{ message: { content: string } }> };
    const developer = await chat([
      { role: "developer", content: "Be brief." },
      { role: "user", content: "Name a color." },
    ]);
    expect(developer.status).toBe(200);
    const asDeveloper = (await developer.json()) as typeof asSystem;
    expect(asDeveloper.choices[0]!.message.content).toBe(asSystem.choices[0]!.message.content);

    const text = await chat([{ role: "user", content: "hi" }], { response_format: { type: "text" } });
    expect(text.status).toBe(200);
    for (const format of [
      { type: "json_object" },
      { type: "json_schema", json_schema: { name: "x", schema: {} } },
    ]) {
      const refused = await chat([{ role: "user", content: "hi" }], { response_format: format });
      expect(refused.status).toBe(400);
      const error = ((await refused.json()) as { error: { param: string; message: string } }).error;
      expect(error.param).toBe("response_format");
      expect(error.message).toContain("constrained decoding");
    }

    // /v1/responses: the chat path's answer, in the Responses API's shape.
    const response = await post("/responses", {
      model: "tiny",
      instructions: "Be brief.",
      input: "Name a color.",
      max_output_tokens: 6,
      temperature: 0,
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as {
      object: string;
      status: string;
      output: Array<{ type: string; role: string; content: Array<{ type: string; text: string }> }>;
      usage: { input_tokens: number; output_tokens: number; total_tokens: number };
    };
    expect(answer.object).toBe("response");
    expect(["completed", "incomplete"]).toContain(answer.status);
    expect(answer.output[0]).toMatchObject({ type: "message", role: "assistant" });
    expect(answer.output[0]!.content[0]).toMatchObject({
      type: "output_text",
      text: asSystem.choices[0]!.message.content,
    });
    expect(answer.usage.total_tokens).toBe(answer.usage.input_tokens + answer.usage.output_tokens);
    const listed = await post("/responses", {
      model: "tiny",
      input: [
        { role: "developer", content: "Be brief." },
        { role: "user", content: [{ type: "input_text", text: "Name a color." }] },
      ],
      max_output_tokens: 6,
      temperature: 0,
    });
    expect(((await listed.json()) as typeof answer).output[0]!.content[0]!.text).toBe(
      asSystem.choices[0]!.message.content,
    );
    const streaming = await post("/responses", { model: "tiny", input: "hi", stream: true });
    expect(streaming.status).toBe(400);
    expect(((await streaming.json()) as { error: { param: string } }).error.param).toBe("stream");

    const missing = await fetch(`${server.url}/assistants`);
    expect(missing.status).toBe(404);
    const message = ((await missing.json()) as { error: { message: string } }).error.message;
    for (const route of [
      "POST /v1/chat/completions",
      "POST /v1/completions",
      "POST /v1/responses",
      "GET /v1/models",
    ])
      expect(message).toContain(route);
  });

  it("generates what the embedded engine backend generates, with usage and finish reasons", async () => {
    const embedded = createEmbeddedGenerationBackend({ model, tokenizer, threads: 1 });
    const messages = [{ role: "user" as const, content: "Name a color." }];
    const generated = await embedded.generate({
      requests: [
        {
          prompt: { kind: "chat", messages, assistantPrefix: "Answer:" },
          sampling: { temperature: 0, maxNewTokens: 12 },
        },
      ],
    });
    const expected = generated[0]?.[0];
    const response = await post("/chat/completions", {
      model: "tiny",
      messages: [...messages, { role: "assistant", content: "Answer:" }],
      continue_final_message: true,
      add_generation_prompt: false,
      temperature: 0,
      max_tokens: 12,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      object: string;
      model: string;
      id: string;
      choices: Array<{ message: { content: string }; finish_reason: string }>;
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    expect(body).toMatchObject({ object: "chat.completion", model: "tiny" });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.choices[0]?.message.content).toBe(expected!.text);
    expect(body.choices[0]?.finish_reason).toBe(expected!.finishReason);
    expect(body.usage.completion_tokens).toBe(expected!.tokenIds!.length);
    const prompt = tokenizer.encode(
      `${tokenizer.applyChatTemplate({ messages, addGenerationPrompt: true })}Answer:`,
      {
        addSpecialTokens: false,
      },
    );
    expect(body.usage.prompt_tokens).toBe(prompt.length);
    expect(body.usage.total_tokens).toBe(prompt.length + expected!.tokenIds!.length);
  });

  it("batches concurrent requests, and each gets the tokens it gets alone", async () => {
    const prompts = Array.from({ length: 6 }, (_, index) => `Item ${index}: ${"abc".repeat(index + 1)}`);
    const ask = async (prompt: string) => {
      const response = await post("/completions", {
        model: "tiny",
        prompt,
        temperature: 0,
        max_tokens: 10,
        logprobs: 2,
      });
      return (await response.json()) as {
        choices: Array<{
          text: string;
          logprobs: { tokens: string[]; token_logprobs: number[]; top_logprobs: object[] };
        }>;
      };
    };
    const alone: Array<Awaited<ReturnType<typeof ask>>> = [];
    for (const prompt of prompts) alone.push(await ask(prompt));
    const before = { ...server.scheduler.statistics };
    const together = await Promise.all(prompts.map((prompt) => ask(prompt)));
    const after = server.scheduler.statistics;
    const stats = (await (await fetch(server.url.replace(/\/v1$/, "/stats"))).json()) as Record<
      string,
      number
    >;
    expect(stats["decode_steps"]).toBe(after.decodeSteps);
    expect(stats["row_steps"]).toBe(after.rowSteps);
    expect(stats["active_rows"]).toBe(0);
    const meanBatch = (after.rowSteps - before.rowSteps) / (after.decodeSteps - before.decodeSteps);
    expect(meanBatch).toBeGreaterThan(2);
    together.forEach((answer, index) => {
      expect(answer.choices[0]?.text).toBe(alone[index]?.choices[0]?.text);
      expect(answer.choices[0]?.logprobs.tokens).toEqual(alone[index]?.choices[0]?.logprobs.tokens);
      const logProbs = answer.choices[0]!.logprobs.token_logprobs;
      alone[index]!.choices[0]!.logprobs.token_logprobs.forEach((value, position) => {
        expect(logProbs[position]).toBeCloseTo(value, 4);
      });
      expect(Object.keys(answer.choices[0]!.logprobs.top_logprobs[0]!)).toHaveLength(2);
    });
  });

  it("reports chat log-probs with top alternatives", async () => {
    const response = await post("/chat/completions", {
      model: "tiny",
      messages: [{ role: "user", content: "Count." }],
      temperature: 0,
      max_tokens: 5,
      logprobs: true,
      top_logprobs: 3,
    });
    const body = (await response.json()) as {
      choices: Array<{
        logprobs: {
          content: Array<{ token: string; logprob: number; top_logprobs: Array<{ logprob: number }> }>;
        };
      }>;
      usage: { completion_tokens: number };
    };
    const content = body.choices[0]!.logprobs.content;
    expect(content).toHaveLength(body.usage.completion_tokens);
    for (const entry of content) {
      expect(entry.top_logprobs).toHaveLength(3);
      // Greedy: the chosen token is the most likely one, so its log-prob leads the list.
      expect(entry.logprob).toBeCloseTo(entry.top_logprobs[0]!.logprob, 6);
      expect(entry.top_logprobs[0]!.logprob).toBeGreaterThanOrEqual(entry.top_logprobs[1]!.logprob);
    }
  });

  it("seeds sampling per choice: same seed, same choices; n choices differ", async () => {
    const body = { model: "tiny", prompt: "Once upon", temperature: 1, max_tokens: 8, n: 3, seed: 11 };
    const first = (await (await post("/completions", body)).json()) as {
      choices: Array<{ index: number; text: string }>;
    };
    const second = (await (await post("/completions", body)).json()) as { choices: Array<{ text: string }> };
    expect(first.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    expect(second.choices.map((choice) => choice.text)).toEqual(first.choices.map((choice) => choice.text));
    expect(new Set(first.choices.map((choice) => choice.text)).size).toBeGreaterThan(1);
  });

  it("streams chat chunks and completions that add up to the whole answer, then [DONE]", async () => {
    const request = {
      model: "tiny",
      messages: [{ role: "user", content: "Tell me a story." }],
      temperature: 0,
      max_tokens: 16,
    };
    const whole = (await (await post("/chat/completions", request)).json()) as {
      choices: Array<{ message: { content: string }; finish_reason: string }>;
      usage: object;
    };
    const response = await post("/chat/completions", {
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = await readEvents(response);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1) as Array<{
      object: string;
      choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>;
      usage?: object;
    }>;
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(whole.choices[0]?.message.content);
    const finish = chunks.find(
      (chunk) => chunk.choices[0]?.finish_reason !== null && chunk.choices.length > 0,
    );
    expect(finish?.choices[0]?.finish_reason).toBe(whole.choices[0]?.finish_reason);
    expect(chunks.at(-1)?.usage).toEqual(whole.usage);

    const completion = { model: "tiny", prompt: "The sky is", temperature: 0, max_tokens: 12, stop: ["e"] };
    const plain = (await (await post("/completions", completion)).json()) as {
      choices: Array<{ text: string; finish_reason: string }>;
    };
    const streamed = (await readEvents(await post("/completions", { ...completion, stream: true }))) as Array<
      { object: string; choices: Array<{ text: string }> } | string
    >;
    expect(streamed.at(-1)).toBe("[DONE]");
    const streamedText = streamed
      .slice(0, -1)
      .map((chunk) => (chunk as { choices: Array<{ text: string }> }).choices[0]?.text ?? "")
      .join("");
    expect(streamedText).toBe(plain.choices[0]?.text);
    expect(streamedText).not.toContain("e");
  });

  it("frees the batch slot of a client that disconnects mid-stream", async () => {
    const controller = new AbortController();
    const response = await post(
      "/completions",
      { model: "tiny", prompt: "Go on and on", temperature: 1, seed: 1, max_tokens: 480, stream: true },
      { signal: controller.signal },
    );
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    const generatedBefore = server.scheduler.statistics.generatedTokens;
    expect(server.scheduler.activeRows).toBe(1);
    controller.abort();
    const deadline = Date.now() + 10_000;
    while (server.scheduler.activeRows > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(server.scheduler.activeRows).toBe(0);
    expect(server.scheduler.statistics.generatedTokens - generatedBefore).toBeLessThan(470);
    // The server still answers afterwards.
    expect((await post("/completions", { model: "tiny", prompt: "ok", max_tokens: 2 })).status).toBe(200);
  });

  it("the HTTP eval backend: an eval interrupted half-way resumes from its cache with identical results", async () => {
    const split = join(directory, "heldout");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(split, { recursive: true });
    await writeFile(
      join(split, "test.jsonl"),
      Array.from({ length: 8 }, (_, index) =>
        JSON.stringify({
          messages: [{ role: "user", content: `What is ${index} + ${index}?` }],
          ground_truth: String(2 * index),
          dataset: "gsm8k",
        }),
      ).join("\n"),
    );
    const task = defineHeldOutTask({
      name: "tiny_heldout",
      directory: split,
      verifier: "gsm8k",
      maxNewTokens: 12,
    });
    const backendFor = (cacheDirectory: string, fetchImplementation: typeof fetch = fetch) =>
      createOpenAiBackend({
        endpoint: server.url.replace(/\/v1$/, ""),
        model: "tiny",
        retries: 0,
        concurrency: 1,
        cacheDirectory,
        fetch: fetchImplementation,
      });

    const uninterrupted = await runEval({
      task,
      backend: await backendFor(join(directory, "cache-full")),
      outputDirectory: join(directory, "full"),
    });

    // "Kill" the eval as it sends its 5th request: everything still in flight is abandoned.
    const controller = new AbortController();
    let calls = 0;
    const dyingFetch: typeof fetch = (input, init) => {
      calls += 1;
      if (calls === 5) controller.abort(new Error("killed half-way"));
      return fetch(input, init);
    };
    const interruptedCache = join(directory, "cache-resumed");
    const failure = await runEval({
      task,
      backend: await backendFor(interruptedCache, dyingFetch),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    expect((failure as Error).message).toBe("killed half-way");
    // Let the abandoned run's last cache appends land (a killed process has none in flight).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cached = (await readFile(join(interruptedCache, "responses.jsonl"), "utf8")).trim().split("\n");
    expect(cached.length).toBeGreaterThanOrEqual(1);
    expect(cached.length).toBeLessThan(8);

    const resumed = await runEval({
      task,
      backend: await backendFor(interruptedCache),
      outputDirectory: join(directory, "resumed"),
    });
    expect(resumed.tasks).toEqual(uninterrupted.tasks);
    const predictions = (name: string) =>
      readFile(join(directory, name, "tiny_heldout-predictions.jsonl"), "utf8");
    expect(await predictions("resumed")).toBe(await predictions("full"));
    const lines = (await readFile(join(interruptedCache, "responses.jsonl"), "utf8")).trim().split("\n");
    expect(lines).toHaveLength(8);
  });
});
