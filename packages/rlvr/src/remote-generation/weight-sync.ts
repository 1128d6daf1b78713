/**
 * The weight-sync capability of a generation backend. Core's `GenerationBackend` (the seam RLVR
 * and evals share) has no notion of weights; a backend that generates somewhere else (an SGLang
 * or vLLM server) must be told when the policy changed. RLVR checks for this extension with
 * {@link canSyncWeights} and calls `syncWeights` before the rollouts that need the new policy;
 * the embedded backend reads the live parameter buffer and does not need it.
 */
import type { GenerationBackend } from "@posttrain/core";
import type { LlamaConfig, ParameterLayout } from "@posttrain/engine";

/** The policy as the trainer holds it (engine layout). */
export interface PolicyWeights {
  config: LlamaConfig;
  layout: ParameterLayout;
  parameters: Float32Array;
}

/** What one sync did. */
export interface WeightSyncReport {
  /** The trainer step whose weights were pushed (0 = the initial policy). */
  step: number;
  /** The label the server now reports (SGLang `weight_version`), e.g. `step-000012`. */
  weightVersion: string;
  /** The folder written, as the trainer sees it. */
  directory: string;
  /** The same folder as the server was asked to load it. */
  serverDirectory: string;
  /** sha256 of the pushed parameter bytes. */
  parametersHash: string;
  /** The server's message. */
  message: string;
  seconds: { write: number; load: number };
}

/** A generation backend whose model can be replaced by the trainer's current policy. */
export interface WeightSyncingGenerationBackend extends GenerationBackend {
  /** Writes `weights` and makes the server load them; resolves once it generates with them. */
  syncWeights(params: {
    weights: PolicyWeights;
    step: number;
    signal?: AbortSignal;
  }): Promise<WeightSyncReport>;
}

export function canSyncWeights(backend: GenerationBackend): backend is WeightSyncingGenerationBackend {
  return typeof (backend as Partial<WeightSyncingGenerationBackend>).syncWeights === "function";
}
