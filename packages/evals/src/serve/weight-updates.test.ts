import { copyFile, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { loadTokenizer } from "@posttrain/data";
import { createEmbeddedGenerationBackend, loadPretrainedModel } from "@posttrain/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { microTokenizerDirectory } from "../test/serve-model.js";
import { writeTinyServeModel } from "../test/write-serve-model.js";
import type { ServeServer } from "./server.js";
import { startServeServerFromFolder } from "./start.js";

interface NativeAnswer {
  text: string;
  output_ids: number[];
  meta_info: {
    prompt_tokens: number;
    completion_tokens: number;
    weight_version: string;
    finish_reason: { type: string };
    output_token_logprobs: [number, number, null][];
  };
}
// biome-ignore lint/suspicious/noExplicitAny: JSON answers of several shapes, checked by the assertions.
type Json = any;
const json = async (response: Response | Promise<Response>): Promise<Json> => (await response).json();

/** Greedy ids and log-probs of `prompt` under the model folder `directory`, in process. */
async function greedyInProcess(directory: string, prompt: number[], maxNewTokens: number) {
  const [model, tokenizer] = await Promise.all([
    loadPretrainedModel({ directory }),
    loadTokenizer({ directory: microTokenizerDirectory }),
  ]);
  const backend = createEmbeddedGenerationBackend({ model, tokenizer, threads: 1 });
  const completions = await backend.generate({
    requests: [
      {
        prompt: { kind: "tokens", tokenIds: prompt },
        sampling: { temperature: 0, maxNewTokens, logprobs: true },
      },
    ],
  });
  const completion = completions[0]![0]!;
  return { tokenIds: completion.tokenIds!, logprobs: completion.logprobs! };
}

describe("posttrain serve: SGLang /generate, /update_weights_from_disk, vLLM reload", () => {
  let root: string;
  let served: string;
  let other: string;
  let server: ServeServer;
  const base = () => server.url.replace(/\/v1$/, "");
  const token = "test-weight-update-token-0123456789";
  const post = (path: string, body: unknown, authorization: string | null = `Bearer ${token}`) =>
    fetch(`${base()}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(authorization === null ? {} : { authorization }),
      },
      body: JSON.stringify(body),
    });
  const prompt = [72, 101, 108, 108, 111];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "serve-weights-"));
    served = join(root, "served");
    other = join(root, "other");
    // Scaled-up random weights make greedy choices decisive (no float near-ties).
    await writeTinyServeModel({ directory: served, seed: 5, scale: 4 });
    await writeTinyServeModel({ directory: other, seed: 9, scale: 4 });
    server = await startServeServerFromFolder({
      directory: served,
      threads: 1,
      port: 0,
      maxBatchSize: 8,
      weightUpdates: { enabled: true, token, allowedRoot: root },
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("/generate answers token ids and sampling log-probs in SGLang's shape", async () => {
    const single = await post("/generate", {
      input_ids: prompt,
      sampling_params: { temperature: 0, max_new_tokens: 6 },
      return_logprob: true,
    });
    expect(single.status).toBe(200);
    const answer: NativeAnswer = await json(single);
    const expected = await greedyInProcess(served, prompt, 6);
    expect(answer.output_ids).toEqual(expected.tokenIds);
    expect(answer.meta_info.completion_tokens).toBe(expected.tokenIds.length);
    expect(answer.meta_info.prompt_tokens).toBe(prompt.length);
    expect(answer.meta_info.weight_version).toBe("default");
    expect(answer.meta_info.finish_reason.type).toMatch(/^(stop|length)$/);
    const logProbs = answer.meta_info.output_token_logprobs.map((entry: [number, number, null]) => entry[0]);
    const ids = answer.meta_info.output_token_logprobs.map((entry: [number, number, null]) => entry[1]);
    expect(ids).toEqual(expected.tokenIds);
    logProbs.forEach((value: number, index: number) => {
      expect(value).toBeCloseTo(expected.logprobs[index]!, 4);
    });

    // A batch with n samples: a list, prompt-major; a sampling seed makes it reproducible.
    const batch = {
      input_ids: [prompt, [72, 105]],
      sampling_params: [
        { temperature: 1, max_new_tokens: 4, n: 3, sampling_seed: 11 },
        { temperature: 1, max_new_tokens: 4, n: 3, sampling_seed: 12 },
      ],
      return_logprob: true,
    };
    const first = await json(post("/generate", batch));
    const again = await json(post("/generate", batch));
    expect(first).toHaveLength(6);
    expect(first.map((entry: { output_ids: number[] }) => entry.output_ids)).toEqual(
      again.map((entry: { output_ids: number[] }) => entry.output_ids),
    );
    expect(first[3].meta_info.prompt_tokens).toBe(2);
    for (const entry of first)
      expect(entry.meta_info.output_token_logprobs).toHaveLength(entry.output_ids.length);
  });

  it("/generate refuses what it cannot honour, naming the field", async () => {
    const both = await post("/generate", { text: "Hi", input_ids: prompt });
    expect(both.status).toBe(400);
    expect((await json(both)).error.param).toBe("input_ids");
    const penalty = await post("/generate", {
      input_ids: prompt,
      sampling_params: { repetition_penalty: 1.2 },
    });
    expect(penalty.status).toBe(400);
    expect((await json(penalty)).error.param).toBe("sampling_params.repetition_penalty");
  });

  it("/v1/completions returns token ids with vLLM's return_token_ids", async () => {
    const response = await post("/v1/completions", {
      model: "served",
      prompt,
      max_tokens: 5,
      temperature: 0,
      logprobs: 0,
      return_token_ids: true,
    });
    const answer = await json(response);
    const expected = await greedyInProcess(served, prompt, 5);
    expect(answer.choices[0].token_ids).toEqual(expected.tokenIds);
    expect(answer.choices[0].prompt_token_ids).toEqual(prompt);
  });

  it("/update_weights_from_disk swaps the weights: answers then match the new folder's model", async () => {
    const before = await json(
      post("/generate", {
        input_ids: prompt,
        sampling_params: { temperature: 0, max_new_tokens: 8 },
        return_logprob: true,
      }),
    );
    // An in-flight request finishes on the weights it started with.
    const inFlight = post("/generate", {
      input_ids: prompt,
      sampling_params: { temperature: 0, max_new_tokens: 8 },
      return_logprob: true,
    }).then(json);
    const update = await post("/update_weights_from_disk", { model_path: other, weight_version: "step-1" });
    expect(update.status).toBe(200);
    expect(await json(update)).toEqual({
      success: true,
      message: expect.stringContaining(other),
      num_paused_requests: 0,
    });
    expect((await inFlight).output_ids).toEqual(before.output_ids);
    const after = await json(
      post("/generate", {
        input_ids: prompt,
        sampling_params: { temperature: 0, max_new_tokens: 8 },
        return_logprob: true,
      }),
    );
    const expected = await greedyInProcess(other, prompt, 8);
    expect(after.output_ids).toEqual(expected.tokenIds);
    expect(after.output_ids).not.toEqual(before.output_ids);
    after.meta_info.output_token_logprobs.forEach((entry: [number, number, null], index: number) => {
      expect(entry[0]).toBeCloseTo(expected.logprobs[index]!, 4);
    });
    expect(after.meta_info.weight_version).toBe("step-1");
    expect((await json(fetch(`${base()}/get_model_info`))).weight_version).toBe("step-1");
  });

  it("/update_weights_from_disk answers success false (400) for a folder that does not fit", async () => {
    const wrong = join(root, "wrong");
    await writeTinyServeModel({ directory: wrong, seed: 1, hiddenSize: 64 });
    const response = await post("/update_weights_from_disk", { model_path: wrong });
    expect(response.status).toBe(400);
    const answer = await json(response);
    expect(answer.success).toBe(false);
    expect(answer.message).toMatch(/other parameter shapes/);
    const missing = await post("/update_weights_from_disk", { model_path: join(root, "absent") });
    expect(missing.status).toBe(400);
    expect((await json(missing)).success).toBe(false);
    const aborting = await post("/update_weights_from_disk", { model_path: other, abort_all_requests: true });
    expect(aborting.status).toBe(400);
    expect((await json(aborting)).error.param).toBe("abort_all_requests");
  });

  it("/collective_rpc reload_weights re-reads the served folder (vLLM dev mode)", async () => {
    // The trainer overwrites the served folder's weights, then asks for a reload.
    const fresh = join(root, "fresh");
    await writeTinyServeModel({ directory: fresh, seed: 21, scale: 4 });
    await copyFile(join(fresh, "model.safetensors"), join(served, "model.safetensors"));
    const reload = await post("/collective_rpc", { method: "reload_weights" });
    expect(reload.status).toBe(200);
    expect(await json(reload)).toEqual({ results: [null] });
    expect((await post("/reset_prefix_cache", {})).status).toBe(200);
    const after = await json(
      post("/generate", { input_ids: prompt, sampling_params: { temperature: 0, max_new_tokens: 8 } }),
    );
    expect(after.output_ids).toEqual((await greedyInProcess(fresh, prompt, 8)).tokenIds);
    const unknown = await post("/collective_rpc", { method: "execute_model" });
    expect(unknown.status).toBe(400);
  });

  it("S3: weight routes need the bearer token and a model path inside the allowed root", async () => {
    const info = await json(fetch(`${base()}/get_model_info`));
    const expectRefused = async (response: Response, status: number, code: string) => {
      expect(response.status).toBe(status);
      const body = await json(response);
      expect(body.error.code).toBe(code);
      expect(typeof body.error.message).toBe("string");
      return response;
    };
    // No token, a wrong token (also one of another length), a malformed header: 401, nothing loaded.
    const missing = await expectRefused(
      await post("/update_weights_from_disk", { model_path: other }, null),
      401,
      "serve_unauthorized",
    );
    expect(missing.headers.get("www-authenticate")).toBe("Bearer");
    await expectRefused(
      await post("/update_weights_from_disk", { model_path: other }, `Bearer ${token.slice(0, -1)}x`),
      401,
      "serve_unauthorized",
    );
    await expectRefused(
      await post("/update_weights_from_disk", { model_path: other }, "Bearer short"),
      401,
      "serve_unauthorized",
    );
    await expectRefused(
      await post("/update_weights_from_disk", { model_path: other }, token),
      401,
      "serve_unauthorized",
    );
    await expectRefused(
      await post("/collective_rpc", { method: "reload_weights" }, null),
      401,
      "serve_unauthorized",
    );
    await expectRefused(await post("/reset_prefix_cache", {}, null), 401, "serve_unauthorized");

    // Outside the root: an absolute path, a `..` escape, a symlink to a folder outside, and a
    // folder inside whose weights file is a symlink to one outside: 403, nothing loaded.
    const outside = await mkdtemp(join(tmpdir(), "serve-outside-"));
    try {
      await writeTinyServeModel({ directory: join(outside, "evil"), seed: 13, scale: 4 });
      await expectRefused(
        await post("/update_weights_from_disk", { model_path: join(outside, "evil") }),
        403,
        "serve_model_path_forbidden",
      );
      await expectRefused(
        await post("/update_weights_from_disk", { model_path: join(root, "..", basename(outside), "evil") }),
        403,
        "serve_model_path_forbidden",
      );
      await symlink(join(outside, "evil"), join(root, "linked"));
      await expectRefused(
        await post("/update_weights_from_disk", { model_path: join(root, "linked") }),
        403,
        "serve_model_path_forbidden",
      );
      const planted = join(root, "planted");
      await mkdir(planted);
      await copyFile(join(other, "config.json"), join(planted, "config.json"));
      await symlink(join(outside, "evil", "model.safetensors"), join(planted, "model.safetensors"));
      const refused = await expectRefused(
        await post("/update_weights_from_disk", { model_path: planted }),
        403,
        "serve_model_path_forbidden",
      );
      expect((await json(fetch(`${base()}/get_model_info`))).weight_version).toBe(info.weight_version);
      expect(refused.status).toBe(403);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
    // The server still answers a normal request.
    const normal = await post(
      "/generate",
      { input_ids: prompt, sampling_params: { temperature: 0, max_new_tokens: 4 } },
      null,
    );
    expect(normal.status).toBe(200);
    expect((await json(normal)).meta_info.weight_version).toBe(info.weight_version);
  });
});

describe("posttrain serve: weight routes are off by default", () => {
  let root: string;
  let server: ServeServer;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "serve-weights-off-"));
    await writeTinyServeModel({ directory: join(root, "served"), seed: 5 });
    await writeTinyServeModel({ directory: join(root, "other"), seed: 9 });
    server = await startServeServerFromFolder({ directory: join(root, "served"), threads: 1, port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("answers 403 on every weight route, token or not, and keeps the weights", async () => {
    const base = server.url.replace(/\/v1$/, "");
    for (const [path, body] of [
      ["/update_weights_from_disk", { model_path: join(root, "other") }],
      ["/collective_rpc", { method: "reload_weights" }],
      ["/reset_prefix_cache", {}],
    ] as const) {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer anything-at-all-0123456789" },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(403);
      const answer = await json(response);
      expect(answer.error.code).toBe("serve_weight_updates_disabled");
      expect(answer.error.message).toContain("--enable-weight-updates");
    }
    expect(server.weightVersion()).toBe("default");
  });

  it("refuses to start with a short token or a missing root", async () => {
    await expect(
      startServeServerFromFolder({
        directory: join(root, "served"),
        threads: 1,
        port: 0,
        weightUpdates: { enabled: true, token: "short", allowedRoot: root },
      }),
    ).rejects.toMatchObject({ code: "serve_weight_update_token_invalid" });
    await expect(
      startServeServerFromFolder({
        directory: join(root, "served"),
        threads: 1,
        port: 0,
        weightUpdates: {
          enabled: true,
          token: "a-long-enough-token-0123456789",
          allowedRoot: join(root, "absent"),
        },
      }),
    ).rejects.toMatchObject({ code: "serve_weight_update_root_invalid" });
  });
});
