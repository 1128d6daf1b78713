/**
 * RLVR step, part 1 — rollouts: `samplesPerPrompt` completions of every prompt from a
 * generation backend. A completion carries a per-token loss mask (`completionMask`, 1 = a
 * token the policy sampled and is trained on): single-turn rollouts are all 1; a multi-turn
 * rollout that splices tool output into the completion marks those tokens 0, and the loss,
 * the KL term and every per-token metric then skip them (`promptCompletionBatch`).
 */
import type { GenerationBackend } from "@posttrain/core";
import { TrainError } from "@posttrain/training";
import type { RlvrRow } from "./prompts.js";

/** One sampled completion of a prompt (its group), as the rest of the step consumes it. */
export interface RolloutCompletion {
  row: RlvrRow;
  /** Index of the prompt in the step (completions of one prompt form a group). */
  group: number;
  completionIds: number[];
  /** Per completion token: 1 = the policy's token (trained), 0 = context only (e.g. tool output). */
  completionMask: Uint8Array;
  /** The sampler's log-prob of each completion token (null when the backend gives none). */
  samplingLogProbs: number[] | null;
  /** What the verifier scores: the completion (with tools: the model's final turn). */
  text: string;
  /** Ended by the token budget, not a stop token. */
  truncated: boolean;
  /** Tool calls the rollout made (tool-use rollouts only; absent = single-turn). */
  toolCalls?: number;
  /** Of those, calls whose observation is an error. */
  toolErrors?: number;
}

/** Samples every prompt `samplesPerPrompt` times through `backend` (one request per prompt). */
export async function rollout(params: {
  backend: GenerationBackend;
  prompts: readonly RlvrRow[];
  samplesPerPrompt: number;
  temperature: number;
  maxNewTokens: number;
  /** The sampling seed of this step. */
  seed: number;
}): Promise<RolloutCompletion[]> {
  const completions = await params.backend.generate({
    requests: params.prompts.map((row) => ({
      prompt: { kind: "tokens" as const, tokenIds: [...row.promptIds] },
      samples: params.samplesPerPrompt,
      sampling: {
        temperature: params.temperature,
        maxNewTokens: params.maxNewTokens,
        seed: params.seed,
        logprobs: true,
      },
    })),
  });
  const rollouts: RolloutCompletion[] = [];
  completions.forEach((samples, group) => {
    for (const completion of samples) {
      if (completion.tokenIds === null)
        throw new TrainError({
          code: "train_data_invalid",
          message: "the generation backend returned no token ids",
        });
      rollouts.push({
        row: params.prompts[group]!,
        group,
        completionIds: completion.tokenIds,
        completionMask: new Uint8Array(completion.tokenIds.length).fill(1),
        samplingLogProbs: completion.logprobs,
        text: completion.text,
        truncated: completion.finishReason === "length",
      });
    }
  });
  return rollouts;
}
