import { resolve } from "node:path";
import { compareResultsWithRecipe, pushToHub, readResultsDirectory } from "@posttrain/export";
import { loadRecipe, readLock } from "@posttrain/recipe";
import { runProbes } from "@posttrain/verifiers";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

interface PushOptions {
  repo: string;
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
    .requiredOption("--repo <owner/name>", "target Hub repo (it must exist)")
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
      const result = await pushToHub({
        repo: options.repo,
        directory: resolve(directory),
        recipe,
        lock: await readLock({ loaded }),
        stage,
        kind: options.dataset === true ? "dataset" : "model",
        comparison,
        probes,
        ...(options.branch === undefined ? {} : { branch: options.branch }),
        ...(options.message === undefined ? {} : { commitMessage: options.message }),
        ...(options.license === undefined ? {} : { license: options.license }),
      });
      output({
        json: options.json,
        value: { repo: options.repo, commitSha: result.commitSha, files: result.files },
        human: () =>
          [
            `pushed ${result.files.length} files to ${options.repo} @ ${result.commitSha}`,
            ...result.files.map((file) => `  ${file}`),
          ].join("\n"),
      });
    });
}
