import { resolve } from "node:path";
import {
  type BundleManifest,
  checkOpenInstructExport,
  exportOpenInstructBundle,
  formatFidelity,
  previewOpenInstructExport,
  type ReinforcementLayout,
  type StageCommandOptions,
  stageShellCommand,
} from "@posttrain/export";
import { loadRecipe } from "@posttrain/recipe";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

interface ExportOptions {
  engine: string;
  out?: string;
  commit?: string;
  stage?: string[];
  variant?: string;
  startFrom: string;
  gpusPerNode?: string;
  deepspeedStage?: string[];
  rewardModel?: string[];
  vllmEngines?: string[];
  pythonToolEndpoint?: string;
  partition?: string;
  account?: string;
  time?: string;
  dryRun?: boolean;
  check?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `stage=value` pairs of a repeatable option. */
function pairs(values: string[] | undefined, flag: string): Array<[string, string]> {
  return (values ?? []).map((entry) => {
    const at = entry.indexOf("=");
    if (at <= 0 || at === entry.length - 1)
      throw new UsageError(`${flag} takes <stage>=<value>, got ${JSON.stringify(entry)}`);
    return [entry.slice(0, at), entry.slice(at + 1)];
  });
}

function positiveInteger(value: string, flag: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new UsageError(`${flag} must be a positive integer, got ${value}`);
  return number;
}

function stageOptions(options: ExportOptions): StageCommandOptions {
  if (options.startFrom !== "previous" && options.startFrom !== "published")
    throw new UsageError(`--start-from must be previous or published, got ${options.startFrom}`);
  const deepspeedStages: Record<string, 2 | 3> = {};
  for (const [stage, value] of pairs(options.deepspeedStage, "--deepspeed-stage")) {
    if (value !== "2" && value !== "3") throw new UsageError(`--deepspeed-stage ${stage}= must be 2 or 3`);
    deepspeedStages[stage] = value === "2" ? 2 : 3;
  }
  const layouts: Record<string, ReinforcementLayout> = {};
  const layout = (stage: string) => {
    layouts[stage] ??= {};
    return layouts[stage];
  };
  for (const [stage, value] of pairs(options.rewardModel, "--reward-model"))
    layout(stage).rewardModel = value;
  for (const [stage, value] of pairs(options.vllmEngines, "--vllm-engines"))
    layout(stage).vllmEngines = positiveInteger(value, "--vllm-engines");
  if (options.pythonToolEndpoint !== undefined && !/^https?:\/\/\S+$/.test(options.pythonToolEndpoint))
    throw new UsageError(`--python-tool-endpoint must be an http(s) URL, got ${options.pythonToolEndpoint}`);
  return {
    startFrom: options.startFrom,
    deepspeedStages,
    reinforcementLayouts: layouts,
    ...(options.pythonToolEndpoint === undefined
      ? {}
      : { toolEndpoints: { python: options.pythonToolEndpoint } }),
    ...(options.gpusPerNode === undefined
      ? {}
      : { gpusPerNode: positiveInteger(options.gpusPerNode, "--gpus-per-node") }),
  };
}

export function register(program: Command): void {
  program
    .command("export")
    .description(
      "write a launch bundle that runs a recipe on an existing engine (open-instruct): exact commands per stage, DeepSpeed configs, Slurm scripts, Ray jobs and the datasets materialised at their pinned SHAs",
    )
    .argument("<recipe>", "recipe package folder, module file or installed package name")
    .requiredOption("--engine <engine>", "target engine (open-instruct)")
    .option("--out <directory>", "bundle folder (default: <recipe name>-open-instruct)")
    .option(
      "--commit <sha>",
      "open-instruct commit with a flag table (default: the recipe's referenceImplementation.commit, else auto: the newest that expresses the recipe); every argv is checked against it",
    )
    .option("--stage <name>", "export only this stage (repeatable)", collect)
    .option("--variant <name>", "export a recipe variant")
    .option(
      "--start-from <where>",
      "previous (each stage starts from the previous stage's output) or published",
      "previous",
    )
    .option("--gpus-per-node <n>", "GPUs per node (default 8)")
    .option("--deepspeed-stage <stage=2|3>", "DeepSpeed ZeRO stage of a stage (repeatable)", collect)
    .option(
      "--reward-model <stage=repo>",
      "PPO stages: the reward model that initialises the value model (repeatable)",
      collect,
    )
    .option("--vllm-engines <stage=n>", "RL stages: vLLM engines (repeatable)", collect)
    .option(
      "--python-tool-endpoint <url>",
      "tool-use RLVR stages: the URL of open-instruct's python tool server (its --tool_configs api_endpoint)",
    )
    .option("--partition <name>", "Slurm partition")
    .option("--account <name>", "Slurm account")
    .option("--time <limit>", "Slurm time limit, e.g. 48:00:00")
    .option("--dry-run", "print the commands (placeholder data paths) without a lock, downloads or files")
    .option(
      "--check",
      "print each stage's export against the published command (ours vs published, flag by flag); exit 1 if any stage is not faithful",
    )
    .option("--json", "print the bundle manifest (or the dry-run commands) as JSON")
    .action(async (reference: string, options: ExportOptions) => {
      if (options.engine !== "open-instruct")
        throw new UsageError(`--engine ${options.engine} is not supported (supported: open-instruct)`);
      const loaded = await loadRecipe({
        reference,
        ...(options.variant === undefined ? {} : { variant: options.variant }),
      });
      const common = {
        loaded,
        ...(options.commit === undefined ? {} : { commit: options.commit }),
        options: stageOptions(options),
        ...(options.stage === undefined ? {} : { stages: options.stage }),
      };
      if (options.check === true) {
        const check = checkOpenInstructExport(common);
        output({
          json: options.json,
          value: check,
          human: () =>
            [
              `${loaded.recipe.name} on open-instruct ${check.commit.commit} (${check.commit.description}): ${check.faithful ? "every stage equals its published command (differences listed with their reasons)" : "NOT FAITHFUL: see the rows marked different/missing"}`,
              "",
              formatFidelity({ stages: check.stages }),
            ].join("\n"),
        });
        if (!check.faithful) process.exitCode = 1;
        return;
      }
      if (options.dryRun === true) {
        const preview = previewOpenInstructExport(common);
        output({
          json: options.json,
          value: { openInstructCommit: preview.commit.commit, stages: preview.commands },
          human: () =>
            [
              `open-instruct ${preview.commit.commit} (${preview.commit.description})`,
              ...preview.commands.flatMap((command) => [
                "",
                `# ${command.stage}: ${command.batch.formula}`,
                stageShellCommand(command),
              ]),
            ].join("\n"),
        });
        return;
      }
      const outputDirectory = resolve(options.out ?? `${loaded.recipe.name}-open-instruct`);
      const manifest: BundleManifest = await exportOpenInstructBundle({
        ...common,
        outputDirectory,
        slurm: {
          ...(options.partition === undefined ? {} : { partition: options.partition }),
          ...(options.account === undefined ? {} : { account: options.account }),
          ...(options.time === undefined ? {} : { time: options.time }),
        },
      });
      output({
        json: options.json,
        value: manifest,
        human: () =>
          [
            `wrote ${outputDirectory} for open-instruct ${manifest.openInstruct.commit}`,
            ...manifest.stages.map(
              (stage) =>
                `  ${stage.stage.padEnd(12)} ${stage.script}  ${stage.batch.formula}  (${stage.commandScript}, ${stage.slurmScript})`,
            ),
            `  ${manifest.data.length} data files materialised and verified`,
          ].join("\n"),
      });
    });
}
