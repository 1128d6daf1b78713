/**
 * An SGLang- or vLLM-style generation server for tests: OpenAI-compatible `GET /v1/models`,
 * `POST /v1/completions` and `POST /v1/chat/completions` (with `n` and `logprobs`), plus the
 * weight-reload endpoints of each server:
 * - SGLang: `POST /update_weights_from_disk` `{ model_path }` → `{ success, message,
 *   num_paused_requests }`; 400 with `success: false` when the folder is missing or its
 *   architecture (config.json) differs from the loaded one.
 * - vLLM (dev mode): `POST /collective_rpc` `{ method: "reload_weights" }` re-reads the
 *   served folder; `POST /reset_prefix_cache`.
 *
 * The "weights" are a folder with `config.json` and `policy.json` (`{ "skill": k }`): asked
 * "Tom has N apples and buys M more…", the model answers N + M when N < k and 0 otherwise,
 * so a test can see which weights answered. Every other prompt gets a fixed sentence.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface TestGenerationServer {
  /** Base URL without `/v1`. */
  url: string;
  /** The folder whose weights are loaded now. */
  readonly loadedPath: string;
  /** Weight loads so far (1 after start). */
  readonly loads: number;
  requests: Array<{ path: string; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

interface Weights {
  architecture: string;
  skill: number;
}

function readWeights(path: string): Weights {
  const config = JSON.parse(readFileSync(join(path, "config.json"), "utf8")) as { architectures?: string[] };
  const policy = JSON.parse(readFileSync(join(path, "policy.json"), "utf8")) as { skill: number };
  return { architecture: JSON.stringify(config.architectures ?? []), skill: policy.skill };
}

function answer(weights: Weights, prompt: string): string {
  const match = /Tom has (\d+) apples and buys (\d+) more/.exec(prompt);
  if (match === null) return "I am a test model.";
  const have = Number(match[1]);
  return `The answer is ${have < weights.skill ? have + Number(match[2]) : 0}.`;
}

export async function startTestGenerationServer(params: {
  flavor: "sglang" | "vllm";
  modelPath: string;
  /** Served model id (default the path, as both servers do). */
  model?: string;
}): Promise<TestGenerationServer> {
  const model = params.model ?? params.modelPath;
  let loadedPath = params.modelPath;
  let weights = readWeights(loadedPath);
  let loads = 1;
  const requests: TestGenerationServer["requests"] = [];
  const json = (response: ServerResponse, status: number, value: unknown) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(value));
  };
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    const body = (raw === "" ? {} : JSON.parse(raw)) as Record<string, unknown>;
    requests.push({ path, body });
    if (request.method === "GET" && path === "/v1/models")
      return json(response, 200, { object: "list", data: [{ id: model, object: "model" }] });
    if (params.flavor === "sglang" && path === "/update_weights_from_disk") {
      const modelPath = body["model_path"];
      if (typeof modelPath !== "string")
        return json(response, 400, {
          success: false,
          message: "model_path is required",
          num_paused_requests: 0,
        });
      let next: Weights;
      try {
        next = readWeights(modelPath);
      } catch (error) {
        return json(response, 400, {
          success: false,
          message: `Failed to load weights from ${modelPath}: ${(error as Error).message}`,
          num_paused_requests: 0,
        });
      }
      if (next.architecture !== weights.architecture)
        return json(response, 400, {
          success: false,
          message: `Failed to update weights: architecture ${next.architecture} does not match ${weights.architecture}`,
          num_paused_requests: 0,
        });
      weights = next;
      loadedPath = modelPath;
      loads += 1;
      return json(response, 200, {
        success: true,
        message: "Succeeded to update model weights.",
        num_paused_requests: 0,
      });
    }
    if (params.flavor === "vllm" && path === "/collective_rpc") {
      if (body["method"] !== "reload_weights")
        return json(response, 400, { error: { message: `unknown method ${String(body["method"])}` } });
      weights = readWeights(loadedPath);
      loads += 1;
      return json(response, 200, { results: [null] });
    }
    if (params.flavor === "vllm" && path === "/reset_prefix_cache") return json(response, 200, {});
    const api = path === "/v1/chat/completions" ? "chat" : path === "/v1/completions" ? "completions" : null;
    if (api === null || request.method !== "POST")
      return json(response, 404, { error: { message: `no route ${request.method} ${path}` } });
    if (body["model"] !== model)
      return json(response, 404, {
        error: { message: `The model \`${String(body["model"])}\` does not exist.` },
      });
    const prompt =
      api === "chat"
        ? ((body["messages"] as Array<{ content: string }> | undefined)?.at(-1)?.content ?? "")
        : String(body["prompt"] ?? "");
    const n = typeof body["n"] === "number" ? body["n"] : 1;
    const text = answer(weights, prompt);
    const tokens = text.split(/(?<=\s)/);
    const logprobs = tokens.map((_, index) => -0.05 * (index + 1));
    const choices = Array.from({ length: n }, (_, index) =>
      api === "chat"
        ? {
            index,
            message: { role: "assistant", content: text },
            finish_reason: "stop",
            logprobs: body["logprobs"]
              ? { content: logprobs.map((logprob, at) => ({ token: tokens[at], logprob })) }
              : null,
          }
        : {
            index,
            text,
            finish_reason: "stop",
            logprobs: body["logprobs"] ? { tokens, token_logprobs: logprobs } : null,
          },
    );
    return json(response, 200, {
      id: `test-${requests.length}`,
      object: api === "chat" ? "chat.completion" : "text_completion",
      model,
      choices,
    });
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) =>
      json(response, 500, { error: { message: String(error) } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get loadedPath() {
      return loadedPath;
    },
    get loads() {
      return loads;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
