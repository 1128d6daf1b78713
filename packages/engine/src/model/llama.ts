/**
 * The decoder's former from-scratch class name, kept for callers outside the engine that
 * still construct it (the training layer, sft, dpo, rlvr, bench). Every graph is built by
 * {@link DecoderModel} (decoder.ts); this file holds no graph code.
 */
import { DecoderModel } from "./decoder.js";
import type { LlamaConfig } from "./llama-config.js";

/**
 * @deprecated Use `new DecoderModel(config, { threadInvariantGemms: false })`: this is that
 * preset under its former name (a {@link LlamaConfig}, one Gemm per projection).
 */
export class LlamaModel extends DecoderModel {
  constructor(config: LlamaConfig) {
    super(config, { threadInvariantGemms: false });
  }
}

/** @deprecated Import these from decoder.ts (or the package root). */
export type { DecoderInputs, ParameterSpec } from "./decoder.js";
