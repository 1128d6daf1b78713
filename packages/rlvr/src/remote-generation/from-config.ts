/**
 * Builds the remote generation backend of an RLVR run from its `generation` config plus what
 * must not live in a recipe: the URL may come from the caller (a CLI flag) or
 * `POSTTRAIN_GENERATION_URL`, the API key only from the caller or
 * `POSTTRAIN_GENERATION_API_KEY`, else `POSTTRAIN_WEIGHT_UPDATE_TOKEN` (the variable
 * `posttrain serve --enable-weight-updates` reads its token from, so one variable set for
 * both processes makes the trainer's weight pushes authorised). The key is sent as
 * `Authorization: Bearer` on every request. Precedence: caller, then config, then environment.
 */
import { join, resolve } from "node:path";
import type { GenerationTokenizer } from "@posttrain/engine";
import type { GenerationConfig } from "../config.js";
import { RemoteGenerationError } from "./errors.js";
import { createRemoteGenerationBackend } from "./remote-backend.js";
import type { WeightSyncingGenerationBackend } from "./weight-sync.js";

/** Settings of a remote generation server that are not part of the stage config. */
export interface GenerationEndpoint {
  url?: string;
  apiKey?: string;
}

export const generationUrlVariable = "POSTTRAIN_GENERATION_URL";
export const generationApiKeyVariable = "POSTTRAIN_GENERATION_API_KEY";
/** The token variable of `posttrain serve --enable-weight-updates` (@posttrain/evals), the fallback key. */
export const weightUpdateTokenVariable = "POSTTRAIN_WEIGHT_UPDATE_TOKEN";

export function createRemoteBackendFromConfig(params: {
  generation: Extract<GenerationConfig, { backend: "remote" }>;
  endpoint?: GenerationEndpoint;
  /** The run folder (SGLang weight folders default to `<run>/generation-weights`). */
  runDirectory: string;
  tokenizer: GenerationTokenizer;
  /**
   * Folders the pushes must never overwrite (the run's initial model: a resume reloads the
   * frozen KL reference from it). A vLLM `weightsDirectory` equal to one is refused.
   */
  protectedDirectories?: readonly string[];
  environment?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}): WeightSyncingGenerationBackend {
  const { generation } = params;
  const environment = params.environment ?? process.env;
  const url = params.endpoint?.url ?? generation.url ?? environment[generationUrlVariable];
  if (url === undefined || url === "")
    throw new RemoteGenerationError({
      code: "remote_generation_config_invalid",
      message: `generation.backend is "remote" but no server URL is set (generation.url, --generation-url or ${generationUrlVariable})`,
    });
  const apiKey =
    params.endpoint?.apiKey ??
    (environment[generationApiKeyVariable] || undefined) ??
    environment[weightUpdateTokenVariable];
  let weightsDirectory = generation.weightsDirectory;
  if (weightsDirectory === null) {
    if (generation.server === "vllm")
      throw new RemoteGenerationError({
        code: "remote_generation_config_invalid",
        message:
          "a vLLM server reloads only the folder it serves: set generation.weightsDirectory to that folder",
      });
    weightsDirectory = join(params.runDirectory, "generation-weights");
  }
  const target = resolve(weightsDirectory);
  if (
    generation.server === "vllm" &&
    (params.protectedDirectories ?? []).some((directory) => resolve(directory) === target)
  )
    throw new RemoteGenerationError({
      code: "remote_generation_config_invalid",
      message: `generation.weightsDirectory ${weightsDirectory} is the run's initial model, which vLLM pushes would overwrite: serve a copy of it`,
    });
  return createRemoteGenerationBackend({
    server: generation.server,
    url,
    ...(apiKey === undefined || apiKey === "" ? {} : { apiKey }),
    tokenizer: params.tokenizer,
    weightsDirectory,
    ...(generation.serverWeightsDirectory === null
      ? {}
      : { serverWeightsDirectory: generation.serverWeightsDirectory }),
    ...(generation.servedModel === null ? {} : { servedModel: generation.servedModel }),
    concurrency: generation.concurrency,
    timeoutMilliseconds: generation.requestTimeoutSeconds * 1000,
    retries: generation.retries,
    sendSamplingSeed: generation.sendSamplingSeed,
    ...(params.fetch === undefined ? {} : { fetch: params.fetch }),
  });
}
