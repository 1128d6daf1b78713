/**
 * `posttrain export --check`: the export of each stage held against the published command of
 * the recipe's reference (value for value, as the target commit parses both), without a lock or
 * downloads (data paths are the bundle's placeholders, compared as the Hub datasets they stand for).
 */
import type { LoadedRecipe } from "@posttrain/recipe";
import { ExportError } from "../errors.js";
import { previewOpenInstructExport } from "./bundle.js";
import type { OpenInstructCommit } from "./commits.js";
import { compareWithPublished, type StageFidelity } from "./fidelity.js";
import { findPublishedCommand } from "./published-commands.js";
import { inputModelVariable, type StageCommandOptions } from "./translate-support.js";

/** The comparison of every exported stage with its published command. */
export interface ExportCheck {
  commit: OpenInstructCommit;
  stages: StageFidelity[];
  /** True when every stage is faithful. */
  faithful: boolean;
}

/**
 * Compares each stage's export with the published command its recipe reference names
 * (`<recipe>/<stage>` in published-commands.ts). Throws `export_unsupported` when the recipe
 * has no reference or a stage has no published command to compare with.
 */
export function checkOpenInstructExport(params: {
  loaded: LoadedRecipe;
  commit?: string;
  options?: StageCommandOptions;
  stages?: readonly string[];
}): ExportCheck {
  const { recipe } = params.loaded;
  const reference = recipe.referenceImplementation;
  if (reference === undefined)
    throw new ExportError({
      code: "export_unsupported",
      message: `recipe ${recipe.name} records no referenceImplementation: there is no published command to compare with`,
      details: { fields: ["referenceImplementation"] },
    });
  const preview = previewOpenInstructExport(params);
  const sources: Record<string, string> = {};
  for (const stage of recipe.stages) {
    stage.data.train.forEach((spec, index) => {
      if (spec.kind === "hub") sources[`data/${stage.name}/train-${index}.jsonl`] = spec.repo;
    });
    stage.data.evaluation.forEach((spec, index) => {
      if (spec.kind === "hub") sources[`data/${stage.name}/evaluation-${index}.jsonl`] = spec.repo;
    });
  }
  const stages = preview.commands.map((command) => {
    const published = findPublishedCommand({ id: `${recipe.name}/${command.stage}` });
    if (published === undefined)
      throw new ExportError({
        code: "export_unsupported",
        message: `no published command is recorded for ${recipe.name}/${command.stage}`,
        details: { fields: [`referenceImplementation.stages.${command.stage}`] },
      });
    const position = recipe.stages.findIndex((stage) => stage.name === command.stage);
    const previous = recipe.stages[position - 1];
    const chainedFrom =
      previous?.publishedCheckpoint === undefined
        ? undefined
        : {
            path: command.inputModel === null ? `output/${previous.name}` : inputModelVariable,
            repo: previous.publishedCheckpoint.repo,
          };
    const stageReference = reference.stages[command.stage];
    return compareWithPublished({
      command,
      commit: preview.commit.commit,
      published,
      localSources: sources,
      ...(stageReference === undefined ? {} : { reference: stageReference }),
      ...(chainedFrom === undefined ? {} : { chainedFrom }),
    });
  });
  return { commit: preview.commit, stages, faithful: stages.every((stage) => stage.faithful) };
}
