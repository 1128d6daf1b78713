/**
 * The generation seam. The engine implements it in-process (on token ids, with a
 * tokenizer for text); evals implements it over any OpenAI-compatible HTTP server (vLLM,
 * SGLang, llama.cpp, Ollama, `posttrain serve`). RLVR and evals take either, so this
 * interface lives in core, below both.
 */

/** One chat turn, in the Tulu/OpenAI convention. */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
}

/** What to condition on: raw text (completions API), chat messages, or token ids. */
export type GenerationPrompt =
  | { kind: "text"; text: string }
  /**
   * Messages rendered with the model's chat template and its generation prompt;
   * `assistantPrefix` is appended raw after it (OLMES "assistant prefix").
   */
  | { kind: "chat"; messages: ChatMessage[]; assistantPrefix?: string }
  | { kind: "tokens"; tokenIds: number[] };

export interface SamplingSettings {
  /** 0 means greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  maxNewTokens: number;
  /** Output is cut at the first stop string (which is not included). */
  stop?: string[];
  /** Base seed; sample j of request i uses a stream derived from (seed, i, j). */
  seed?: number;
  /** Return per-token log-probs of the sampled tokens. */
  logprobs?: boolean;
}

export interface GenerationRequest {
  prompt: GenerationPrompt;
  sampling: SamplingSettings;
  /** Number of samples for this prompt (default 1). */
  samples?: number;
}

export interface Completion {
  text: string;
  /** Generated token ids, when the backend exposes them. */
  tokenIds: number[] | null;
  /** Log-probability of each generated token under the sampling distribution. */
  logprobs: number[] | null;
  finishReason: "stop" | "length";
}

export interface GenerationBackendDescription {
  kind: string;
  /** A folder, a repo@revision, or an endpoint URL + served model name. */
  model: string;
  /** A content hash of the weights when known (embedded models). */
  modelHash?: string;
}

/**
 * A continuation to score after a prompt (lm-evaluation-harness `loglikelihood`):
 * - `assistant`: a chat prompt's next assistant turn, tokenized as the chat template renders
 *   the whole conversation (its end-of-turn tokens included) — the tokens DPO trains on;
 * - `text`: raw text appended to a text or token prompt, encoded without special tokens.
 */
export type Continuation = { kind: "assistant"; content: string } | { kind: "text"; text: string };

export interface ContinuationRequest {
  prompt: GenerationPrompt;
  continuation: Continuation;
}

export interface ContinuationScore {
  /** Sum over the continuation's tokens of log p(token | prompt, earlier tokens), natural log. */
  logProbability: number;
  tokenCount: number;
}

export interface GenerationBackend {
  describe(): GenerationBackendDescription;
  /**
   * Log-probabilities of continuations, one per request, in request order. Optional: a
   * backend that cannot score text it did not generate (most HTTP servers) leaves it out,
   * and tasks that need it say so.
   */
  scoreContinuations?(params: {
    requests: ContinuationRequest[];
    signal?: AbortSignal;
  }): Promise<ContinuationScore[]>;
  /** One array of `samples` completions per request, in request order. */
  generate(params: {
    requests: GenerationRequest[];
    signal?: AbortSignal;
    onProgress?: (progress: {
      completedRequests: number;
      totalRequests: number;
      generatedTokens: number;
    }) => void;
  }): Promise<Completion[][]>;
  close?(): Promise<void>;
}
