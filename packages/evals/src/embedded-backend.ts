/**
 * The embedded backend seam. `posttrain eval --model DIR` builds its backend here, so the
 * helper who adds generation to @posttrain/engine fills in exactly this function (load the
 * checkpoint and tokenizer from `modelDirectory`, return the engine's GenerationBackend).
 * Until then it fails with `embedded_backend_unavailable`, pointing at `--endpoint`.
 */
import type { GenerationBackend } from "@posttrain/core";
import { EvaluationError } from "./errors.js";

export async function createEmbeddedBackend(params: { modelDirectory: string }): Promise<GenerationBackend> {
  throw new EvaluationError({
    code: "embedded_backend_unavailable",
    message: `the embedded engine cannot generate yet, so --model ${params.modelDirectory} cannot be evaluated in-process; serve the model with an OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama) and pass --endpoint URL --served-model NAME`,
    details: { modelDirectory: params.modelDirectory },
  });
}
