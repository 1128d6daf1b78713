/**
 * RLVR step, part 4 — the step's figures (the `step-end` event) from the scored completions
 * and the optimisation statistics; a pure function.
 */
import type { ToolRolloutMetrics } from "@posttrain/tools";
import type { OptimizationStatistics } from "./optimize.js";
import type { ScoredCompletion } from "./score.js";

export interface VerifierStatistics {
  count: number;
  rewardMean: number;
  rewardStd: number;
  accuracy: number;
}

export interface StepMetrics {
  step: number;
  rewardMean: number;
  rewardStd: number;
  /** Share of completions with verifier score 1. */
  accuracy: number;
  perVerifier: Record<string, VerifierStatistics>;
  /** Mean per-token KL estimate (configured estimator) of the rollout policy to the reference. */
  kl: number;
  /** −mean log π of the sampled tokens: a Monte-Carlo estimate of the per-token entropy. */
  entropy: number;
  /**
   * Max |sampling log-prob − training-graph log-prob| over the sampled tokens (temperature 1
   * only, else null): the rollout backend and the training graph must agree.
   */
  logProbMismatch: number | null;
  /** Share of trained tokens where the PPO clip was active. */
  clipFraction: number;
  responseLength: number;
  truncationRate: number;
  filteredGroups: number;
  trainedCompletions: number;
  optimizerSteps: number;
  loss: number;
  gradientNorm: number;
  learningRate: number;
  trainTokensPerSecond: number;
  /** With tools, `generate` is the model's share of the rollouts and `tools` the time in tool calls. */
  seconds: { generate: number; tools?: number; verify: number; train: number };
  /** Tool-use rollouts only (absent for single-turn RLVR, whose events stay as they were). */
  toolCallsPerRollout?: number;
  /** Calls whose observation is an error (malformed, unknown tool, bad arguments, timeout, failure) / calls. */
  toolErrorRate?: number;
  /** Wall time in tool calls / the rollout phase's wall time. */
  toolTimeShare?: number;
  /** Share of rollouts with at least one tool call. */
  toolUseRate?: number;
  /** Mean reward and accuracy of the rollouts with at least one call, and of those without (null: none such). */
  rewardWithTools?: number | null;
  rewardWithoutTools?: number | null;
  accuracyWithTools?: number | null;
  accuracyWithoutTools?: number | null;
}

/** The tool figures of a step's `step-end` event (see {@link StepMetrics}). */
export function toolStepMetrics(params: {
  scored: readonly ScoredCompletion[];
  tools: ToolRolloutMetrics;
}): Required<Pick<StepMetrics, ToolMetricName>> {
  const { scored, tools } = params;
  const withTools = scored.filter((completion) => (completion.toolCalls ?? 0) > 0);
  const withoutTools = scored.filter((completion) => (completion.toolCalls ?? 0) === 0);
  const meanOrNull = (values: readonly number[]) => (values.length === 0 ? null : mean(values));
  const accuracyOf = (completions: readonly ScoredCompletion[]) =>
    meanOrNull(completions.map((completion) => (completion.score >= 1 ? 1 : 0)));
  return {
    toolCallsPerRollout: tools.toolCallsPerRollout,
    toolErrorRate: tools.toolErrorRate,
    toolTimeShare: tools.toolTimeShare,
    toolUseRate: scored.length === 0 ? 0 : withTools.length / scored.length,
    rewardWithTools: meanOrNull(withTools.map((completion) => completion.reward)),
    rewardWithoutTools: meanOrNull(withoutTools.map((completion) => completion.reward)),
    accuracyWithTools: accuracyOf(withTools),
    accuracyWithoutTools: accuracyOf(withoutTools),
  };
}

/** The names of the tool figures of a step (numeric or null). */
export const toolMetricNames = [
  "toolCallsPerRollout",
  "toolErrorRate",
  "toolTimeShare",
  "toolUseRate",
  "rewardWithTools",
  "rewardWithoutTools",
  "accuracyWithTools",
  "accuracyWithoutTools",
] as const;
type ToolMetricName = (typeof toolMetricNames)[number];

const mean = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
const std = (values: readonly number[]) => {
  const average = mean(values);
  return Math.sqrt(mean(values.map((value) => (value - average) ** 2)));
};

export function stepMetrics(params: {
  /** The step number after this step (1-based). */
  step: number;
  scored: readonly ScoredCompletion[];
  keptCompletions: number;
  filteredGroups: number;
  optimization: OptimizationStatistics;
  learningRate: number;
  /** Passes over the rollout batch (the trained tokens were seen this many times). */
  epochs: number;
  seconds: StepMetrics["seconds"];
  /** The tool driver's metrics of a tool-use step (absent = single-turn). */
  tools?: ToolRolloutMetrics;
}): StepMetrics {
  const { scored, optimization } = params;
  const rewards = scored.map((completion) => completion.reward);
  const perVerifier: Record<string, VerifierStatistics> = {};
  for (const name of new Set(scored.map((completion) => completion.row.dataset[0]!))) {
    const members = scored.filter((completion) => completion.row.dataset[0] === name);
    perVerifier[name] = {
      count: members.length,
      rewardMean: mean(members.map((member) => member.reward)),
      rewardStd: std(members.map((member) => member.reward)),
      accuracy: mean(members.map((member) => (member.score >= 1 ? 1 : 0))),
    };
  }
  const { trainedTokens } = optimization;
  return {
    step: params.step,
    rewardMean: mean(rewards),
    rewardStd: std(rewards),
    accuracy: mean(scored.map((completion) => (completion.score >= 1 ? 1 : 0))),
    perVerifier,
    kl: trainedTokens === 0 ? 0 : optimization.klSum / trainedTokens,
    entropy: trainedTokens === 0 ? 0 : -optimization.logProbSum / trainedTokens,
    logProbMismatch: optimization.logProbMismatch,
    clipFraction: optimization.clipTokens === 0 ? 0 : optimization.clippedTokens / optimization.clipTokens,
    responseLength: mean(scored.map((completion) => completion.completionIds.length)),
    truncationRate: mean(scored.map((completion) => (completion.truncated ? 1 : 0))),
    filteredGroups: params.filteredGroups,
    trainedCompletions: params.keptCompletions,
    optimizerSteps: optimization.optimizerSteps,
    loss: optimization.optimizerSteps === 0 ? 0 : optimization.lossSum / optimization.optimizerSteps,
    gradientNorm: optimization.gradientNorm,
    learningRate: params.learningRate,
    trainTokensPerSecond: (trainedTokens * params.epochs) / Math.max(1e-9, params.seconds.train),
    seconds: params.seconds,
    ...(params.tools === undefined ? {} : toolStepMetrics({ scored, tools: params.tools })),
  };
}
