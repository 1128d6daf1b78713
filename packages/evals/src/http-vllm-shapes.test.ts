// The eval suite through the HTTP backend against a server that answers exactly as vLLM's
// OpenAI server does (the field set of vLLM's CompletionResponse / ChatCompletionResponse,
// extensions included): chat and completions, `n` samples, log-probs.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadTokenizer } from "@posttrain/data";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenAiBackend } from "./openai-backend.js";
import { runEval } from "./run-eval.js";

const microTokenizer = fileURLToPath(new URL("../../../recipes/micro/tokenizer/", import.meta.url));

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/**
 * vLLM-shaped answers. The "model" answers question i (`Tom has i apples …`) with the right
 * total in even-numbered samples and a wrong one in odd-numbered samples; each token of the
 * answer gets log-prob −0.25·(position + 1).
 */
function vllmAnswer(path: string, body: Record<string, unknown>) {
  const chat = path.endsWith("/chat/completions");
  const source = chat
    ? JSON.stringify(body["messages"])
    : Array.isArray(body["prompt"])
      ? ""
      : String(body["prompt"]);
  const index = Number(/Tom has (\d+) apples/.exec(source)?.[1] ?? 0);
  const n = (body["n"] as number | undefined) ?? 1;
  const choices = Array.from({ length: n }, (_, sample) => {
    const total = sample % 2 === 0 ? 2 * index + 2 : 2 * index + 3;
    const text = ` So the answer is ${total}.`;
    const tokens = text.match(/\s?\S+/g) ?? [];
    const logprobs = tokens.map((_, position) => -0.25 * (position + 1));
    if (chat)
      return {
        index: sample,
        message: { role: "assistant", content: text, reasoning_content: null, tool_calls: [] },
        logprobs:
          body["logprobs"] === true
            ? {
                content: tokens.map((token, position) => ({
                  token,
                  logprob: logprobs[position],
                  bytes: [...Buffer.from(token, "utf8")],
                  top_logprobs: [],
                })),
              }
            : null,
        finish_reason: "stop",
        stop_reason: null,
      };
    let offset = 0;
    return {
      index: sample,
      text,
      logprobs:
        body["logprobs"] === undefined || body["logprobs"] === null
          ? null
          : {
              text_offset: tokens.map((token) => {
                const at = offset;
                offset += token.length;
                return at;
              }),
              token_logprobs: logprobs,
              tokens,
              top_logprobs: tokens.map((token, position) => ({ [token]: logprobs[position] })),
            },
      finish_reason: "stop",
      stop_reason: null,
      prompt_logprobs: null,
    };
  });
  const completionTokens = choices.length * 5;
  return {
    id: chat ? "chatcmpl-0123" : "cmpl-0123",
    object: chat ? "chat.completion" : "text_completion",
    created: 1_700_000_000,
    model: body["model"],
    choices,
    usage: {
      prompt_tokens: 40,
      total_tokens: 40 + completionTokens,
      completion_tokens: completionTokens,
      prompt_tokens_details: null,
    },
    ...(chat ? { prompt_logprobs: null } : { system_fingerprint: null }),
  };
}

describe("the eval suite against vLLM-shaped answers (chat, completions, n, log-probs)", () => {
  let server: Server;
  let url: string;
  let directory: string;
  const received: Received[] = [];

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "evals-vllm-"));
    const questions = Array.from({ length: 6 }, (_, index) => ({
      question: `Tom has ${index} apples and buys ${index + 2} more. How many apples?`,
      answer: `He has ${2 * index + 2} apples.\n#### ${2 * index + 2}`,
    }));
    await writeFile(
      join(directory, "gsm8k-test.jsonl"),
      questions.map((row) => JSON.stringify(row)).join("\n"),
    );
    server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const path = request.url ?? "/";
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      received.push({ path, body });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(vllmAnswer(path, body)));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(directory, { recursive: true, force: true });
  });

  it("chat API: n samples per question in one request; every sample is scored", async () => {
    received.length = 0;
    const backend = await createOpenAiBackend({ endpoint: url, model: "policy", retries: 0 });
    const results = await runEval({ task: "gsm8k", backend, dataPath: directory, samples: 4 });
    const [task] = results.tasks;
    expect(task?.count).toBe(6);
    expect(task?.generation.samples).toBe(4);
    // Samples 0 and 2 are right, 1 and 3 wrong: half of all samples.
    expect(task?.metrics["exact_match"]?.value).toBe(0.5);
    expect(received).toHaveLength(6);
    for (const { path, body } of received) {
      expect(path).toBe("/v1/chat/completions");
      expect(body).toMatchObject({ model: "policy", n: 4, temperature: 0 });
    }
  });

  it("completions API with a tokenizer: the chat template is rendered locally; same scores", async () => {
    received.length = 0;
    const tokenizer = await loadTokenizer({ directory: microTokenizer });
    const backend = await createOpenAiBackend({
      endpoint: url,
      model: "policy",
      retries: 0,
      api: "completions",
      tokenizer,
    });
    const results = await runEval({ task: "gsm8k", backend, dataPath: directory, samples: 2 });
    expect(results.tasks[0]?.metrics["exact_match"]?.value).toBe(0.5);
    expect(received.every(({ path, body }) => path === "/v1/completions" && body["n"] === 2)).toBe(true);
    expect(String(received[0]!.body["prompt"])).toContain("Tom has 0 apples");
  });

  it("log-probs: chat logprobs.content and completions logprobs.token_logprobs per sample", async () => {
    const prompt = {
      kind: "chat" as const,
      messages: [{ role: "user" as const, content: "Tom has 3 apples" }],
    };
    const sampling = { temperature: 1, maxNewTokens: 8, seed: 7, logprobs: true };
    const chat = await createOpenAiBackend({ endpoint: url, model: "policy", retries: 0 });
    const [chatSamples] = await chat.generate({ requests: [{ prompt, sampling, samples: 3 }] });
    expect(chatSamples).toHaveLength(3);
    expect(chatSamples![0]).toMatchObject({ text: " So the answer is 8.", finishReason: "stop" });
    expect(chatSamples![1]!.text).toBe(" So the answer is 9.");
    expect(chatSamples![0]!.logprobs).toEqual([-0.25, -0.5, -0.75, -1, -1.25]);
    expect(received.at(-1)!.body).toMatchObject({ logprobs: true, n: 3, seed: 7 });

    const completions = await createOpenAiBackend({ endpoint: url, model: "policy", retries: 0 });
    const [textSamples] = await completions.generate({
      requests: [{ prompt: { kind: "text", text: "Tom has 3 apples" }, sampling, samples: 2 }],
    });
    expect(textSamples!.map((sample) => sample.logprobs)).toEqual([
      [-0.25, -0.5, -0.75, -1, -1.25],
      [-0.25, -0.5, -0.75, -1, -1.25],
    ]);
    expect(received.at(-1)!.body).toMatchObject({ logprobs: 1, n: 2, prompt: "Tom has 3 apples" });
  });
});
