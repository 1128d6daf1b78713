/**
 * A generation backend over an external SGLang or vLLM server that returns what RLVR trains
 * on — the completion's token ids and their sampling log-probs — and can be switched to the
 * trainer's current policy ({@link WeightSyncingGenerationBackend}).
 *
 * Prompts: token prompts are sent as ids; text and chat prompts are turned into ids locally
 * with the trainer's tokenizer (the engine's `promptTokenIds`: chat template + generation
 * prompt + assistant prefix), so the server never re-tokenises. Requests run concurrently up
 * to `concurrency`. Seeds: request i derives its seeds from `(sampling.seed, i)` (SGLang: one
 * `sampling_seed` per sample; vLLM: one `seed` per request), so a rollout does not depend on
 * how requests were scheduled.
 *
 * Weight sync (`syncWeights`):
 * - SGLang: the policy is written to `<weightsDirectory>/step-NNNNNN` (whole folder renamed into
 *   place), then `/update_weights_from_disk` loads it (as `<serverWeightsDirectory>/step-NNNNNN`
 *   when the server mounts the folder elsewhere); older step folders are pruned (`keepWeightFolders`).
 * - vLLM: the policy overwrites the files of the folder the server serves
 *   (`weightsDirectory`), then `/collective_rpc reload_weights` and `/reset_prefix_cache`.
 * Both resolve only once the server answered success, so the next rollout uses the new policy.
 * See sglang.ts and vllm.ts for the exact request and answer shapes.
 */
import { performance } from "node:perf_hooks";
import type { Completion, GenerationBackendDescription } from "@posttrain/core";
import { sha256Hex } from "@posttrain/core";
import { type GenerationTokenizer, promptTokenIds } from "@posttrain/engine";
import { parameterBytes } from "@posttrain/training";
import { RemoteGenerationError } from "./errors.js";
import type { HttpClientOptions } from "./http.js";
import { sglangGenerate, sglangUpdateWeights } from "./sglang.js";
import { vllmGenerate, vllmReloadWeights, vllmServedModel } from "./vllm.js";
import type { WeightSyncingGenerationBackend, WeightSyncReport } from "./weight-sync.js";
import { pruneVersionFolders, versionName, writeInPlace, writeVersionFolder } from "./weights-folder.js";

export interface RemoteGenerationBackendParams {
  server: "sglang" | "vllm";
  /** The server's base URL (`http://host:30000`; a trailing `/v1` is accepted). */
  url: string;
  /** Sent as `Authorization: Bearer …` (from the environment, never from a recipe). */
  apiKey?: string;
  /** Turns text and chat prompts into token ids. */
  tokenizer: GenerationTokenizer;
  /** SGLang: the parent of the per-sync folders. vLLM: the folder the server serves (overwritten). */
  weightsDirectory: string;
  /** The same folder as the server sees it (another mount). Default: `weightsDirectory`. */
  serverWeightsDirectory?: string;
  /** vLLM: the served model id (`model` in requests). Default: the first of `GET /v1/models`. */
  servedModel?: string;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  /** Per-request timeout (default 600,000 ms). */
  timeoutMilliseconds?: number;
  /** Retries after the first attempt (default 3); backoff doubles from `backoffMilliseconds` (500). */
  retries?: number;
  backoffMilliseconds?: number;
  /** SGLang: send `sampling_seed` (default true; older releases reject it). */
  sendSamplingSeed?: boolean;
  /** SGLang: step folders kept on disk (default 2: the loaded one and the one before). */
  keepWeightFolders?: number;
  /** Injected for tests. */
  fetch?: typeof fetch;
}

function createLimiter(concurrency: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}

export function createRemoteGenerationBackend(
  params: RemoteGenerationBackendParams,
): WeightSyncingGenerationBackend {
  const baseUrl = params.url.replace(/\/+$/, "").replace(/\/v1$/, "");
  if (!/^https?:\/\//.test(baseUrl))
    throw new RemoteGenerationError({
      code: "remote_generation_config_invalid",
      message: `the generation server URL must start with http:// or https://, got ${params.url}`,
    });
  const client: HttpClientOptions = {
    baseUrl,
    ...(params.apiKey === undefined ? {} : { apiKey: params.apiKey }),
    timeoutMilliseconds: params.timeoutMilliseconds ?? 600_000,
    retries: params.retries ?? 3,
    backoffMilliseconds: params.backoffMilliseconds ?? 500,
    fetch: params.fetch ?? fetch,
  };
  const limit = createLimiter(params.concurrency ?? 16);
  const serverDirectory = params.serverWeightsDirectory ?? params.weightsDirectory;
  let servedModel: Promise<string> | undefined =
    params.servedModel === undefined ? undefined : Promise.resolve(params.servedModel);
  let lastSync: WeightSyncReport | null = null;

  return {
    describe(): GenerationBackendDescription {
      return {
        kind: `remote-${params.server}`,
        model: `${params.servedModel ?? params.server} @ ${baseUrl}`,
        ...(lastSync === null ? {} : { modelHash: lastSync.parametersHash }),
      };
    },
    async generate({ requests, signal, onProgress }) {
      const results: Completion[][] = requests.map(() => []);
      let completedRequests = 0;
      let generatedTokens = 0;
      if (params.server === "vllm") servedModel ??= vllmServedModel({ client });
      await Promise.all(
        requests.map((request, requestIndex) =>
          limit(async () => {
            const prompt = promptTokenIds({ request, tokenizer: params.tokenizer });
            const common = {
              client,
              request,
              requestIndex,
              promptTokenIds: prompt,
              ...(signal === undefined ? {} : { signal }),
            };
            const completions =
              params.server === "sglang"
                ? await sglangGenerate({ ...common, sendSamplingSeed: params.sendSamplingSeed ?? true })
                : await vllmGenerate({ ...common, model: await servedModel! });
            results[requestIndex] = completions;
            completedRequests += 1;
            generatedTokens += completions.reduce(
              (total, completion) => total + (completion.tokenIds?.length ?? 0),
              0,
            );
            onProgress?.({ completedRequests, totalRequests: requests.length, generatedTokens });
          }),
        ),
      );
      return results;
    },
    async syncWeights({ weights, step, signal }) {
      const weightVersion = versionName(step);
      const writeStarted = performance.now();
      const directory =
        params.server === "sglang"
          ? await writeVersionFolder({ parent: params.weightsDirectory, name: weightVersion, weights })
          : await writeInPlace({ directory: params.weightsDirectory, weights });
      const loadStarted = performance.now();
      const loadedPath = params.server === "sglang" ? `${serverDirectory}/${weightVersion}` : serverDirectory;
      const message =
        params.server === "sglang"
          ? await sglangUpdateWeights({
              client,
              modelPath: loadedPath,
              weightVersion,
              ...(signal === undefined ? {} : { signal }),
            })
          : await vllmReloadWeights({ client, ...(signal === undefined ? {} : { signal }) });
      const loadEnded = performance.now();
      if (params.server === "sglang")
        await pruneVersionFolders({ parent: params.weightsDirectory, keep: params.keepWeightFolders ?? 2 });
      lastSync = {
        step,
        weightVersion,
        directory,
        serverDirectory: loadedPath,
        parametersHash: sha256Hex(parameterBytes(weights.parameters)),
        message,
        seconds: { write: (loadStarted - writeStarted) / 1000, load: (loadEnded - loadStarted) / 1000 },
      };
      return lastSync;
    },
  };
}
