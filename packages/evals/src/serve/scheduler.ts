/**
 * Continuous batching over the engine's KV-cache decode: every request row joins one running
 * batch, and all rows share each decode step.
 *
 * Policy (one loop, run while there is work):
 * 1. **Admit.** Pending rows (FIFO) fill the free slots up to `maxBatchSize`: they are prefilled
 *    together (one left-padded batch) and merged into the running batch
 *    (`DecodingSession.mergeStates`). New rows therefore wait at most one decode step (plus the
 *    prefill of their group) — there is no batching window and no waiting for a batch to drain.
 * 2. **Sample.** Each row draws its next token from its own `Random` stream (so its output does
 *    not depend on which other rows share the batch), streams the new text, and finishes at an
 *    EOS id, a stop string or `maxNewTokens`.
 * 3. **Evict.** Finished rows and rows whose `signal` aborted (a client that disconnected) leave
 *    the batch (`retainRows` cuts their cache rows out), freeing their slots for step 1.
 * 4. **Step.** One decode step appends the sampled tokens of the remaining rows.
 *
 * Costs: admitting rows costs one prefill during which the running rows wait; rows in a batch
 * are left-padded to the longest cache in it, so a long-prompt row makes the others attend over
 * masked slots until it leaves.
 */
import type { Random } from "@posttrain/core";
import {
  type DecodeState,
  DecodingSession,
  type ExecutionProvider,
  type GenerationTokenizer,
  logSoftmax,
  type PretrainedModel,
  type SamplingParameters,
  sampleToken,
} from "@posttrain/engine";
import { ServeError } from "./errors.js";

/** A candidate token with its raw model log-prob (for `top_logprobs`). */
export interface TokenAlternative {
  tokenId: number;
  logProb: number;
}

/** One generated token as it is streamed. */
export interface TokenEvent {
  tokenId: number;
  /** Log-prob under the sampling distribution (the model's for greedy rows). */
  logProb: number;
  /** The `topLogProbs` most likely tokens under the raw model distribution (empty when 0). */
  alternatives: TokenAlternative[];
  /** New text that is now final (held back while it could still become a stop string). */
  textDelta: string;
}

/** A sequence to generate. */
export interface SequenceRequest {
  promptTokenIds: readonly number[];
  sampling: SamplingParameters;
  maxNewTokens: number;
  stop?: readonly string[];
  /** The row's own stream: its tokens do not depend on the other rows of the batch. */
  random: Random;
  /** Alternatives per token to report (0 = none). */
  topLogProbs?: number;
  /** Aborting frees the row's batch slot before the next decode step. */
  signal?: AbortSignal;
  /** Called per token; if it throws, this row (only) is rejected with `serve_stream_failed`. */
  onToken?: (event: TokenEvent) => void;
}

/** What a sequence produced. `abort`: its signal fired; the tokens so far are kept. */
export interface SequenceResult {
  tokenIds: number[];
  logProbs: number[];
  alternatives: TokenAlternative[][];
  /** Decoded text, special tokens skipped, cut before the first stop string. */
  text: string;
  finishReason: "stop" | "length" | "abort";
}

/** Counters since the scheduler started. */
export interface SchedulerStatistics {
  decodeSteps: number;
  prefills: number;
  admittedRows: number;
  generatedTokens: number;
  /** Sum over decode steps of the rows in the step (÷ decodeSteps = mean batch size). */
  rowSteps: number;
}

interface Row {
  request: SequenceRequest;
  result: SequenceResult;
  emitted: number;
  resolve: (result: SequenceResult) => void;
  reject: (error: unknown) => void;
}

function firstStop(text: string, stops: readonly string[]): number {
  let first = -1;
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const index = text.indexOf(stop);
    if (index >= 0 && (first < 0 || index < first)) first = index;
  }
  return first;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function heldBackLength(text: string, stops: readonly string[]): number {
  let held = 0;
  for (const stop of stops) {
    for (let length = Math.min(stop.length - 1, text.length); length > held; length -= 1) {
      if (text.endsWith(stop.slice(0, length))) {
        held = length;
        break;
      }
    }
  }
  return held;
}

function topAlternatives(logits: Float32Array, count: number): TokenAlternative[] {
  const logProbs = logSoftmax(logits);
  const best: TokenAlternative[] = [];
  for (let tokenId = 0; tokenId < logProbs.length; tokenId += 1) {
    const logProb = logProbs[tokenId]!;
    if (best.length === count && logProb <= best[count - 1]!.logProb) continue;
    let at = best.length;
    while (at > 0 && best[at - 1]!.logProb < logProb) at -= 1;
    best.splice(at, 0, { tokenId, logProb });
    if (best.length > count) best.pop();
  }
  return best;
}

const generationFailure = (error: unknown) =>
  new ServeError({
    code: "serve_generation_failed",
    message: `decoding failed: ${(error as Error).message}`,
    cause: error,
  });

export interface SchedulerOptions {
  model: PretrainedModel;
  tokenizer: GenerationTokenizer;
  /** Rows decoded together at most (default 32). */
  maxBatchSize?: number;
  /** Intra-op threads (default: all cores). */
  threads?: number;
  executionProvider?: ExecutionProvider;
}

export class ContinuousBatchScheduler {
  readonly maxBatchSize: number;
  readonly statistics: SchedulerStatistics = {
    decodeSteps: 0,
    prefills: 0,
    admittedRows: 0,
    generatedTokens: 0,
    rowSteps: 0,
  };
  private readonly eos: Set<number>;
  private pending: Row[] = [];
  private batch: Row[] = [];
  private state: DecodeState | undefined;
  private loop: Promise<void> | undefined;
  private running = false;
  private closed = false;
  /** While set, no pending row is admitted (see {@link exclusive}). */
  private admissionPaused = false;
  /** Serialises {@link exclusive} sections. */
  private exclusiveChain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly session: DecodingSession,
    private readonly tokenizer: GenerationTokenizer,
    eosTokenIds: readonly number[],
    maxBatchSize: number,
  ) {
    this.eos = new Set(eosTokenIds);
    this.maxBatchSize = maxBatchSize;
  }

  /** Compiles the model's decode graph and returns an idle scheduler. */
  static async create(options: SchedulerOptions): Promise<ContinuousBatchScheduler> {
    const maxBatchSize = options.maxBatchSize ?? 32;
    if (!Number.isSafeInteger(maxBatchSize) || maxBatchSize < 1)
      throw new RangeError(`maxBatchSize must be a positive integer, got ${maxBatchSize}`);
    const session = await DecodingSession.create({
      model: options.model,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      ...(options.executionProvider === undefined ? {} : { executionProvider: options.executionProvider }),
    });
    const eos = [...new Set([...options.tokenizer.eosTokenIds, ...options.model.config.eosTokenIds])];
    return new ContinuousBatchScheduler(session, options.tokenizer, eos, maxBatchSize);
  }

  /** Rows in the running batch. */
  get activeRows(): number {
    return this.batch.length;
  }

  /** Rows waiting for a slot. */
  get pendingRows(): number {
    return this.pending.length;
  }

  /** Queues a sequence; resolves when it finishes (or aborts). */
  submit(request: SequenceRequest): Promise<SequenceResult> {
    if (this.closed)
      return Promise.reject(new ServeError({ code: "serve_closed", message: "the scheduler is closed" }));
    if (request.promptTokenIds.length === 0)
      return Promise.reject(new RangeError("a prompt needs at least one token"));
    return new Promise((resolve, reject) => {
      const result: SequenceResult = {
        tokenIds: [],
        logProbs: [],
        alternatives: [],
        text: "",
        finishReason: "length",
      };
      const row: Row = { request, result, emitted: 0, resolve, reject };
      if (request.maxNewTokens <= 0) {
        resolve(result);
        return;
      }
      this.pending.push(row);
      if (!this.running) {
        // Set and cleared synchronously with the loop's own exit check, so a row submitted
        // right as the loop ends always starts a new one.
        this.running = true;
        this.loop = this.run();
      }
    });
  }

  /**
   * Runs `task` while no row is being decoded: admission pauses (new and pending rows wait in
   * the queue), the running batch finishes, `task` runs, then admission resumes. Used to swap
   * the model's weights in place between batches (SGLang's `/update_weights_from_disk`
   * waits for in-flight requests the same way). Sections run one at a time.
   */
  exclusive<T>(task: () => Promise<T> | T): Promise<T> {
    const run = async (): Promise<T> => {
      this.admissionPaused = true;
      try {
        while (this.running) await this.loop;
        return await task();
      } finally {
        this.admissionPaused = false;
        if (this.pending.length > 0 && !this.running) {
          this.running = true;
          this.loop = this.run();
        }
      }
    };
    const result = this.exclusiveChain.then(run, run);
    this.exclusiveChain = result.catch(() => undefined);
    return result;
  }

  /** Stops admitting new sequences and waits for the running ones to finish. */
  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
  }

  private decodeText(tokenIds: readonly number[]): string {
    const ids = tokenIds.filter((token) => !this.eos.has(token));
    return ids.length === 0 ? "" : this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  private finish(row: Row, reason: SequenceResult["finishReason"]): void {
    const { result, request } = row;
    result.finishReason = reason;
    const text = this.decodeText(result.tokenIds);
    const stops = request.stop ?? [];
    const at = firstStop(text, stops);
    result.text = at >= 0 ? text.slice(0, at) : text;
    row.resolve(result);
  }

  private async admit(): Promise<void> {
    this.pending = this.pending.filter((row) => {
      if (row.request.signal?.aborted !== true) return true;
      this.finish(row, "abort");
      return false;
    });
    const free = this.maxBatchSize - this.batch.length;
    if (free <= 0 || this.pending.length === 0 || this.admissionPaused) return;
    const admitted = this.pending.splice(0, free);
    let prefilled: DecodeState;
    try {
      prefilled = await this.session.prefill({ prompts: admitted.map((row) => row.request.promptTokenIds) });
    } catch (error) {
      for (const row of admitted) row.reject(generationFailure(error));
      return;
    }
    this.statistics.prefills += 1;
    this.statistics.admittedRows += admitted.length;
    this.state =
      this.state === undefined ? prefilled : this.session.mergeStates({ states: [this.state, prefilled] });
    this.batch.push(...admitted);
  }

  private sampleRows(): { keep: number[]; tokens: number[] } {
    const state = this.state!;
    const vocabulary = this.session.vocabularySize;
    const keep: number[] = [];
    const tokens: number[] = [];
    this.batch.forEach((row, batchRow) => {
      const { request, result } = row;
      if (request.signal?.aborted === true) {
        this.finish(row, "abort");
        return;
      }
      const logits = state.logits.subarray(batchRow * vocabulary, (batchRow + 1) * vocabulary);
      const sampled = sampleToken({ logits, sampling: request.sampling, random: request.random });
      const alternatives =
        (request.topLogProbs ?? 0) > 0 ? topAlternatives(logits, request.topLogProbs!) : [];
      result.tokenIds.push(sampled.tokenId);
      result.logProbs.push(sampled.samplingLogProb);
      result.alternatives.push(alternatives);
      this.statistics.generatedTokens += 1;
      let finished: "stop" | "length" | null = this.eos.has(sampled.tokenId) ? "stop" : null;
      const stops = request.stop ?? [];
      const text = request.onToken !== undefined || stops.length > 0 ? this.decodeText(result.tokenIds) : "";
      const at = firstStop(text, stops);
      if (at >= 0) finished = "stop";
      if (finished === null && result.tokenIds.length >= request.maxNewTokens) finished = "length";
      if (request.onToken !== undefined) {
        // Emit only text that can no longer change: not a possible stop-string start, not a
        // trailing replacement character of an incomplete UTF-8 sequence.
        let ready = at >= 0 ? text.slice(0, at) : text;
        if (finished === null) {
          ready = ready.slice(0, ready.length - heldBackLength(ready, stops));
          while (ready.endsWith("\uFFFD")) ready = ready.slice(0, -1);
        }
        const textDelta = ready.length > row.emitted ? ready.slice(row.emitted) : "";
        row.emitted = Math.max(row.emitted, ready.length);
        try {
          request.onToken({
            tokenId: sampled.tokenId,
            logProb: sampled.samplingLogProb,
            alternatives,
            textDelta,
          });
        } catch (error) {
          // A callback that throws (e.g. writing to a response that broke) fails its own row
          // only: the row leaves the batch and the other rows keep decoding.
          row.reject(
            new ServeError({
              code: "serve_stream_failed",
              message: `the token callback failed: ${(error as Error)?.message ?? String(error)}`,
              cause: error,
            }),
          );
          return;
        }
      }
      if (finished === null) {
        keep.push(batchRow);
        tokens.push(sampled.tokenId);
      } else {
        this.finish(row, finished);
      }
    });
    return { keep, tokens };
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.batch.length === 0 && (this.pending.length === 0 || this.admissionPaused)) {
        this.running = false;
        return;
      }
      try {
        await this.admit();
        if (this.state === undefined) continue;
        const { keep, tokens } = this.sampleRows();
        if (keep.length === 0) {
          this.state = undefined;
          this.batch = [];
          continue;
        }
        if (keep.length < this.batch.length) {
          this.session.retainRows({ state: this.state, keep });
          this.batch = keep.map((index) => this.batch[index]!);
        }
        this.statistics.decodeSteps += 1;
        this.statistics.rowSteps += this.batch.length;
        await this.session.step({ state: this.state, tokens });
      } catch (error) {
        const failure = generationFailure(error);
        for (const row of this.batch) row.reject(failure);
        this.batch = [];
        this.state = undefined;
      }
    }
  }
}
