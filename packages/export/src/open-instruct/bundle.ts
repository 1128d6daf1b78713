/**
 * `posttrain export <recipe> --engine open-instruct`: a launch bundle per stage.
 *
 * Layout of the bundle folder:
 * - `bundle.json` — the manifest ({@link BundleManifest}): recipe, open-instruct commit,
 *   every stage's script, argv, launcher argv and batch arithmetic, every data file's sha256;
 * - `setup.sh` — clones open-instruct and checks out the pinned commit;
 * - `configs/ds_stage{2,3}.json` — the DeepSpeed configs the accelerate launches use;
 * - `stages/NN-<stage>.sh` — the exact command of each stage;
 * - `slurm/<stage>.sbatch` — a Slurm script per stage; `ray/<stage>.json` — a Ray job
 *   submission body (entrypoint, runtime_env, metadata) per stage;
 * - `data/<stage>/<source>/…` — every dataset materialised at its pinned commit (the verified
 *   Parquet/JSONL files, byte for byte), because open-instruct's mixer cannot pin a Hub
 *   revision: it reads these local files instead.
 */
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { hashFile, writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import { type DatasetSpec, dataFileFormat, materializeSource } from "@posttrain/data";
import type { HubOverrides } from "@posttrain/hub";
import { type LoadedRecipe, type RecipeLock, readLock } from "@posttrain/recipe";
import { ExportError } from "../errors.js";
import { type SlurmOptions, slurmScript } from "../launchers/slurm.js";
import {
  findOpenInstructCommit,
  type OpenInstructCommit,
  openInstructCommits,
  openInstructRepository,
} from "./commits.js";
import { deepspeedConfig, deepspeedConfigPath, launcherArguments, stageShellCommand } from "./launch.js";
import {
  type DatasetPaths,
  openInstructStageCommands,
  type StageCommand,
  type StageCommandOptions,
} from "./stage-commands.js";

/** One materialised data file. */
export interface BundleDataFile {
  /** Lock key of its source, e.g. `sft.train[0]`. */
  source: string;
  repo: string | null;
  revision: string | null;
  /** Path in the source repo or folder. */
  sourcePath: string;
  /** Path in the bundle. */
  path: string;
  size: number;
  sha256: string;
}

/** `bundle.json`. */
export interface BundleManifest {
  bundleVersion: 1;
  engine: "open-instruct";
  recipe: { name: string; version: string; variant: string | null; fingerprint: string };
  openInstruct: { repository: string; commit: string; description: string };
  stages: Array<
    StageCommand & { launcherArguments: string[]; commandScript: string; slurmScript: string; rayJob: string }
  >;
  data: BundleDataFile[];
}

export interface ExportOpenInstructParams {
  loaded: LoadedRecipe;
  /** The recipe's lock (default: read beside the recipe); every dataset is materialised at its pinned SHA. */
  lock?: RecipeLock;
  /** An open-instruct commit with a flag table, or `auto` (default): the newest that expresses every exported stage. */
  commit?: string;
  outputDirectory: string;
  options?: StageCommandOptions;
  stages?: readonly string[];
  slurm?: SlurmOptions;
  hub?: HubOverrides;
}

function placeholderPaths(params: { loaded: LoadedRecipe }): DatasetPaths {
  return Object.fromEntries(
    params.loaded.recipe.stages.flatMap((stage) => [
      ...stage.data.train.map((_, index) => [
        `${stage.name}.train[${index}]`,
        [`data/${stage.name}/train-${index}`],
      ]),
      ...stage.data.evaluation.map((_, index) => [
        `${stage.name}.evaluation[${index}]`,
        [`data/${stage.name}/evaluation-${index}`],
      ]),
    ]),
  );
}

/**
 * The commit table to export for: the named one (checked to express the recipe), or the newest
 * that expresses it. Runs on placeholder data paths, so it fails before anything is downloaded.
 */
export function chooseOpenInstructCommit(params: {
  loaded: LoadedRecipe;
  commit?: string;
  options?: StageCommandOptions;
  stages?: readonly string[];
}): OpenInstructCommit {
  const wanted = params.commit ?? "auto";
  const dryRun = (table: OpenInstructCommit) =>
    openInstructStageCommands({
      recipe: params.loaded.recipe,
      commit: table,
      datasetPaths: placeholderPaths(params),
      ...(params.options === undefined ? {} : { options: params.options }),
      ...(params.stages === undefined ? {} : { stages: params.stages }),
    });
  if (wanted !== "auto") {
    const table = findOpenInstructCommit({ commit: wanted });
    if (table === undefined)
      throw new ExportError({
        code: "export_unknown_commit",
        message: `no flag table for open-instruct commit ${wanted} (supported: ${openInstructCommits.map((known) => known.commit).join(", ")})`,
        details: { commit: wanted },
      });
    dryRun(table);
    return table;
  }
  let lastError: unknown;
  for (const table of openInstructCommits) {
    try {
      dryRun(table);
      return table;
    } catch (error) {
      if (!ExportError.hasCode(error, "export_unsupported")) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * The stage commands an export would write, on placeholder data paths (`data/<stage>/train-<i>`),
 * without a lock or any download: `posttrain export --dry-run`.
 */
export function previewOpenInstructExport(params: {
  loaded: LoadedRecipe;
  commit?: string;
  options?: StageCommandOptions;
  stages?: readonly string[];
}): { commit: OpenInstructCommit; commands: StageCommand[] } {
  const commit = chooseOpenInstructCommit(params);
  const commands = openInstructStageCommands({
    recipe: params.loaded.recipe,
    commit,
    datasetPaths: placeholderPaths(params),
    ...(params.options === undefined ? {} : { options: params.options }),
    ...(params.stages === undefined ? {} : { stages: params.stages }),
  });
  return { commit, commands };
}

async function copyVerified(params: { from: string; to: string; sha256: string }): Promise<void> {
  await mkdir(join(params.to, ".."), { recursive: true });
  const partial = `${params.to}.partial-${process.pid}`;
  await copyFile(params.from, partial);
  const copied = await hashFile(partial);
  if (copied.sha256 !== params.sha256) {
    await rm(partial, { force: true });
    throw new ExportError({
      code: "export_data_mismatch",
      message: `${params.from} copied to ${params.to} hashes to ${copied.sha256}, not the verified ${params.sha256}`,
      details: { path: params.to, expected: params.sha256, actual: copied.sha256 },
    });
  }
  await rename(partial, params.to);
}

/** Materialises the lock's dataset specs of the exported stages into `data/`, verified. */
async function materializeData(params: {
  loaded: LoadedRecipe;
  lock: RecipeLock;
  outputDirectory: string;
  stages: readonly string[];
  hub?: HubOverrides;
}): Promise<{ paths: DatasetPaths; files: BundleDataFile[] }> {
  const paths: Record<string, string[]> = {};
  const files: BundleDataFile[] = [];
  const { recipe } = params.loaded;
  for (const [stageIndex, stage] of recipe.stages.entries()) {
    if (!params.stages.includes(stage.name)) continue;
    const places = [
      ...stage.data.train.map((_, index) => ({ kind: "train", index })),
      ...stage.data.evaluation.map((_, index) => ({ kind: "evaluation", index })),
    ];
    for (const place of places) {
      const key = `${stage.name}.${place.kind}[${place.index}]`;
      const field = `stages[${stageIndex}].data.${place.kind}[${place.index}]`;
      const spec: DatasetSpec | undefined = params.lock.datasets[key];
      if (spec === undefined)
        throw new ExportError({
          code: "export_unpinned",
          message: `the lock has no pinned dataset for ${key} (${field}): run \`posttrain lock\``,
          details: { field, key },
        });
      const source = await materializeSource({
        spec,
        baseDirectory: params.loaded.packageDirectory,
        ...(params.hub === undefined ? {} : { hub: params.hub }),
      });
      const stagePaths: string[] = [];
      for (const [fileIndex, file] of source.files.entries()) {
        const format = dataFileFormat(file.path);
        if (format !== "parquet" && format !== "jsonl")
          throw new ExportError({
            code: "export_unsupported",
            message: `${field}: ${file.path} is ${format}; open-instruct reads local .parquet and .jsonl files only`,
            details: { fields: [field], path: file.path },
          });
        const path = `data/${stage.name}/${place.kind}-${place.index}/${String(fileIndex).padStart(4, "0")}-${basename(file.path)}`;
        await copyVerified({
          from: file.localPath,
          to: join(params.outputDirectory, path),
          sha256: file.sha256,
        });
        stagePaths.push(path);
        files.push({
          source: key,
          repo: spec.kind === "hub" ? spec.repo : null,
          revision: spec.kind === "hub" ? spec.revision : null,
          sourcePath: file.path,
          path,
          size: file.size,
          sha256: file.sha256,
        });
      }
      paths[key] = stagePaths;
    }
  }
  return { paths, files };
}

function setupScript(commit: OpenInstructCommit): string {
  return `#!/bin/bash
# Clones open-instruct at the commit this bundle was written for (${commit.description}).
set -euo pipefail
OPEN_INSTRUCT_DIR="\${OPEN_INSTRUCT_DIR:-$PWD/open-instruct}"
if [ ! -d "$OPEN_INSTRUCT_DIR/.git" ]; then
  git clone ${openInstructRepository} "$OPEN_INSTRUCT_DIR"
fi
git -C "$OPEN_INSTRUCT_DIR" fetch --quiet origin
git -C "$OPEN_INSTRUCT_DIR" checkout --quiet ${commit.commit}
echo "export OPEN_INSTRUCT_DIR=$OPEN_INSTRUCT_DIR   # then install it as its README says for this commit"
`;
}

function commandScript(params: { command: StageCommand; commit: OpenInstructCommit }): string {
  return `#!/bin/bash
# Stage ${params.command.stage} (${params.command.type}) at open-instruct ${params.commit.commit}.
# Batch: ${params.command.batch.formula}
# Run from the bundle folder with OPEN_INSTRUCT_DIR set${params.command.batch.nodes > 1 && params.command.launcher === "accelerate" ? "; MACHINE_RANK and MAIN_PROCESS_IP set per node (slurm/ does this)" : ""}.
set -euo pipefail
: "\${OPEN_INSTRUCT_DIR:?set OPEN_INSTRUCT_DIR to the open-instruct checkout (see setup.sh)}"
${stageShellCommand(params.command)}
`;
}

/** The bundle's README: what it runs and how to launch each stage. */
function bundleReadme(manifest: BundleManifest): string {
  return [
    `# ${manifest.recipe.name} ${manifest.recipe.version} on open-instruct ${manifest.openInstruct.commit}`,
    "",
    `Written by \`posttrain export\` for ${manifest.openInstruct.repository} at ${manifest.openInstruct.commit} (${manifest.openInstruct.description}).`,
    "Every flag is explicit; the datasets are the pinned files under data/ (see bundle.json for their SHAs and sha256).",
    "",
    "1. `bash setup.sh` (clone + checkout), install open-instruct as its README says for that commit, `export OPEN_INSTRUCT_DIR=...`.",
    "2. Credentials (HF_TOKEN, ...) come from your environment; nothing here holds one.",
    "3. Per stage, in order:",
    "",
    "| stage | script | batch | Slurm | Ray job | command |",
    "|---|---|---|---|---|---|",
    ...manifest.stages.map(
      (stage) =>
        `| ${stage.stage} | ${stage.script} | ${stage.batch.formula} | \`sbatch ${stage.slurmScript}\` | \`posttrain jobs submit . --stage ${stage.stage}\` | ${stage.commandScript} |`,
    ),
    "",
  ].join("\n");
}

/**
 * Writes the open-instruct launch bundle of a recipe. Throws `export_unpinned` without a lock,
 * `export_unsupported` naming every field the commit cannot express (before anything is
 * downloaded), `export_batch_mismatch` when the batch arithmetic disagrees.
 */
export async function exportOpenInstructBundle(params: ExportOpenInstructParams): Promise<BundleManifest> {
  const { loaded, outputDirectory } = params;
  const { recipe } = loaded;
  const commit = chooseOpenInstructCommit({
    loaded,
    ...(params.commit === undefined ? {} : { commit: params.commit }),
    ...(params.options === undefined ? {} : { options: params.options }),
    ...(params.stages === undefined ? {} : { stages: params.stages }),
  });
  const lock = params.lock ?? (await readLock({ loaded }));
  if (lock === null)
    throw new ExportError({
      code: "export_unpinned",
      message: `recipe ${recipe.name} has no lock: run \`posttrain lock\` first (datasets are materialised at their pinned SHAs)`,
      details: { recipe: recipe.name },
    });
  const stageNames = params.stages ?? recipe.stages.map((stage) => stage.name);
  const data = await materializeData({
    loaded,
    lock,
    outputDirectory,
    stages: stageNames,
    ...(params.hub === undefined ? {} : { hub: params.hub }),
  });
  const options: StageCommandOptions = { ...params.options };
  if (lock.model.kind === "hub") options.modelRevision = lock.model.revision;
  if (lock.tokenizer.source.kind === "hub") options.tokenizerRevision = lock.tokenizer.source.revision;
  const commands = openInstructStageCommands({
    recipe,
    commit,
    datasetPaths: data.paths,
    options,
    stages: stageNames,
  });
  await writeFileAtomic({ path: join(outputDirectory, "setup.sh"), content: setupScript(commit) });
  for (const stage of new Set(
    commands.filter((command) => command.launcher === "accelerate").map((command) => command.deepspeedStage),
  ))
    await writeJsonAtomic({
      path: join(outputDirectory, deepspeedConfigPath(stage)),
      value: deepspeedConfig({ stage }),
    });
  const stages: BundleManifest["stages"] = [];
  for (const command of commands) {
    const position = recipe.stages.findIndex((stage) => stage.name === command.stage) + 1;
    const scriptPath = `stages/${String(position).padStart(2, "0")}-${command.stage}.sh`;
    const slurmPath = `slurm/${command.stage}.sbatch`;
    const rayPath = `ray/${command.stage}.json`;
    await writeFileAtomic({
      path: join(outputDirectory, scriptPath),
      content: commandScript({ command, commit }),
    });
    await writeFileAtomic({
      path: join(outputDirectory, slurmPath),
      content: slurmScript({
        recipeName: recipe.name,
        command,
        stageScript: scriptPath,
        openInstructCommit: commit.commit,
        ...(params.slurm === undefined ? {} : { options: params.slurm }),
      }),
    });
    await writeJsonAtomic({
      path: join(outputDirectory, rayPath),
      value: {
        entrypoint: `bash ${scriptPath}`,
        runtime_env: { env_vars: { OPEN_INSTRUCT_DIR: "open-instruct" } },
        metadata: {
          recipe: recipe.name,
          recipe_version: recipe.version,
          stage: command.stage,
          open_instruct_commit: commit.commit,
        },
        entrypoint_num_gpus: 0,
      },
    });
    stages.push({
      ...command,
      launcherArguments: launcherArguments(command),
      commandScript: scriptPath,
      slurmScript: slurmPath,
      rayJob: rayPath,
    });
  }
  const manifest: BundleManifest = {
    bundleVersion: 1,
    engine: "open-instruct",
    recipe: {
      name: recipe.name,
      version: recipe.version,
      variant: loaded.variant,
      fingerprint: lock.recipe.fingerprint,
    },
    openInstruct: {
      repository: openInstructRepository,
      commit: commit.commit,
      description: commit.description,
    },
    stages,
    data: data.files,
  };
  await writeJsonAtomic({ path: join(outputDirectory, "bundle.json"), value: manifest });
  await writeFileAtomic({ path: join(outputDirectory, "README.md"), content: bundleReadme(manifest) });
  return manifest;
}
