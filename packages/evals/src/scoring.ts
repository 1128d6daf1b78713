/**
 * Scorers: one per `scoring.kind`. A scorer turns an item's completions into per-sample
 * verdicts and metric values. `values[metric]` lists the units a metric averages over for
 * this item (one per item for prompt-level metrics, one per instruction for IFEval
 * instruction-level metrics), so the run can pool them and compute uncertainty.
 */
import type { ContinuationScore } from "@posttrain/core";
import { verifyOne } from "@posttrain/verifiers";
import { EvaluationError } from "./errors.js";
import type { EvalItem } from "./items.js";
import { passAtK } from "./metrics.js";
import { olmesGsm8kAnswer, olmesGsm8kExactMatch } from "./olmes-gsm8k.js";
import type { ScoringSpec } from "./task-spec.js";

/** The verdict on one sample. */
export interface SampleVerdict {
  response: string;
  /** The answer the scorer extracted (null when none). */
  extracted: string | null;
  /** 1 = correct, 0 = wrong (fractions for partial verifiers). */
  score: number;
  /** Per-metric verdicts of this sample (e.g. `exact_match`, `exact_match_verifier`). */
  metrics: Record<string, number>;
  details: Record<string, unknown>;
}

export interface ItemScore {
  samples: SampleVerdict[];
  /** Metric name → the values this item contributes. */
  values: Record<string, number[]>;
}

/** Cuts `text` at the first occurrence of any stop string (the stop is not kept). */
export function cutAtStop(params: { text: string; stop: readonly string[] }): string {
  let end = params.text.length;
  for (const stop of params.stop) {
    const at = params.text.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  return params.text.slice(0, end);
}

const mean = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;

function extractedOf(details: Record<string, unknown>): string | null {
  const value = details["extracted"];
  return typeof value === "string" ? value : null;
}

async function check(params: {
  verifier: string;
  response: string;
  label: unknown;
  timeoutMilliseconds?: number;
}) {
  return verifyOne({
    verifier: params.verifier,
    response: params.response,
    label: params.label,
    stripReasoning: false,
    ...(params.timeoutMilliseconds === undefined ? {} : { timeoutMilliseconds: params.timeoutMilliseconds }),
  });
}

/**
 * Scores one `preference` item from the log-likelihoods of its two replies: right when the
 * chosen reply is more likely than the rejected one (a tie is wrong), and the margin in nats.
 */
export function scorePreferenceItem(params: {
  item: EvalItem;
  chosen: ContinuationScore;
  rejected: ContinuationScore;
}): ItemScore {
  const { chosen, rejected } = params;
  const label = params.item.label as { chosen: string; rejected: string };
  const margin = chosen.logProbability - rejected.logProbability;
  const correct = margin > 0 ? 1 : 0;
  return {
    samples: [
      {
        response: label.chosen,
        extracted: null,
        score: correct,
        metrics: { accuracy: correct, margin },
        details: {
          chosenLogProbability: chosen.logProbability,
          chosenTokens: chosen.tokenCount,
          rejectedLogProbability: rejected.logProbability,
          rejectedTokens: rejected.tokenCount,
        },
      },
    ],
    values: { accuracy: [correct], margin: [margin] },
  };
}

/** Scores one item's completions under `scoring`. */
export async function scoreItem(params: {
  scoring: ScoringSpec;
  item: EvalItem;
  responses: readonly string[];
}): Promise<ItemScore> {
  const { scoring, item, responses } = params;
  switch (scoring.kind) {
    case "preference":
      throw new EvaluationError({
        code: "eval_invalid_argument",
        message: `item ${item.index}: preference tasks are scored from log-likelihoods, not responses (scorePreferenceItem)`,
      });
    case "gsm8k": {
      const gold = String(item.label);
      const samples: SampleVerdict[] = [];
      for (const response of responses) {
        const ours = await check({ verifier: "gsm8k", response, label: gold });
        const olmes = olmesGsm8kExactMatch({ response, gold }) ? 1 : 0;
        samples.push({
          response,
          extracted: olmesGsm8kAnswer({ text: response }),
          score: olmes,
          metrics: { exact_match: olmes, exact_match_verifier: ours.score },
          details: { gold, verifier: ours.details },
        });
      }
      return {
        samples,
        values: {
          exact_match: [mean(samples.map((sample) => sample.metrics["exact_match"] ?? 0))],
          exact_match_verifier: [mean(samples.map((sample) => sample.metrics["exact_match_verifier"] ?? 0))],
        },
      };
    }
    case "minerva_math": {
      const samples: SampleVerdict[] = [];
      for (const response of responses) {
        const strict = await check({ verifier: "strict_math", response, label: item.label });
        const flex = await check({ verifier: "math_flex", response, label: item.label });
        samples.push({
          response,
          extracted: extractedOf(flex.details) ?? extractedOf(strict.details),
          score: flex.score,
          metrics: { exact_match: strict.score, exact_match_flex: flex.score },
          details: { gold: item.label, strict: strict.details, flex: flex.details },
        });
      }
      return {
        samples,
        values: {
          exact_match: [mean(samples.map((sample) => sample.metrics["exact_match"] ?? 0))],
          exact_match_flex: [mean(samples.map((sample) => sample.metrics["exact_match_flex"] ?? 0))],
        },
      };
    }
    case "ifeval": {
      const samples: SampleVerdict[] = [];
      const values: Record<string, number[]> = {
        prompt_level_strict_acc: [],
        prompt_level_loose_acc: [],
        inst_level_strict_acc: [],
        inst_level_loose_acc: [],
      };
      for (const response of responses) {
        const result = await check({ verifier: "ifeval", response, label: item.label });
        if (result.error) {
          throw new EvaluationError({
            code: "eval_scoring_failed",
            message: `IFEval check of item ${item.nativeId} failed: ${JSON.stringify(result.details)}`,
            details: { item: item.nativeId },
          });
        }
        const instructions = (result.details["instructions"] ?? []) as Array<{
          id: string;
          strict: boolean;
          loose: boolean;
        }>;
        const promptStrict = result.details["promptStrict"] === true ? 1 : 0;
        const promptLoose = result.details["promptLoose"] === true ? 1 : 0;
        samples.push({
          response,
          extracted: null,
          score: promptLoose,
          metrics: { prompt_level_strict_acc: promptStrict, prompt_level_loose_acc: promptLoose },
          details: { instructions },
        });
        values["prompt_level_strict_acc"]?.push(promptStrict);
        values["prompt_level_loose_acc"]?.push(promptLoose);
        for (const instruction of instructions) {
          values["inst_level_strict_acc"]?.push(instruction.strict ? 1 : 0);
          values["inst_level_loose_acc"]?.push(instruction.loose ? 1 : 0);
        }
      }
      // Several samples per prompt: prompt-level values are averaged into one per item.
      values["prompt_level_strict_acc"] = [mean(values["prompt_level_strict_acc"] ?? [])];
      values["prompt_level_loose_acc"] = [mean(values["prompt_level_loose_acc"] ?? [])];
      return { samples, values };
    }
    case "humaneval": {
      const label = item.label as { prompt: string; test: string; entryPoint: string };
      const samples: SampleVerdict[] = [];
      for (const response of responses) {
        const program = `${label.prompt}${response}`;
        const result = await check({
          verifier: "code",
          // The verifier runs the last fenced block: the prompt plus the completion.
          response: `\`\`\`python\n${program}\n\`\`\``,
          label: {
            tests: [`${label.test}\ncheck(${label.entryPoint})\n`],
            language: "python",
            wallSeconds: scoring.timeoutSeconds,
          },
          timeoutMilliseconds: Math.max(30_000, scoring.timeoutSeconds * 1000 * 10),
        });
        const passed = result.score === 1 ? 1 : 0;
        samples.push({
          response,
          extracted: program,
          score: passed,
          metrics: { passed },
          details: result.details,
        });
      }
      const correct = samples.filter((sample) => sample.score === 1).length;
      const values: Record<string, number[]> = {};
      for (const k of scoring.passAtK) {
        if (k <= samples.length) values[`pass_at_${k}`] = [passAtK({ samples: samples.length, correct, k })];
      }
      return { samples, values };
    }
    case "verifier": {
      const verifier = typeof scoring.verifier === "string" ? scoring.verifier : item.verifier;
      if (verifier === undefined) {
        throw new EvaluationError({
          code: "eval_row_verifier_missing",
          message: `item ${item.index} (${item.nativeId}) has no dataset column naming its verifier`,
          details: { item: item.index, nativeId: item.nativeId },
        });
      }
      const samples: SampleVerdict[] = [];
      for (const response of responses) {
        const result = await check({ verifier, response, label: item.label });
        samples.push({
          response,
          extracted: extractedOf(result.details),
          score: result.score,
          metrics: { score: result.score, accuracy: result.score === 1 ? 1 : 0 },
          details: result.details,
        });
      }
      return {
        samples,
        values: {
          score: [mean(samples.map((sample) => sample.score))],
          accuracy: [mean(samples.map((sample) => sample.metrics["accuracy"] ?? 0))],
        },
      };
    }
  }
}
