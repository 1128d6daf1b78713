/**
 * The claim micro-tools exists for, across its two arms: held-out accuracy **with the
 * calculator** (the default recipe's `micro_tools_arithmetic+tools` row) beats **the same
 * recipe without tools** (the `no-tools` variant's `micro_tools_arithmetic` row), after the
 * same stage, on every seed, with a paired 95% interval over seeds above zero.
 *
 * A recipe's own `claims` compare two stages of one run; the two arms are two runs (two
 * variants), so this claim is judged here with the same machinery (@posttrain/recipe's
 * `judgeClaim`: per-seed differences, their mean and Student-t interval) and the same
 * publishing rule (`publishProblems`: ≥ 5 common seeds, none reversed or tied, interval
 * excluding zero), on the two arms' recorded seed rows (the expected-table test) or on two
 * `--seeds` runs (`compare-arms.ts`, the CLI).
 */
import {
  applyVariant,
  type ClaimVerdict,
  judgeClaim,
  minimumPublishedSeeds,
  type Recipe,
  recordedSeeds,
} from "@posttrain/recipe";

export const armsTask = "micro_tools_arithmetic";
export const noToolsVariant = "no-tools";

/** The cross-arm claim after `stage` (task and metric name the rows compared). */
export function armsClaim(params: { stage: string }) {
  return {
    statement: `with the calculator, held-out accuracy after ${params.stage} beats the same recipe without tools`,
    task: `${armsTask}+tools (tools arm) vs ${armsTask} (no-tools arm)`,
    metric: "accuracy",
    better: "tools",
    worse: "no-tools",
  };
}

/** Judges the cross-arm claim on per-seed values of the two arms. */
export function judgeArms(params: {
  stage: string;
  tools: ReadonlyMap<number, number>;
  noTools: ReadonlyMap<number, number>;
}): ClaimVerdict {
  return judgeClaim({
    claim: armsClaim({ stage: params.stage }),
    better: params.tools,
    worse: params.noTools,
  });
}

function recorded(recipe: Recipe, after: string, task: string): Map<number, number> {
  const row = recipe.expected.find(
    (candidate) => candidate.after === after && candidate.task === task && candidate.metric === "accuracy",
  );
  return new Map((row === undefined ? [] : recordedSeeds(row)).map((entry) => [entry.seed, entry.value]));
}

/** The cross-arm claim on the recipe's recorded seed rows (tools arm: the recipe; no-tools arm: its variant). */
export function judgeRecordedArms(params: { recipe: Recipe; stage: string }): ClaimVerdict {
  const noTools = applyVariant({ recipe: params.recipe, variant: noToolsVariant });
  return judgeArms({
    stage: params.stage,
    tools: recorded(params.recipe, params.stage, `${armsTask}+tools`),
    noTools: recorded(noTools, params.stage, armsTask),
  });
}

/**
 * Why the cross-arm claim may not be published (empty: it may), by the rule of
 * `publishProblems`: fewer than {@link minimumPublishedSeeds} common seeds, a seed on which it
 * is reversed or tied, or a paired interval that does not exclude zero.
 */
export function armsPublishProblems(verdict: ClaimVerdict): string[] {
  if (verdict.seeds.length < minimumPublishedSeeds)
    return [
      `"${verdict.statement}": ${verdict.seeds.length} seeds with both arms; publishing needs at least ${minimumPublishedSeeds}`,
    ];
  if (verdict.reversedSeeds.length > 0)
    return [
      `"${verdict.statement}" is reversed or tied on seed(s) ${verdict.reversedSeeds.join(", ")} (${verdict.explanation})`,
    ];
  if (verdict.status !== "supported")
    return [`"${verdict.statement}": the paired interval does not exclude zero (${verdict.explanation})`];
  return [];
}
