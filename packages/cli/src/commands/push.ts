import { resolve } from "node:path";
import { compareResultsWithRecipe, planPush, pushToHub, readResultsDirectory } from "@posttrain/export";
import { loadRecipe, readLock } from "@posttrain/recipe";
import { runProbes } from "@posttrain/verifiers";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

interface PushOptions {
  repo?: string;
  dryRun?: boolean;
  recipe: string;
  variant?: string;
  stage?: string;
  dataset?: boolean;
  results?: string;
  probes: boolean;
  branch?: string;
  message?: string;
  license?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("push")
    .description(
      "upload a trained checkpoint (or a dataset the recipe produced) to the Hub with a generated model card: recipe and version, lock, hyperparameters, eval table against the expected numbers, verifier probes (token: HF_TOKEN)",
    )
    .argument("<directory>", "checkpoint or dataset folder to upload")
    .option("--repo <owner/name>", "target Hub repo (it must exist; required unless --dry-run)")
    .option(
      "--dry-run",
      "do not upload: print the model card and the files that would be pushed (offline, no token)",
    )
    .requiredOption(
      "--recipe <recipe>",
      "the recipe that produced it (package folder, module file or package name)",
    )
    .option("--variant <name>", "the recipe variant that produced it")
    .option("--stage <name>", "the stage whose output this is (default: the last)")
    .option("--dataset", "upload to a dataset repo instead of a model repo")
    .option(
      "--results <directory>",
      "eval results (results.json, or <stage>/results.json) for the card's eval table",
    )
    .option("--no-probes", "do not run the verifier probe suite for the card")
    .option("--branch <name>", "branch to commit to (default main)")
    .option("--message <text>", "commit message")
    .option("--license <id>", "license in the card's metadata (default apache-2.0)")
    .option("--json", "print the result as JSON")
    .action(async (directory: string, options: PushOptions) => {
      if (options.repo === undefined && options.dryRun !== true)
        throw new UsageError("--repo <owner/name> is required (or preview with --dry-run)");
      const loaded = await loadRecipe({
        reference: options.recipe,
        ...(options.variant === undefined ? {} : { variant: options.variant }),
      });
      const { recipe } = loaded;
      const stage = options.stage ?? recipe.stages.at(-1)?.name;
      if (stage === undefined || !recipe.stages.some((candidate) => candidate.name === stage))
        throw new UsageError(
          `--stage ${options.stage}: recipe ${recipe.name} has stages ${recipe.stages.map((candidate) => candidate.name).join(", ")}`,
        );
      const comparison =
        options.results === undefined
          ? null
          : compareResultsWithRecipe({
              recipe,
              results: await readResultsDirectory({ directory: options.results, recipe, after: stage }),
            });
      const probes = options.probes ? await runProbes({ verifiers: recipe.verifiers, workers: 0 }) : null;
      const card = {
        directory: resolve(directory),
        recipe,
        lock: await readLock({ loaded }),
        stage,
        kind: options.dataset === true ? ("dataset" as const) : ("model" as const),
        comparison,
        probes,
        ...(options.license === undefined ? {} : { license: options.license }),
      };
      if (options.dryRun === true) {
        const plan = await planPush(card);
        output({
          json: options.json,
          value: { repo: options.repo ?? null, dryRun: true, files: plan.files, modelCard: plan.modelCard },
          human: () =>
            [
              plan.modelCard.trimEnd(),
              "",
              `--dry-run: nothing uploaded; ${plan.files.length} files would be pushed${options.repo === undefined ? "" : ` to ${options.repo}`}:`,
              ...plan.files.map((file) => `  ${file}`),
            ].join("\n"),
        });
        return;
      }
      const repo = options.repo as string;
      const result = await pushToHub({
        ...card,
        repo,
        ...(options.branch === undefined ? {} : { branch: options.branch }),
        ...(options.message === undefined ? {} : { commitMessage: options.message }),
      });
      output({
        json: options.json,
        value: { repo, commitSha: result.commitSha, files: result.files },
        human: () =>
          [
            `pushed ${result.files.length} files to ${repo} @ ${result.commitSha}`,
            ...result.files.map((file) => `  ${file}`),
          ].join("\n"),
      });
    });
}
