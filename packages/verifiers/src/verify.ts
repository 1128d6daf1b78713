/** `verify`: check many rows with one verifier across worker threads, in input order. */
import { availableParallelism } from "node:os";
import { PosttrainError, parseWithSchema } from "@posttrain/core";
import { z } from "zod";
import { MissingTokenizerError } from "./errors.js";
import { VerifierPool } from "./pool.js";
import { getVerifier, parseRemap } from "./registry.js";
import {
  type CheckResult,
  defaultMaximumResponseCharacters,
  defaultTimeoutMilliseconds,
  parseLabel,
  verifyOne,
} from "./verify-one.js";

/** An input row: a response and its ground truth; every other field is carried through. */
export interface VerifyRow {
  response: string;
  ground_truth: unknown;
  [field: string]: unknown;
}

/** An output row: the input row with `score` ∈ [0, 1] and `details` added. */
export type VerifiedRow<Row extends VerifyRow = VerifyRow> = Row & {
  score: number;
  details: Record<string, unknown>;
};

export interface VerifySummary {
  verifier: string;
  version: string;
  count: number;
  /** Mean score over all rows (0 when there are none). */
  meanScore: number;
  /** Checks whose verifier threw or whose worker crashed (scored 0). */
  errors: number;
  /** Checks that ran past the time bound (scored 0). */
  timeouts: number;
  workers: number;
  timeoutMilliseconds: number;
}

export interface VerifyParams<Row extends VerifyRow> {
  /** The verifier's registered name (after `remap`). */
  verifier: string;
  /** Remap entries `alias=registered`, e.g. `"gsm8k_v2=gsm8k"`. */
  remap?: string | readonly string[];
  rows: readonly Row[];
  /**
   * Worker threads (default: min(cores, 4)). `0` checks in this thread: faster to start, but
   * a synchronous check that hangs cannot be interrupted there.
   */
  workers?: number;
  /** Strip the `<think>…</think>` block before judging (default true). */
  stripReasoning?: boolean;
  /** Hard bound per check (default 5,000 ms). */
  timeoutMilliseconds?: number;
  /** Longer responses score 0 unjudged (default 200,000 characters). */
  maximumResponseCharacters?: number;
  /**
   * The policy's tokenizer as a token counter, for the length verifiers (`max_length`,
   * `up_to_max_length`); runs on the main thread, on the whole response (reasoning included).
   * Required by those verifiers unless `responseTokenCounts` is given: without either,
   * `verify` throws `MissingTokenizerError` before any check runs.
   */
  countTokens?: (text: string) => number;
  /**
   * Token counts of the rows' whole responses, in row order (e.g. the RLVR trainer's
   * generated token ids); win over `countTokens`.
   */
  responseTokenCounts?: readonly number[];
  /**
   * A pool to reuse across calls (e.g. one per RLVR run, instead of starting workers every
   * step). It is not closed by `verify`; `workers` is then ignored.
   */
  pool?: VerifierPool;
  /** Called after each finished check. */
  onProgress?: (params: { done: number; total: number }) => void;
}

export interface VerifyOutput<Row extends VerifyRow> {
  rows: VerifiedRow<Row>[];
  summary: VerifySummary;
}

const rowSchema = z.looseObject({ response: z.string(), ground_truth: z.unknown() });

/**
 * Checks every row with one verifier and returns the rows (input order) with `score` and
 * `details` added, plus a summary. Labels are validated up front: an invalid one throws
 * `InvalidLabelError` naming the row before any check runs. A check that throws or passes
 * its bound scores 0 (`details.error` / `details.timeout`) and is counted, never fatal.
 */
export async function verify<Row extends VerifyRow>(params: VerifyParams<Row>): Promise<VerifyOutput<Row>> {
  const remap =
    params.remap === undefined ? [] : [...parseRemap({ remap: params.remap })].map(([a, b]) => `${a}=${b}`);
  const verifier = getVerifier({ name: params.verifier, remap });
  const timeoutMilliseconds = params.timeoutMilliseconds ?? defaultTimeoutMilliseconds;
  const maximumResponseCharacters = params.maximumResponseCharacters ?? defaultMaximumResponseCharacters;
  const stripReasoning = params.stripReasoning ?? true;
  params.rows.forEach((row, index) => {
    parseWithSchema({ schema: rowSchema, value: row, label: `rows[${index}]` });
    parseLabel({ verifier, label: row.ground_truth, row: index });
  });
  const countsTokens = verifier.countsResponseTokens === true;
  if (params.responseTokenCounts !== undefined && params.responseTokenCounts.length !== params.rows.length)
    throw new PosttrainError({
      code: "invalid_token_counts",
      message: `responseTokenCounts has ${params.responseTokenCounts.length} entries for ${params.rows.length} rows`,
    });
  if (countsTokens && params.responseTokenCounts === undefined && params.countTokens === undefined)
    throw new MissingTokenizerError({ verifier: verifier.name });
  const countTokens = params.countTokens;
  const tokenCount = (row: Row, index: number): number | undefined => {
    if (!countsTokens) return undefined;
    const given = params.responseTokenCounts?.[index];
    if (given !== undefined) return given;
    return countTokens?.(row.response);
  };
  const workers =
    params.pool !== undefined
      ? params.pool.size
      : Math.max(0, Math.min(params.workers ?? Math.min(availableParallelism(), 4), params.rows.length));
  const results: CheckResult[] = new Array(params.rows.length);
  let done = 0;
  const finished = (index: number, result: CheckResult) => {
    results[index] = result;
    done += 1;
    params.onProgress?.({ done, total: params.rows.length });
  };
  if (workers === 0) {
    for (const [index, row] of params.rows.entries()) {
      const count = tokenCount(row, index);
      finished(
        index,
        await verifyOne({
          verifier,
          response: row.response,
          label: row.ground_truth,
          stripReasoning,
          timeoutMilliseconds,
          maximumResponseCharacters,
          row: index,
          ...(count === undefined ? {} : { responseTokenCount: count }),
        }),
      );
    }
  } else {
    const pool = params.pool ?? new VerifierPool({ size: workers });
    try {
      await Promise.all(
        params.rows.map(async (row, index) => {
          const count = tokenCount(row, index);
          const result = await pool.run({
            id: index,
            verifier: verifier.name,
            remap: [],
            response: row.response,
            label: row.ground_truth,
            stripReasoning,
            timeoutMilliseconds,
            maximumResponseCharacters,
            ...(count === undefined ? {} : { responseTokenCount: count }),
          });
          finished(index, result);
        }),
      );
    } finally {
      if (params.pool === undefined) await pool.close();
    }
  }
  const rows = params.rows.map((row, index) => {
    const result = results[index] as CheckResult;
    return { ...row, score: result.score, details: result.details } as VerifiedRow<Row>;
  });
  const total = results.reduce((sum, result) => sum + result.score, 0);
  return {
    rows,
    summary: {
      verifier: verifier.name,
      version: verifier.version,
      count: rows.length,
      meanScore: rows.length === 0 ? 0 : total / rows.length,
      errors: results.filter((result) => result.error).length,
      timeouts: results.filter((result) => result.timeout).length,
      workers,
      timeoutMilliseconds,
    },
  };
}
