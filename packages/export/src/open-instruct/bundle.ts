/**
 * `posttrain export <recipe> --engine open-instruct`: a launch bundle per stage.
 *
 * Layout of the bundle folder:
 * - `bundle.json` — the manifest ({@link BundleManifest}): recipe, open-instruct commit,
 *   every stage's script, argv, launcher argv and batch arithmetic, every data file's sha256;
 * - `setup.sh` — clones open-instruct and checks out the pinned commit (full SHA, verified);
 * - `configs/ds_stage{2,3}.json` — the DeepSpeed configs the accelerate launches use;
 * - `stages/NN-<stage>.sh` — data check, input-model check (or run-folder lookup), then the
 *   exact command of each stage;
 * - `slurm/<stage>.sbatch` — a Slurm script per stage; `ray/<stage>.json` — a Ray job
 *   submission body (entrypoint, runtime_env, metadata) per stage;
 * - `data/<stage>/<train|evaluation>-<i>.jsonl` — each locked source's rows as one JSONL file
 *   (open-instruct's mixer cannot pin a Hub revision, and neither supported commit loads a
 *   local Parquet file), and `data/verify.sh` which re-checks rows and sha256.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "@posttrain/core";
import { type DatasetSpec, materializeSource, readTableBatches, rowsFromTable } from "@posttrain/data";
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
import {
  deepspeedConfig,
  deepspeedConfigPath,
  launcherArguments,
  shellQuote,
  stageShellCommand,
} from "./launch.js";
import {
  type DatasetPaths,
  openInstructStageCommands,
  type StageCommand,
  type StageCommandOptions,
} from "./stage-commands.js";

/** One materialised data file: a locked source's rows as one JSONL file. */
export interface BundleDataFile {
  /** Lock key of its source, e.g. `sft.train[0]`. */
  source: string;
  /** The stage that reads it. */
  stage: string;
  repo: string | null;
  revision: string | null;
  /** The locked source files it was converted from (path in the repo, sha256), in order. */
  sourceFiles: Array<{ path: string; sha256: string }>;
  /** Path in the bundle. */
  path: string;
  /** Rows (= lines), equal to the lock's row count. */
  rows: number;
  size: number;
  sha256: string;
}

/** The columns each stage type's open-instruct transforms read from a row. */
export const requiredColumns: Readonly<Record<string, readonly string[]>> = {
  sft: ["messages"],
  dpo: ["chosen", "rejected"],
  ppo: ["messages", "ground_truth", "dataset"],
  rlvr: ["messages", "ground_truth", "dataset"],
};

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
  /**
   * An open-instruct commit with a flag table; default the recipe's `referenceImplementation.commit`,
   * else `auto` (the newest that expresses every exported stage). Every argv is checked against it.
   */
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
        [`data/${stage.name}/train-${index}.jsonl`],
      ]),
      ...stage.data.evaluation.map((_, index) => [
        `${stage.name}.evaluation[${index}]`,
        [`data/${stage.name}/evaluation-${index}.jsonl`],
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
  const pinned = params.loaded.recipe.referenceImplementation?.commit;
  const wanted = params.commit ?? pinned ?? "auto";
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
        message: `no flag table for open-instruct commit ${wanted}${wanted === pinned ? " (the recipe's referenceImplementation.commit)" : ""} (supported: ${openInstructCommits.map((known) => `${known.commit} ${known.fullCommit}`).join(", ")})`,
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

/**
 * Writes the rows of a materialised source's files, in order, as one JSONL file (atomic: a
 * partial file renamed into place), checking the columns on every row and the row count
 * against the lock. Memory holds one read batch at a time.
 */
async function writeJsonl(params: {
  files: ReadonlyArray<{ localPath: string; path: string }>;
  to: string;
  columns: readonly string[];
  expectedRows: number | undefined;
  field: string;
}): Promise<{ rows: number; size: number; sha256: string }> {
  await mkdir(join(params.to, ".."), { recursive: true });
  const partial = `${params.to}.partial-${process.pid}`;
  const stream = createWriteStream(partial);
  const hash = createHash("sha256");
  let rows = 0;
  let size = 0;
  try {
    for (const file of params.files) {
      for await (const table of readTableBatches({ path: file.localPath })) {
        let chunk = "";
        for (const row of rowsFromTable(table)) {
          const missing = params.columns.filter(
            (column) => row[column] === undefined || row[column] === null,
          );
          if (missing.length > 0)
            throw new ExportError({
              code: "export_data_mismatch",
              message: `${params.field}: row ${rows} of ${file.path} has no ${missing.join(", ")} (open-instruct reads ${params.columns.join(", ")})`,
              details: { field: params.field, path: file.path, row: rows, missing },
            });
          chunk += `${JSON.stringify(row)}\n`;
          rows++;
        }
        const bytes = Buffer.from(chunk, "utf8");
        hash.update(bytes);
        size += bytes.length;
        if (!stream.write(bytes)) await once(stream, "drain");
      }
    }
    stream.end();
    await once(stream, "finish");
  } catch (error) {
    stream.destroy();
    await rm(partial, { force: true });
    throw error;
  }
  if (params.expectedRows !== undefined && rows !== params.expectedRows) {
    await rm(partial, { force: true });
    throw new ExportError({
      code: "export_data_mismatch",
      message: `${params.field}: the locked source has ${params.expectedRows} rows, its files gave ${rows}`,
      details: { field: params.field, expected: params.expectedRows, actual: rows },
    });
  }
  await rename(partial, params.to);
  return { rows, size, sha256: hash.digest("hex") };
}

/**
 * Materialises the lock's dataset specs of the exported stages into `data/`: each source's
 * verified files (@posttrain/data's `materializeSource`) converted to one JSONL file, the
 * format both supported commits load from a local path.
 */
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
      const path = `data/${stage.name}/${place.kind}-${place.index}.jsonl`;
      const written = await writeJsonl({
        files: source.files,
        to: join(params.outputDirectory, path),
        columns: requiredColumns[stage.type] ?? [],
        expectedRows: spec.expect?.rows,
        field,
      });
      paths[key] = [path];
      files.push({
        source: key,
        stage: stage.name,
        repo: spec.kind === "hub" ? spec.repo : null,
        revision: spec.kind === "hub" ? spec.revision : null,
        sourceFiles: source.files.map((file) => ({ path: file.path, sha256: file.sha256 })),
        path,
        ...written,
      });
    }
  }
  return { paths, files };
}

/**
 * `data/verify.sh <stage>`: re-checks, before a stage trains, that each of its data files has
 * the locked row count and the sha256 written at export (exit 3 otherwise).
 */
export function dataVerificationScript(params: {
  files: readonly BundleDataFile[];
  stages: readonly string[];
}): string {
  const cases = params.stages.map((stage) => {
    const checks = params.files
      .filter((file) => file.stage === stage)
      .map((file) => `    check ${shellQuote(file.path)} ${file.rows} ${file.sha256}`);
    return [`  ${shellQuote(stage)})`, ...(checks.length === 0 ? ["    :"] : checks), "    ;;"].join("\n");
  });
  return `#!/bin/bash
# Re-checks a stage's materialised data (rows and sha256 as exported from the lock) before training.
set -euo pipefail
cd "$(dirname "$0")/.."
digest() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}
check() {
  local path="$1" rows="$2" sha256="$3"
  if [ ! -f "$path" ]; then echo "data check: $path is missing" >&2; exit 3; fi
  local actual_rows
  actual_rows=$(wc -l < "$path" | tr -d ' ')
  if [ "$actual_rows" != "$rows" ]; then echo "data check: $path has $actual_rows rows, the lock has $rows" >&2; exit 3; fi
  local actual_sha256
  actual_sha256=$(digest "$path")
  if [ "$actual_sha256" != "$sha256" ]; then echo "data check: $path hashes to $actual_sha256, expected $sha256" >&2; exit 3; fi
  echo "data check: $path ok ($rows rows)"
}
case "\${1:?usage: data/verify.sh <stage>}" in
${cases.join("\n")}
  *)
    echo "data check: no stage $1 in this bundle" >&2; exit 2
    ;;
esac
`;
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
git -C "$OPEN_INSTRUCT_DIR" checkout --quiet ${commit.fullCommit}
if [ "$(git -C "$OPEN_INSTRUCT_DIR" rev-parse HEAD)" != "${commit.fullCommit}" ]; then
  echo "open-instruct is not at ${commit.fullCommit}" >&2; exit 1
fi
echo "export OPEN_INSTRUCT_DIR=$OPEN_INSTRUCT_DIR   # then install it as its README says for this commit"
`;
}

/** The shell lines that find a chained stage's input model (or check it exists), before training. */
function inputModelLines(command: StageCommand, modelArgument: string | undefined): string {
  if (command.inputModel !== null) {
    const { directory, runNamePrefix } = command.inputModel;
    return `# The previous stage saved into ${directory}/${runNamePrefix}<unix time> (its run name).
shopt -s nullglob
runs=(${shellQuote(directory)}/${shellQuote(runNamePrefix)}*/)
if [ "\${#runs[@]}" -ne 1 ]; then echo "expected one run folder ${directory}/${runNamePrefix}*, found \${#runs[@]}" >&2; exit 4; fi
INPUT_MODEL="\${runs[0]%/}"
if [ ! -f "$INPUT_MODEL/config.json" ]; then echo "no model in $INPUT_MODEL" >&2; exit 4; fi`;
  }
  if (modelArgument?.startsWith("output/") === true)
    return `if [ ! -f ${shellQuote(modelArgument)}/config.json ]; then echo "no model in ${modelArgument}: run the previous stage first" >&2; exit 4; fi`;
  return "";
}

function commandScript(params: { command: StageCommand; commit: OpenInstructCommit }): string {
  const { command } = params;
  const modelAt = command.arguments.indexOf("--model_name_or_path");
  const model = modelAt < 0 ? undefined : command.arguments[modelAt + 1];
  return `#!/bin/bash
# Stage ${command.stage} (${command.type}) at open-instruct ${params.commit.commit}.
# Batch: ${command.batch.formula}
# Run from the bundle folder with OPEN_INSTRUCT_DIR set${command.batch.nodes > 1 && command.launcher === "accelerate" ? "; MACHINE_RANK and MAIN_PROCESS_IP set per node (slurm/ does this)" : ""}.
set -euo pipefail
cd "$(dirname "$0")/.."
: "\${OPEN_INSTRUCT_DIR:?set OPEN_INSTRUCT_DIR to the open-instruct checkout (see setup.sh)}"
bash data/verify.sh ${shellQuote(command.stage)}
${inputModelLines(command, model)}
${stageShellCommand(command)}
`;
}

/** The bundle's README: what it runs and how to launch each stage. */
function bundleReadme(manifest: BundleManifest): string {
  return [
    `# ${manifest.recipe.name} ${manifest.recipe.version} on open-instruct ${manifest.openInstruct.commit}`,
    "",
    `Written by \`posttrain export\` for ${manifest.openInstruct.repository} at ${manifest.openInstruct.commit} (${manifest.openInstruct.description}).`,
    "Every flag is explicit and parses at that commit; the datasets are the locked rows as JSONL under data/ (bundle.json lists their source SHAs, row counts and sha256).",
    "Each stage script first runs `bash data/verify.sh <stage>` (row counts and sha256 as exported) and checks the previous stage's model is there; nothing is uploaded (`--push_to_hub False`) or tracked.",
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
 * The lock's pins of the reference's Hub models (a stage's tokenizer, the reward model). A
 * recipe whose reference names a model the lock has not pinned cannot be exported: `posttrain
 * lock` again (`export_unpinned`).
 */
function referenceRevisions(params: {
  loaded: LoadedRecipe;
  lock: RecipeLock;
}): Record<string, { tokenizer?: string; rewardModel?: string }> {
  const reference = params.loaded.recipe.referenceImplementation;
  const result: Record<string, { tokenizer?: string; rewardModel?: string }> = {};
  if (reference === undefined) return result;
  for (const [name, stage] of Object.entries(reference.stages)) {
    const pinned = params.lock.referenceImplementation?.stages[name];
    const entry: { tokenizer?: string; rewardModel?: string } = {};
    for (const key of ["tokenizer", "rewardModel"] as const) {
      const wanted = stage[key];
      if (wanted === undefined) continue;
      const locked = pinned?.[key];
      if (locked === undefined || locked.repo !== wanted.repo)
        throw new ExportError({
          code: "export_unpinned",
          message: `the lock does not pin referenceImplementation.stages.${name}.${key} (${wanted.repo}): run \`posttrain lock\``,
          details: { field: `referenceImplementation.stages.${name}.${key}` },
        });
      entry[key] = locked.revision;
    }
    result[name] = entry;
  }
  return result;
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
  options.referenceRevisions = referenceRevisions({ loaded, lock });
  const commands = openInstructStageCommands({
    recipe,
    commit,
    datasetPaths: data.paths,
    options,
    stages: stageNames,
  });
  await writeFileAtomic({ path: join(outputDirectory, "setup.sh"), content: setupScript(commit) });
  await writeFileAtomic({
    path: join(outputDirectory, "data", "verify.sh"),
    content: dataVerificationScript({ files: data.files, stages: stageNames }),
  });
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
