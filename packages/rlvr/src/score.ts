/**
 * RLVR step, part 2 — scoring: every completion verified (by its row's verifier), turned into
 * a reward (rewards.ts) and a group advantage; groups with zero reward variance are dropped
 * when configured, and so are truncated completions when masked. Returns every scored
 * completion (the step's metrics cover all of them) and the kept ones (trained on).
 */
import { verify } from "@posttrain/verifiers";
import type { Config } from "./config.js";
import type { RlvrRow } from "./prompts.js";
import { completionReward, groupAdvantages } from "./rewards.js";
import type { RolloutCompletion } from "./rollout.js";

export interface ScoredCompletion extends RolloutCompletion {
  /** The verifier's score in [0, 1]. */
  score: number;
  reward: number;
  advantage: number;
}

/**
 * Verifier scores of responses, grouped by verifier name; returns scores in input order.
 * `tokenCount` is the number of generated token ids: the length verifiers (`max_length`,
 * `up_to_max_length`) score it, as open-instruct scores `len(tokenized_prediction)`.
 */
export async function verifyResponses(params: {
  items: readonly { response: string; row: RlvrRow; tokenCount: number }[];
  workers: number;
  timeoutMilliseconds: number;
}): Promise<number[]> {
  const scores = new Array<number>(params.items.length).fill(0);
  const byVerifier = new Map<string, number[]>();
  params.items.forEach((item, index) => {
    const name = item.row.dataset[0]!;
    byVerifier.set(name, [...(byVerifier.get(name) ?? []), index]);
  });
  for (const [verifier, indices] of byVerifier) {
    const output = await verify({
      verifier,
      rows: indices.map((index) => ({
        response: params.items[index]!.response,
        ground_truth: params.items[index]!.row.groundTruth[0],
      })),
      responseTokenCounts: indices.map((index) => params.items[index]!.tokenCount),
      workers: params.workers,
      timeoutMilliseconds: params.timeoutMilliseconds,
    });
    output.rows.forEach((row, offset) => {
      scores[indices[offset]!] = row.score;
    });
  }
  return scores;
}

export async function score(params: {
  completions: readonly RolloutCompletion[];
  /** Prompts in the step (groups 0 … groups − 1). */
  groups: number;
  config: Pick<
    Config,
    | "rewards"
    | "advantages"
    | "filterZeroVarianceGroups"
    | "maskTruncatedCompletions"
    | "verifierWorkers"
    | "verifierTimeoutMilliseconds"
  >;
}): Promise<{ scored: ScoredCompletion[]; kept: ScoredCompletion[]; filteredGroups: number }> {
  const { config } = params;
  const scores = await verifyResponses({
    items: params.completions.map((completion) => ({
      response: completion.text,
      row: completion.row,
      // The model's own tokens (tool output excluded; every token of a single-turn rollout).
      tokenCount: completion.completionMask.reduce((total, value) => total + value, 0),
    })),
    workers: config.verifierWorkers,
    timeoutMilliseconds: config.verifierTimeoutMilliseconds,
  });
  const scored: ScoredCompletion[] = params.completions.map((completion, index) => {
    const reward = completionReward({
      rewards: config.rewards,
      score: scores[index]!,
      response: completion.text,
      truncated: completion.truncated,
    });
    const calls = completion.toolCalls ?? 0;
    const cost = config.rewards.toolCallCost ?? 0;
    return {
      ...completion,
      score: scores[index]!,
      reward: calls > 0 && cost > 0 ? reward - cost * calls : reward,
      advantage: 0,
    };
  });
  let filteredGroups = 0;
  const kept: ScoredCompletion[] = [];
  for (let group = 0; group < params.groups; group += 1) {
    const members = scored.filter((completion) => completion.group === group);
    const advantages = groupAdvantages({
      rewards: members.map((member) => member.reward),
      kind: config.advantages,
    });
    members.forEach((member, index) => {
      member.advantage = advantages.advantages[index]!;
    });
    if (config.filterZeroVarianceGroups && advantages.zeroVariance) {
      filteredGroups += 1;
      continue;
    }
    for (const member of members)
      if (!(config.maskTruncatedCompletions && member.truncated) && member.completionIds.length > 0)
        kept.push(member);
  }
  return { scored, kept, filteredGroups };
}
