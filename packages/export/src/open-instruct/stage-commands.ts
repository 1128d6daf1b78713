/**
 * Translating a recipe's stages into open-instruct invocations for one commit's flag table.
 *
 * Every argument is written out (none left to open-instruct's defaults, which moved between
 * versions). Anything the commit cannot express is collected as an issue naming the recipe
 * field (`stages[1].hyperparameters.loss.type`) and the whole export fails with all of them.
 * Embedded-engine settings that do not change the trained model (`lossChunks`, `threads`,
 * verifier workers, the over-optimisation monitor's KL bound) are listed in each command's
 * `omitted`, never silently dropped.
 */
import type { Recipe, Stage } from "@posttrain/recipe";
import { ExportError } from "../errors.js";
import type { OpenInstructCommit } from "./commits.js";
import { validateArguments } from "./flag-validation.js";
import { grpoRayStage, grpoStage, ppoStage } from "./reinforcement-commands.js";
import { trainingStage } from "./training-commands.js";
import type {
  DatasetPaths,
  ExportIssue,
  ModelSource,
  StageCommand,
  StageCommandOptions,
} from "./translate-support.js";
import { runNamePrefix } from "./translate-support.js";

export type * from "./translate-support.js";

/**
 * The script a stage runs at `commit`: the recipe reference's script when that commit has it for
 * the stage's type, else the commit's default (`rlvr`: grpo_fast.py). Null: none at that commit.
 */
export function stageScript(params: {
  recipe: Recipe;
  stage: Stage;
  commit: OpenInstructCommit;
}): string | null {
  const { commit, stage } = params;
  const wanted = params.recipe.referenceImplementation?.stages[stage.name]?.script;
  const candidates =
    stage.type === "sft"
      ? [commit.scripts.sft]
      : stage.type === "dpo"
        ? [commit.scripts.dpo]
        : stage.type === "ppo"
          ? [commit.scripts.ppo]
          : [commit.scripts.grpo, commit.scripts.grpoRay];
  const available = candidates.filter((script): script is string => script !== null);
  if (wanted !== undefined && available.includes(wanted)) return wanted;
  return available[0] ?? null;
}

interface StageOutput {
  directory: string;
  runNamePrefix: string | null;
}

function inputModel(params: {
  recipe: Recipe;
  index: number;
  options: StageCommandOptions;
  outputs: StageOutput[];
  issues: ExportIssue[];
}): ModelSource | null {
  const { recipe, index } = params;
  if (index === 0) {
    if (recipe.model.kind !== "hub") {
      params.issues.push({
        field: "model.kind",
        message: "open-instruct starts from a Hub checkpoint, not a fresh initialisation",
      });
      return null;
    }
    return {
      kind: "hub",
      repo: recipe.model.repo,
      revision: params.options.modelRevision ?? recipe.model.revision,
    };
  }
  const previous = params.outputs[index - 1] ?? { directory: "", runNamePrefix: null };
  const chained: ModelSource = {
    kind: "path",
    path: previous.directory,
    directory: previous.directory,
    runNamePrefix: previous.runNamePrefix,
  };
  if ((params.options.startFrom ?? "previous") === "previous") return chained;
  const published = recipe.stages[index - 1]?.publishedCheckpoint;
  // A stage whose predecessor has no published checkpoint chains.
  if (published === undefined) return chained;
  return { kind: "hub", repo: published.repo, revision: published.revision };
}

/**
 * The open-instruct invocation of each recipe stage (or of `stages` only) at one commit.
 * Throws `export_unsupported` listing every field the commit cannot express, and
 * `export_batch_mismatch` when the batch arithmetic disagrees with the recipe.
 */
export function openInstructStageCommands(params: {
  recipe: Recipe;
  commit: OpenInstructCommit;
  datasetPaths: DatasetPaths;
  options?: StageCommandOptions;
  /** Stage names to export (default all); the model chain still follows the recipe order. */
  stages?: readonly string[];
}): StageCommand[] {
  const { recipe, commit } = params;
  const options = params.options ?? {};
  for (const name of params.stages ?? []) {
    if (!recipe.stages.some((stage) => stage.name === name))
      throw new ExportError({
        code: "export_unknown_stage",
        message: `recipe ${recipe.name} has no stage "${name}" (stages: ${recipe.stages.map((stage) => stage.name).join(", ")})`,
        details: { stage: name },
      });
  }
  const issues: ExportIssue[] = [];
  for (const name of Object.keys(recipe.referenceImplementation?.stages ?? {}))
    if (!recipe.stages.some((stage) => stage.name === name))
      issues.push({
        field: `referenceImplementation.stages.${name}`,
        message: `the reference names a stage "${name}" the recipe does not have`,
      });
  const outputs: StageOutput[] = recipe.stages.map((stage) => {
    const script = stageScript({ recipe, stage, commit });
    return {
      directory: `output/${stage.name}`,
      runNamePrefix:
        script === null
          ? null
          : runNamePrefix({ commit, script, experimentName: stage.name, seed: stage.hyperparameters.seed }),
    };
  });
  const commands: StageCommand[] = [];
  recipe.stages.forEach((stage, index) => {
    if (params.stages !== undefined && !params.stages.includes(stage.name)) return;
    const stageIssues: ExportIssue[] = [];
    const model = inputModel({ recipe, index, options, outputs, issues: stageIssues });
    const common = {
      recipe,
      index,
      commit,
      model,
      options,
      datasetPaths: params.datasetPaths,
      outputDirectory: outputs[index]?.directory ?? "",
      reference: recipe.referenceImplementation?.stages[stage.name],
      issues: stageIssues,
    };
    const script = stageScript({ recipe, stage, commit });
    const command =
      stage.type === "ppo"
        ? ppoStage({ ...common, stage })
        : stage.type === "rlvr"
          ? script !== null && script === commit.scripts.grpoRay
            ? grpoRayStage({ ...common, stage })
            : grpoStage({ ...common, stage })
          : trainingStage({ ...common, stage });
    command.outputRunNamePrefix = outputs[index]?.runNamePrefix ?? null;
    // Every argv is checked against the dataclass fields read from the commit's source.
    if (command.script !== "")
      for (const problem of validateArguments({
        commit: commit.commit,
        script: command.script,
        arguments: command.arguments,
      }))
        stageIssues.push({ field: `stages[${index}]`, message: problem.message });
    commands.push(command);
    for (const issue of stageIssues)
      if (!issues.some((known) => known.field === issue.field && known.message === issue.message))
        issues.push(issue);
  });
  if (issues.length > 0) {
    throw new ExportError({
      code: "export_unsupported",
      message: `open-instruct ${commit.commit} cannot express this recipe:\n${issues.map((issue) => `  - ${issue.field}: ${issue.message}`).join("\n")}`,
      details: { commit: commit.commit, fields: issues.map((issue) => issue.field), issues },
    });
  }
  return commands;
}
