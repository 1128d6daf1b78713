import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError } from "@posttrain/core";
import { loadTrainingModel } from "@posttrain/training";
import { afterEach, describe, expect, it } from "vitest";
import { toyModelConfig, toyTokenizer } from "../test/toy.js";
import { createRemoteBackendFromConfig } from "./from-config.js";
import { createRemoteGenerationBackend } from "./remote-backend.js";
import type { PolicyWeights } from "./weight-sync.js";

interface Recorded {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
  authorization: string | undefined;
}

/** A scripted HTTP server: each path answers with `routes[path](body)` → [status, json]. */
async function fakeServer(
  routes: Record<string, (body: Record<string, unknown> | null) => [number, unknown]>,
): Promise<{ url: string; requests: Recorded[]; server: Server }> {
  const requests: Recorded[] = [];
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const body = text === "" ? null : (JSON.parse(text) as Record<string, unknown>);
    const path = request.url ?? "/";
    requests.push({ method: request.method ?? "", path, body, authorization: request.headers.authorization });
    const route = routes[path];
    const [status, answer] = route === undefined ? [404, { error: "no route" }] : route(body);
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function policy(): Promise<PolicyWeights> {
  const loaded = await loadTrainingModel({ source: { kind: "initialize", config: toyModelConfig, seed: 3 } });
  return { config: loaded.config, layout: loaded.layout, parameters: loaded.parameters };
}

/** An SGLang `/generate` sequence answering `ids` (log-prob −0.5 each). */
const sglangSequence = (ids: number[], finish: "stop" | "length" = "stop") => ({
  text: ids.join(","),
  output_ids: ids,
  meta_info: {
    id: "x",
    finish_reason: finish === "stop" ? { type: "stop", matched: 2 } : { type: "length", length: ids.length },
    prompt_tokens: 4,
    completion_tokens: ids.length,
    output_token_logprobs: ids.map((id) => [-0.5, id, null]),
  },
});

const rolloutRequest = {
  prompt: { kind: "tokens" as const, tokenIds: [1, 3, 7, 4] },
  samples: 3,
  sampling: { temperature: 1, maxNewTokens: 2, seed: 42, logprobs: true },
};

const expectCode = async (promise: Promise<unknown>, code: string, message?: RegExp) => {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(PosttrainError.isInstance(error)).toBe(true);
  expect((error as PosttrainError).code).toBe(code);
  if (message !== undefined) expect((error as Error).message).toMatch(message);
};

describe("remote generation backend: SGLang", () => {
  it("sends one sequence per sample with its own seed and reads token ids and log-probs", async () => {
    const fake = await fakeServer({
      "/generate": (body) => {
        const count = (body!["input_ids"] as unknown[]).length;
        return [200, Array.from({ length: count }, (_, index) => sglangSequence([5 + index, 2]))];
      },
    });
    servers.push(fake.server);
    const backend = createRemoteGenerationBackend({
      server: "sglang",
      url: `${fake.url}/v1`,
      tokenizer: toyTokenizer,
      weightsDirectory: mkdtempSync(join(tmpdir(), "rlvr-remote-")),
    });
    const [completions] = await backend.generate({ requests: [rolloutRequest] });
    expect(completions).toEqual([
      { text: "5,2", tokenIds: [5, 2], logprobs: [-0.5, -0.5], finishReason: "stop" },
      { text: "6,2", tokenIds: [6, 2], logprobs: [-0.5, -0.5], finishReason: "stop" },
      { text: "7,2", tokenIds: [7, 2], logprobs: [-0.5, -0.5], finishReason: "stop" },
    ]);
    const body = fake.requests[0]!.body!;
    expect(body["input_ids"]).toEqual([
      [1, 3, 7, 4],
      [1, 3, 7, 4],
      [1, 3, 7, 4],
    ]);
    expect(body["return_logprob"]).toBe(true);
    const sampling = body["sampling_params"] as Array<Record<string, unknown>>;
    expect(sampling[0]).toMatchObject({ max_new_tokens: 2, temperature: 1, n: 1 });
    const seeds = sampling.map((entry) => entry["sampling_seed"]);
    expect(new Set(seeds).size).toBe(3);
    // The same request derives the same seeds (rollouts are reproducible).
    await backend.generate({ requests: [rolloutRequest] });
    expect(
      (fake.requests[1]!.body!["sampling_params"] as Array<Record<string, unknown>>).map(
        (entry) => entry["sampling_seed"],
      ),
    ).toEqual(seeds);
  });

  it("refuses answers that do not have SGLang's shape, naming the field", async () => {
    const fake = await fakeServer({
      "/generate": () => [200, [{ text: "a", meta_info: { finish_reason: { type: "stop" } } }]],
    });
    servers.push(fake.server);
    const backend = createRemoteGenerationBackend({
      server: "sglang",
      url: fake.url,
      tokenizer: toyTokenizer,
      weightsDirectory: mkdtempSync(join(tmpdir(), "rlvr-remote-")),
    });
    await expectCode(
      backend.generate({ requests: [{ ...rolloutRequest, samples: 1 }] }),
      "remote_generation_invalid_response",
      /output_ids/,
    );
  });

  it("syncWeights writes a whole step folder, loads it as the server sees it, and prunes old ones", async () => {
    const fake = await fakeServer({
      "/update_weights_from_disk": (body) => [
        200,
        { success: true, message: `loaded ${String(body!["model_path"])}`, num_paused_requests: 0 },
      ],
    });
    servers.push(fake.server);
    const weightsDirectory = mkdtempSync(join(tmpdir(), "rlvr-remote-"));
    const backend = createRemoteGenerationBackend({
      server: "sglang",
      url: fake.url,
      tokenizer: toyTokenizer,
      weightsDirectory,
      serverWeightsDirectory: "/mnt/shared/weights",
    });
    const weights = await policy();
    for (const step of [0, 1, 2]) await backend.syncWeights({ weights, step });
    const report = await backend.syncWeights({ weights, step: 3 });
    expect(report).toMatchObject({
      step: 3,
      weightVersion: "step-000003",
      directory: join(weightsDirectory, "step-000003"),
      serverDirectory: "/mnt/shared/weights/step-000003",
      message: "loaded /mnt/shared/weights/step-000003",
    });
    expect(fake.requests.at(-1)!.body).toEqual({
      model_path: "/mnt/shared/weights/step-000003",
      weight_version: "step-000003",
    });
    expect(readdirSync(weightsDirectory).sort()).toEqual(["step-000002", "step-000003"]);
    for (const file of ["config.json", "model.safetensors", "parameters.bin"])
      expect(existsSync(join(weightsDirectory, "step-000003", file))).toBe(true);
    expect(backend.describe().modelHash).toBe(report.parametersHash);
  });

  it("a refused update is remote_generation_weight_update_failed with SGLang's message", async () => {
    const fake = await fakeServer({
      "/update_weights_from_disk": () => [
        400,
        { success: false, message: "shape mismatch", num_paused_requests: 0 },
      ],
    });
    servers.push(fake.server);
    const backend = createRemoteGenerationBackend({
      server: "sglang",
      url: fake.url,
      tokenizer: toyTokenizer,
      weightsDirectory: mkdtempSync(join(tmpdir(), "rlvr-remote-")),
    });
    await expectCode(
      backend.syncWeights({ weights: await policy(), step: 1 }),
      "remote_generation_weight_update_failed",
      /shape mismatch/,
    );
  });
});

describe("remote generation backend: vLLM", () => {
  it("asks /v1/completions for token ids and reads them with the sampled log-probs", async () => {
    const fake = await fakeServer({
      "/v1/models": () => [200, { object: "list", data: [{ id: "policy" }] }],
      "/v1/completions": (body) => [
        200,
        {
          choices: Array.from({ length: body!["n"] as number }, (_, index) => ({
            index: (body!["n"] as number) - 1 - index,
            text: `t${index}`,
            token_ids: [8, index],
            prompt_token_ids: body!["prompt"],
            finish_reason: index === 0 ? "length" : "stop",
            logprobs: {
              tokens: ["a", "b"],
              token_logprobs: [-1, -2],
              top_logprobs: null,
              text_offset: [0, 1],
            },
          })),
        },
      ],
    });
    servers.push(fake.server);
    const backend = createRemoteGenerationBackend({
      server: "vllm",
      url: fake.url,
      tokenizer: toyTokenizer,
      weightsDirectory: mkdtempSync(join(tmpdir(), "rlvr-remote-")),
    });
    const [completions] = await backend.generate({ requests: [rolloutRequest] });
    // Sorted by choice index.
    expect(completions!.map((completion) => completion.tokenIds)).toEqual([
      [8, 2],
      [8, 1],
      [8, 0],
    ]);
    expect(completions![2]!.finishReason).toBe("length");
    expect(completions![0]!.logprobs).toEqual([-1, -2]);
    const body = fake.requests.find((request) => request.path === "/v1/completions")!.body!;
    expect(body).toMatchObject({
      model: "policy",
      prompt: [1, 3, 7, 4],
      n: 3,
      max_tokens: 2,
      temperature: 1,
      logprobs: 0,
      return_token_ids: true,
    });
    expect(typeof body["seed"]).toBe("number");
  });

  it("an older vLLM without token_ids is named in the error", async () => {
    const fake = await fakeServer({
      "/v1/completions": () => [
        200,
        { choices: [{ index: 0, text: "x", finish_reason: "stop", logprobs: null }] },
      ],
    });
    servers.push(fake.server);
    const backend = createRemoteGenerationBackend({
      server: "vllm",
      url: fake.url,
      servedModel: "policy",
      tokenizer: toyTokenizer,
      weightsDirectory: mkdtempSync(join(tmpdir(), "rlvr-remote-")),
    });
    await expectCode(
      backend.generate({ requests: [{ ...rolloutRequest, samples: 1 }] }),
      "remote_generation_invalid_response",
      /token_ids[\s\S]*0\.10\.2|0\.10\.2[\s\S]*token_ids/,
    );
  });

  it("syncWeights overwrites the served folder, then reload_weights and reset_prefix_cache", async () => {
    const fake = await fakeServer({
      "/collective_rpc": () => [200, { results: [null] }],
      "/reset_prefix_cache": () => [200, {}],
    });
    servers.push(fake.server);
    const served = mkdtempSync(join(tmpdir(), "rlvr-served-"));
    const backend = createRemoteGenerationBackend({
      server: "vllm",
      url: fake.url,
      servedModel: "policy",
      tokenizer: toyTokenizer,
      weightsDirectory: served,
    });
    const report = await backend.syncWeights({ weights: await policy(), step: 4 });
    expect(report.directory).toBe(served);
    expect(existsSync(join(served, "model.safetensors"))).toBe(true);
    expect(fake.requests.map((request) => request.path)).toEqual(["/collective_rpc", "/reset_prefix_cache"]);
    expect(fake.requests[0]!.body).toEqual({ method: "reload_weights" });
  });

  it("reload_weights refused (no dev mode) is a weight update failure that says what to set", async () => {
    const fake = await fakeServer({});
    servers.push(fake.server);
    const backend = createRemoteGenerationBackend({
      server: "vllm",
      url: fake.url,
      servedModel: "policy",
      tokenizer: toyTokenizer,
      weightsDirectory: mkdtempSync(join(tmpdir(), "rlvr-served-")),
    });
    await expectCode(
      backend.syncWeights({ weights: await policy(), step: 1 }),
      "remote_generation_weight_update_failed",
      /VLLM_SERVER_DEV_MODE=1/,
    );
  });
});

describe("remote generation from the stage config", () => {
  const remote = {
    backend: "remote" as const,
    server: "sglang" as const,
    url: null,
    servedModel: null,
    syncEverySteps: 1,
    weightsDirectory: null,
    serverWeightsDirectory: null,
    concurrency: 4,
    requestTimeoutSeconds: 30,
    retries: 0,
    sendSamplingSeed: true,
  };

  it("takes the URL from the caller, then the config, then POSTTRAIN_GENERATION_URL", () => {
    const make = (params: {
      endpoint?: { url: string };
      url?: string | null;
      environment?: NodeJS.ProcessEnv;
    }) =>
      createRemoteBackendFromConfig({
        generation: { ...remote, url: params.url ?? null },
        ...(params.endpoint === undefined ? {} : { endpoint: params.endpoint }),
        runDirectory: "/tmp/run",
        tokenizer: toyTokenizer,
        environment: params.environment ?? {},
      }).describe().model;
    expect(make({ environment: { POSTTRAIN_GENERATION_URL: "http://env:1" } })).toContain("http://env:1");
    expect(
      make({ url: "http://config:2", environment: { POSTTRAIN_GENERATION_URL: "http://env:1" } }),
    ).toContain("http://config:2");
    expect(make({ endpoint: { url: "http://flag:3" }, url: "http://config:2" })).toContain("http://flag:3");
    expect(() => make({})).toThrow(/POSTTRAIN_GENERATION_URL/);
  });

  it("a vLLM server needs the folder it serves", () => {
    expect(() =>
      createRemoteBackendFromConfig({
        generation: { ...remote, server: "vllm", url: "http://host:8000" },
        runDirectory: "/tmp/run",
        tokenizer: toyTokenizer,
        environment: {},
      }),
    ).toThrow(/weightsDirectory/);
    // Never the run's initial model folder (a resume reloads the KL reference from it).
    expect(() =>
      createRemoteBackendFromConfig({
        generation: { ...remote, server: "vllm", url: "http://host:8000", weightsDirectory: "/models/init/" },
        runDirectory: "/tmp/run",
        tokenizer: toyTokenizer,
        protectedDirectories: ["/models/init"],
        environment: {},
      }),
    ).toThrow(/initial model/);
  });

  it("sends the API key, else posttrain serve's weight-update token, as a bearer token on weight pushes", async () => {
    const fake = await fakeServer({
      "/update_weights_from_disk": (body) => [
        200,
        { success: true, message: `loaded ${String(body!["model_path"])}`, num_paused_requests: 0 },
      ],
    });
    servers.push(fake.server);
    const push = async (environment: NodeJS.ProcessEnv) => {
      const backend = createRemoteBackendFromConfig({
        generation: {
          ...remote,
          url: fake.url,
          weightsDirectory: mkdtempSync(join(tmpdir(), "rlvr-token-")),
        },
        runDirectory: "/tmp/run",
        tokenizer: toyTokenizer,
        environment,
      });
      await backend.syncWeights({ weights: await policy(), step: 0 });
      return fake.requests.at(-1)!.authorization;
    };
    expect(await push({ POSTTRAIN_WEIGHT_UPDATE_TOKEN: "serve-token" })).toBe("Bearer serve-token");
    expect(
      await push({ POSTTRAIN_GENERATION_API_KEY: "api-key", POSTTRAIN_WEIGHT_UPDATE_TOKEN: "serve-token" }),
    ).toBe("Bearer api-key");
    expect(await push({})).toBeUndefined();
  });

  it("a weight push refused for its token says which variable to set", async () => {
    const fake = await fakeServer({
      "/update_weights_from_disk": () => [
        401,
        { error: { code: "serve_unauthorized", message: "no token" } },
      ],
    });
    servers.push(fake.server);
    const backend = createRemoteBackendFromConfig({
      generation: { ...remote, url: fake.url, weightsDirectory: mkdtempSync(join(tmpdir(), "rlvr-token-")) },
      runDirectory: "/tmp/run",
      tokenizer: toyTokenizer,
      environment: {},
    });
    await expectCode(
      backend.syncWeights({ weights: await policy(), step: 0 }),
      "remote_generation_status",
      /POSTTRAIN_WEIGHT_UPDATE_TOKEN/,
    );
  });
});
