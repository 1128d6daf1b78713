import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PosttrainError } from "@posttrain/core";
import { defineHeldOutTask, runEval, startServeServerFromFolder } from "@posttrain/evals";
import { writeTinyServeModel } from "@posttrain/evals/test";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestGenerationServer, type TestGenerationServer } from "../test/generation-server.js";
import { createRemoteGenerationBackend } from "./weight-sync.js";

async function weights(root: string, name: string, skill: number, architecture = "LlamaForCausalLM") {
  const directory = join(root, name);
  await mkdir(directory, { recursive: true });
  await writeFile(join(directory, "config.json"), JSON.stringify({ architectures: [architecture] }));
  await writeFile(join(directory, "policy.json"), JSON.stringify({ skill }));
  return directory;
}

describe("remote generation with weight pushes (SGLang- and vLLM-style servers)", () => {
  let root: string;
  let task: ReturnType<typeof defineHeldOutTask>;
  let server: TestGenerationServer | undefined;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "posttrain-remote-"));
    const split = join(root, "heldout");
    await mkdir(split, { recursive: true });
    await writeFile(
      join(split, "test.jsonl"),
      [0, 1, 2, 3]
        .map((index) =>
          JSON.stringify({
            messages: [
              { role: "user", content: `Tom has ${index} apples and buys 2 more. How many apples?` },
            ],
            ground_truth: String(index + 2),
            dataset: "gsm8k",
          }),
        )
        .join("\n"),
    );
    task = defineHeldOutTask({ name: "apples", directory: split, verifier: "gsm8k" });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("SGLang: evals run against the server, and /update_weights_from_disk swaps the policy", async () => {
    const base = await weights(root, "base", 0);
    const trained = await weights(root, "step-100", 4);
    const other = await weights(root, "other-arch", 4, "Qwen2ForCausalLM");
    server = await startTestGenerationServer({ flavor: "sglang", modelPath: base, model: "policy" });
    const backend = await createRemoteGenerationBackend({
      endpoint: server.url,
      model: "policy",
      server: "sglang",
      retries: 0,
    });
    const before = await runEval({ task, backend });
    expect(before.tasks[0]?.metrics["accuracy"]?.value).toBe(0);
    const hashBefore = backend.describe().modelHash;
    await backend.updateWeights({ modelPath: trained });
    expect(server.loadedPath).toBe(trained);
    expect(server.requests.at(-1)).toEqual({
      path: "/update_weights_from_disk",
      body: { model_path: trained },
    });
    const after = await runEval({ task, backend });
    expect(after.tasks[0]?.metrics["accuracy"]?.value).toBe(1);
    expect(backend.describe().modelHash).not.toBe(hashBefore);
    expect(backend.updates).toBe(1);
    const refused = await backend.updateWeights({ modelPath: other }).catch((error: unknown) => error);
    expect(PosttrainError.hasCode(refused, "weight_sync_failed")).toBe(true);
    expect((refused as Error).message).toContain("architecture");
    expect(server.loadedPath).toBe(trained);
    expect(backend.updates).toBe(1);
  });

  it("chat and completions requests with n samples and logprobs", async () => {
    server = await startTestGenerationServer({
      flavor: "sglang",
      modelPath: await weights(root, "n-samples", 9),
    });
    const backend = await createRemoteGenerationBackend({
      endpoint: `${server.url}/v1`,
      model: server.loadedPath,
      server: "sglang",
      retries: 0,
    });
    const sampling = { temperature: 1, maxNewTokens: 32, logprobs: true, seed: 5 };
    const [text, chat] = await backend.generate({
      requests: [
        { prompt: { kind: "text", text: "Tom has 1 apples and buys 2 more." }, sampling, samples: 3 },
        {
          prompt: {
            kind: "chat",
            messages: [{ role: "user", content: "Tom has 2 apples and buys 5 more." }],
          },
          sampling,
          samples: 2,
        },
      ],
    });
    expect(text?.map((completion) => completion.text)).toEqual(Array(3).fill("The answer is 3."));
    expect(chat?.map((completion) => completion.text)).toEqual(Array(2).fill("The answer is 7."));
    for (const completion of [...(text ?? []), ...(chat ?? [])])
      expect(completion.logprobs?.length).toBeGreaterThan(0);
    const paths = server.requests.map((request) => request.path);
    expect(paths).toContain("/v1/completions");
    expect(paths).toContain("/v1/chat/completions");
    const completionsBody = server.requests.find((request) => request.path === "/v1/completions")?.body;
    expect(completionsBody).toMatchObject({ n: 3, logprobs: expect.anything() });
  });

  it("vLLM: the trainer rewrites the served folder and asks for reload_weights", async () => {
    const served = await weights(root, "served", 0);
    server = await startTestGenerationServer({ flavor: "vllm", modelPath: served, model: "policy" });
    await expect(
      createRemoteGenerationBackend({ endpoint: server.url, model: "policy", server: "vllm" }),
    ).rejects.toThrow(/servedModelPath/);
    const backend = await createRemoteGenerationBackend({
      endpoint: server.url,
      model: "policy",
      server: "vllm",
      servedModelPath: served,
      retries: 0,
    });
    expect((await runEval({ task, backend })).tasks[0]?.metrics["accuracy"]?.value).toBe(0);
    await writeFile(join(served, "policy.json"), JSON.stringify({ skill: 2 }));
    await backend.updateWeights({ modelPath: served, weightsHash: "step-2" });
    expect(server.requests.slice(-2).map((request) => request.path)).toEqual([
      "/collective_rpc",
      "/reset_prefix_cache",
    ]);
    expect(backend.describe().modelHash).toBe("step-2");
    expect((await runEval({ task, backend })).tasks[0]?.metrics["accuracy"]?.value).toBe(0.5);
    await expect(backend.updateWeights({ modelPath: join(root, "elsewhere") })).rejects.toThrow(
      /only reload its served folder/,
    );
  });

  it("posttrain serve --enable-weight-updates: the push carries the token; without it, weight_sync_unauthorized", async () => {
    const models = join(root, "served-models");
    await writeTinyServeModel({ directory: join(models, "policy"), seed: 5 });
    await writeTinyServeModel({ directory: join(models, "step-1"), seed: 6 });
    const token = "export-weight-push-token-0123456789";
    const served = await startServeServerFromFolder({
      directory: join(models, "policy"),
      threads: 1,
      port: 0,
      weightUpdates: { enabled: true, token, allowedRoot: models },
    });
    try {
      const withToken = await createRemoteGenerationBackend({
        endpoint: served.url,
        model: "policy",
        server: "sglang",
        retries: 0,
        environment: { POSTTRAIN_WEIGHT_UPDATE_TOKEN: token },
      });
      const hashBefore = withToken.describe().modelHash;
      await withToken.updateWeights({ modelPath: join(models, "step-1"), weightsHash: "step-1" });
      expect(withToken.updates).toBe(1);
      expect(withToken.describe().modelHash).not.toBe(hashBefore);
      expect(served.weightVersion()).toBe("1");
      const withoutToken = await createRemoteGenerationBackend({
        endpoint: served.url,
        model: "policy",
        server: "sglang",
        retries: 0,
        environment: {},
      });
      const refused = await withoutToken
        .updateWeights({ modelPath: join(models, "step-1") })
        .catch((error) => error);
      expect(PosttrainError.isInstance(refused)).toBe(true);
      expect((refused as PosttrainError).code).toBe("weight_sync_unauthorized");
      expect((refused as Error).message).toContain("POSTTRAIN_WEIGHT_UPDATE_TOKEN");
      const vllm = await createRemoteGenerationBackend({
        endpoint: served.url,
        model: "policy",
        server: "vllm",
        servedModelPath: join(models, "policy"),
        retries: 0,
        weightUpdateToken: token,
      });
      await vllm.updateWeights({ modelPath: join(models, "policy") });
      expect(served.weightVersion()).toBe("2");
    } finally {
      await served.close();
    }
  });
});
