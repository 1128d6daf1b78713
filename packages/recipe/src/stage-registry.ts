/**
 * The stage registry: every training stage posttrain runs, one line each, keyed by the stage
 * type a recipe names (`type`) and `posttrain train <type>` takes. The recipe runner
 * (stage-runners.ts) and the CLI's `train` command both iterate it; adding a stage is a
 * package that exports a @posttrain/training `StageDefinition` plus one line here.
 *
 * It lives in @posttrain/recipe because it must sit above the stage packages (it imports
 * them all, and the layers forbid a stage or @posttrain/training from knowing its siblings),
 * and the recipe is the lowest package that may: the CLI reads it from here.
 */
import { dpoStage } from "@posttrain/dpo";
import { rlvrStage } from "@posttrain/rlvr";
import { sftStage } from "@posttrain/sft";
import type { AnyStageDefinition } from "@posttrain/training";
import { RecipeError } from "./errors.js";

/** A registry of stage definitions by name (`stageRegistry`, or one a test extends). */
export type StageRegistry = ReadonlyMap<string, AnyStageDefinition>;

/** Every stage with a trainer, by type name. */
export const stageRegistry: StageRegistry = new Map(
  [sftStage, dpoStage, rlvrStage].map((definition): [string, AnyStageDefinition] => [
    definition.name,
    definition,
  ]),
);

/** The registered stage `name`; fails with `stage_unavailable`, listing the registered ones. */
export function getStage(params: { name: string; registry?: StageRegistry }): AnyStageDefinition {
  const registry = params.registry ?? stageRegistry;
  const definition = registry.get(params.name);
  if (definition === undefined)
    throw new RecipeError({
      code: "stage_unavailable",
      message: `no stage ${JSON.stringify(params.name)}: the stages are ${[...registry.keys()].join(", ")}`,
      details: { stage: params.name, known: [...registry.keys()] },
    });
  return definition;
}
