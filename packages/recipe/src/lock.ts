/**
 * `recipe.lock.json`: everything a recipe resolves to, pinned — dataset and model commit
 * SHAs, every file's size and sha256, row counts, tokenizer and chat-template hashes, the
 * @posttrain package versions, verifier versions and eval task versions + hashes.
 *
 * A run recomputes the lock (using the stored SHAs for references the recipe leaves at a
 * branch) and compares: any difference in the model, tokenizer, chat template or data is
 * blocking (`recipe_lock_mismatch`, every difference listed); package, verifier and task
 * version changes and recipe edits are reported as notes.
 */
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { fingerprint, hashFile, parseWithSchema, sha256Hex, writeJsonAtomic } from "@posttrain/core";
import {
  builtinChatTemplates,
  chatTemplateSource,
  type DatasetSpec,
  datasetSpecSchema,
  lockSpec,
} from "@posttrain/data";
import { taskHash } from "@posttrain/evals";
import { type HubOverrides, isCommitSha, listRepoFiles, resolveRevision } from "@posttrain/hub";
import { getVerifier } from "@posttrain/verifiers";
import { z } from "zod";
import { type Difference, diffValues } from "./diff.js";
import { onnxruntimeNodeVersion } from "./environment.js";
import { RecipeError } from "./errors.js";
import { type LoadedRecipe, lockPathOf } from "./load.js";
import type { Recipe } from "./schema.js";
import { publishProblems } from "./verdict.js";

export const lockVersion = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const commitSha = z.string().regex(/^[0-9a-f]{40}$/, "must be a 40-hex commit SHA");

/** A file of a Hub repo as listed at a commit (sha256 only for LFS files; gitOid always). */
const hubFileSchema = z.strictObject({
  path: z.string(),
  size: z.number().int().nonnegative(),
  sha256: sha256.nullable(),
  gitOid: z.string(),
});
const localFileSchema = z.strictObject({ path: z.string(), size: z.number().int().nonnegative(), sha256 });

export const recipeLockSchema = z.strictObject({
  lockVersion: z.literal(lockVersion),
  recipe: z.strictObject({
    name: z.string(),
    version: z.string(),
    variant: z.string().nullable(),
    /** Fingerprint of the validated recipe (hyperparameters included). */
    fingerprint: sha256,
  }),
  model: z.discriminatedUnion("kind", [
    z.strictObject({
      kind: z.literal("hub"),
      repo: z.string(),
      revision: commitSha,
      files: z.array(hubFileSchema),
    }),
    z.strictObject({ kind: z.literal("initialize"), fingerprint: sha256 }),
  ]),
  tokenizer: z.strictObject({
    source: z.discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("hub"), repo: z.string(), revision: commitSha }),
      z.strictObject({ kind: z.literal("local"), directory: z.string() }),
    ]),
    files: z.array(z.union([hubFileSchema, localFileSchema])),
    /** sha256 of the chat template source; null when it is the Hub tokenizer's own (its config file's hash covers it). */
    chatTemplateSha256: sha256.nullable(),
  }),
  /** Locked specs by place: `<stage>.train[i]`, `<stage>.evaluation[i]`, `evals.<task>`. */
  datasets: z.record(z.string(), datasetSpecSchema),
  evalTasks: z.record(z.string(), z.strictObject({ version: z.string(), hash: sha256 })),
  verifiers: z.record(z.string(), z.string()),
  packages: z.record(z.string(), z.string()),
  /**
   * The recipe's reference implementation (open-instruct commit, script per stage) with every
   * Hub model it names (a stage's tokenizer, PPO's reward model) pinned to a commit.
   */
  referenceImplementation: z
    .strictObject({
      engine: z.string(),
      repository: z.string(),
      commit: z.string(),
      stages: z.record(
        z.string(),
        z.strictObject({
          script: z.string(),
          tokenizer: z.strictObject({ repo: z.string(), revision: commitSha }).optional(),
          rewardModel: z.strictObject({ repo: z.string(), revision: commitSha }).optional(),
        }),
      ),
    })
    .optional(),
});
export type RecipeLock = z.infer<typeof recipeLockSchema>;

/** The lock sections whose differences block a run (data and weights); the rest are notes. */
export const blockingLockSections = ["model", "tokenizer", "datasets"] as const;

const tokenizerFilePattern =
  /^(tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|vocab\.json|merges\.txt|tokenizer\.model|added_tokens\.json|generation_config\.json)$/;

/** The @posttrain packages a run executes, as resolved from this package. */
export const recordedPackages = [
  "@posttrain/core",
  "@posttrain/hub",
  "@posttrain/data",
  "@posttrain/engine",
  "@posttrain/training",
  "@posttrain/tools",
  "@posttrain/sft",
  "@posttrain/dpo",
  "@posttrain/rlvr",
  "@posttrain/verifiers",
  "@posttrain/evals",
  "@posttrain/recipe",
] as const;

async function packageVersions(): Promise<Record<string, string>> {
  const require = createRequire(import.meta.url);
  const versions: Record<string, string> = {};
  for (const name of recordedPackages) {
    const path =
      name === "@posttrain/recipe"
        ? new URL("../package.json", import.meta.url)
        : require.resolve(`${name}/package.json`);
    const json = JSON.parse(await readFile(path, "utf8")) as { version?: string };
    versions[name] = json.version ?? "0.0.0";
  }
  // journey-report: the runtime the engine's kernels come from (numbers can differ between versions).
  versions["onnxruntime-node"] = onnxruntimeNodeVersion() ?? "unknown";
  return versions;
}

/** Every place a dataset spec appears in the recipe, by lock key. */
export function datasetPlaces(recipe: Recipe): Array<{ key: string; spec: DatasetSpec }> {
  const places: Array<{ key: string; spec: DatasetSpec }> = [];
  for (const stage of recipe.stages) {
    for (const [index, spec] of stage.data.train.entries())
      places.push({ key: `${stage.name}.train[${index}]`, spec });
    for (const [index, spec] of stage.data.evaluation.entries())
      places.push({ key: `${stage.name}.evaluation[${index}]`, spec });
  }
  for (const task of recipe.evals.tasks) places.push({ key: `evals.${task.name}`, spec: task.dataset });
  return places;
}

/** The revision to use for a Hub reference: the recipe's SHA, else the previous lock's, else resolve. */
async function pinnedRevision(params: {
  repo: string;
  type: "model" | "dataset";
  revision: string;
  previous: { repo: string; revision: string } | undefined;
  hub: HubOverrides | undefined;
}): Promise<string> {
  if (isCommitSha(params.revision)) return params.revision;
  if (params.previous !== undefined && params.previous.repo === params.repo) return params.previous.revision;
  const { sha } = await resolveRevision({
    ...params.hub,
    repo: { type: params.type, name: params.repo },
    revision: params.revision,
  });
  return sha;
}

async function localFiles(directory: string): Promise<Array<z.infer<typeof localFileSchema>>> {
  const listing = await readdir(directory, { withFileTypes: true }).catch((error: unknown) => {
    throw new RecipeError({
      code: "recipe_tokenizer_missing",
      message: `the recipe's tokenizer folder ${directory} ${
        (error as NodeJS.ErrnoException).code === "ENOENT"
          ? "does not exist"
          : `cannot be read: ${(error as Error).message}`
      }`,
      ...((error as NodeJS.ErrnoException).code === "ENOENT" ? {} : { cause: error }),
      details: { directory },
    });
  });
  const entries = listing
    .filter((entry) => entry.isFile() && tokenizerFilePattern.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    entries.map(async (name) => {
      const path = join(directory, name);
      const { sha256: hash, size } = await hashFile(path);
      return { path: name, size, sha256: hash };
    }),
  );
}

function withoutExpect(spec: DatasetSpec): DatasetSpec {
  const { expect: _expect, ...rest } = spec;
  return rest;
}

/**
 * Resolves everything the recipe names. `previous` supplies the SHAs of references the
 * recipe leaves at a branch (a run pins to its lock; `posttrain lock` passes none to
 * re-resolve). Datasets are materialized (downloaded once into the HF cache) and counted.
 */
export async function computeLock(params: {
  loaded: LoadedRecipe;
  previous?: RecipeLock | null;
  hub?: HubOverrides;
  onDataset?: (key: string) => void;
}): Promise<RecipeLock> {
  const { loaded } = params;
  const { recipe, packageDirectory } = loaded;
  const previous = params.previous ?? null;

  let model: RecipeLock["model"];
  if (recipe.model.kind === "hub") {
    const revision = await pinnedRevision({
      repo: recipe.model.repo,
      type: "model",
      revision: recipe.model.revision,
      previous: previous?.model.kind === "hub" ? previous.model : undefined,
      hub: params.hub,
    });
    const files = await listRepoFiles({
      ...params.hub,
      repo: { type: "model", name: recipe.model.repo },
      revision,
    });
    model = {
      kind: "hub",
      repo: recipe.model.repo,
      revision,
      files: files.map(({ path, size, sha256: hash, gitOid }) => ({ path, size, sha256: hash, gitOid })),
    };
  } else {
    model = {
      kind: "initialize",
      fingerprint: fingerprint({ config: recipe.model.config, seed: recipe.model.seed }),
    };
  }

  const tokenizerSource = recipe.tokenizer.source;
  let tokenizer: RecipeLock["tokenizer"];
  const template = recipe.tokenizer.chatTemplate;
  let chatTemplateSha256: string | null =
    template === "tokenizer"
      ? null
      : sha256Hex(typeof template === "string" ? builtinChatTemplates[template] : template.jinja);
  if (tokenizerSource.kind === "hub") {
    const previousSource = previous?.tokenizer.source;
    const revision = await pinnedRevision({
      repo: tokenizerSource.repo,
      type: "model",
      revision: tokenizerSource.revision,
      previous: previousSource?.kind === "hub" ? previousSource : undefined,
      hub: params.hub,
    });
    const files = await listRepoFiles({
      ...params.hub,
      repo: { type: "model", name: tokenizerSource.repo },
      revision,
    });
    tokenizer = {
      source: { kind: "hub", repo: tokenizerSource.repo, revision },
      files: files
        .filter((file) => tokenizerFilePattern.test(file.path))
        .map(({ path, size, sha256: hash, gitOid }) => ({ path, size, sha256: hash, gitOid })),
      chatTemplateSha256,
    };
  } else {
    const directory = resolve(packageDirectory, tokenizerSource.directory);
    if (template === "tokenizer") {
      const config = JSON.parse(await readFile(join(directory, "tokenizer_config.json"), "utf8")) as {
        chat_template?: unknown;
      };
      chatTemplateSha256 = sha256Hex(
        chatTemplateSource({ choice: undefined, configTemplate: config.chat_template }),
      );
    }
    tokenizer = { source: tokenizerSource, files: await localFiles(directory), chatTemplateSha256 };
  }

  const datasets: Record<string, DatasetSpec> = {};
  for (const { key, spec } of datasetPlaces(recipe)) {
    params.onDataset?.(key);
    const previousSpec = previous?.datasets[key];
    let toLock = withoutExpect(spec);
    if (toLock.kind === "hub") {
      const revision = await pinnedRevision({
        repo: toLock.repo,
        type: "dataset",
        revision: toLock.revision,
        previous: previousSpec?.kind === "hub" ? previousSpec : undefined,
        hub: params.hub,
      });
      toLock = { ...toLock, revision };
    }
    const { spec: locked } = await lockSpec({
      spec: toLock,
      baseDirectory: packageDirectory,
      ...(params.hub === undefined ? {} : { hub: params.hub }),
    });
    datasets[key] = locked;
  }

  const verifierNames = new Set(recipe.verifiers);
  // A task taking each row's verifier from its `dataset` column relies on `recipe.verifiers`.
  for (const task of recipe.evals.tasks)
    if (task.scoring.kind === "verifier" && typeof task.scoring.verifier === "string")
      verifierNames.add(task.scoring.verifier);
  const verifiers: Record<string, string> = {};
  for (const name of [...verifierNames].sort()) {
    verifiers[name] = getVerifier({ name }).version;
  }

  const evalTasks: RecipeLock["evalTasks"] = {};
  for (const task of recipe.evals.tasks)
    evalTasks[task.name] = { version: task.version, hash: taskHash({ spec: task }) };

  const reference = recipe.referenceImplementation;
  let referenceImplementation: RecipeLock["referenceImplementation"];
  if (reference !== undefined) {
    const stages: NonNullable<RecipeLock["referenceImplementation"]>["stages"] = {};
    for (const [name, stage] of Object.entries(reference.stages)) {
      const pinned: (typeof stages)[string] = { script: stage.script };
      for (const key of ["tokenizer", "rewardModel"] as const) {
        const wanted = stage[key];
        if (wanted === undefined) continue;
        const before = previous?.referenceImplementation?.stages[name]?.[key];
        pinned[key] = {
          repo: wanted.repo,
          revision: await pinnedRevision({
            repo: wanted.repo,
            type: "model",
            revision: wanted.revision,
            previous: before,
            hub: params.hub,
          }),
        };
      }
      stages[name] = pinned;
    }
    referenceImplementation = {
      engine: reference.engine,
      repository: reference.repository,
      commit: reference.commit,
      stages,
    };
  }

  return {
    lockVersion,
    recipe: {
      name: recipe.name,
      version: recipe.version,
      variant: loaded.variant,
      fingerprint: fingerprint(recipe),
    },
    model,
    tokenizer,
    datasets,
    evalTasks,
    verifiers,
    packages: await packageVersions(),
    ...(referenceImplementation === undefined ? {} : { referenceImplementation }),
  };
}

/**
 * JSON.parse with the file named: a truncated or hand-broken lock is a `recipe_lock_invalid`
 * error with the path, line and column (and the byte position), not a bare SyntaxError.
 */
export function parseJsonFile(params: {
  text: string;
  path: string;
  /** The command that writes the file again (default `posttrain lock`). */
  rewriteCommand?: string;
}): unknown {
  try {
    return JSON.parse(params.text);
  } catch (error) {
    const reason = (error as Error).message;
    const match = /at position (\d+)/.exec(reason);
    const position = match === null ? params.text.length : Number(match[1]);
    const before = params.text.slice(0, position).split("\n");
    const line = before.length;
    const column = (before.at(-1)?.length ?? 0) + 1;
    const truncated = match === null || position >= params.text.trimEnd().length;
    throw new RecipeError({
      code: "recipe_lock_invalid",
      message: `${params.path}:${line}:${column} is not valid JSON (${reason.replace(/ in JSON at position \d+.*$/, "")} at position ${position}${
        truncated ? "; the file looks truncated" : ""
      }): delete it and run \`${params.rewriteCommand ?? "posttrain lock"}\` to write it again`,
      cause: error,
      details: { path: params.path, line, column, position },
    });
  }
}

/** Reads `recipe.lock.json` beside the recipe; null when there is none. */
export async function readLock(params: { loaded: LoadedRecipe }): Promise<RecipeLock | null> {
  const path = lockPathOf(params);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  // The command that writes this lock: the variant's lock needs its --variant.
  const folder = relative(process.cwd(), params.loaded.packageDirectory) || ".";
  const rewriteCommand = `posttrain lock ${folder}${params.loaded.variant === null ? "" : ` --variant ${params.loaded.variant}`}`;
  return parseWithSchema({
    schema: recipeLockSchema,
    value: parseJsonFile({ text, path, rewriteCommand }),
    label: path,
  });
}

/** Writes the lock atomically; returns its path. */
export async function writeLock(params: { loaded: LoadedRecipe; lock: RecipeLock }): Promise<string> {
  // Publishing: a lock pins a table that may be published, so it refuses one that may not.
  const problems = publishProblems({ recipe: params.loaded.recipe });
  if (problems.length > 0)
    throw new RecipeError({
      code: "recipe_not_publishable",
      message: `recipe ${params.loaded.recipe.name}: the expected table may not be published:\n${problems
        .map((problem) => `  ${problem.path}: ${problem.message}`)
        .join("\n")}`,
      details: { problems },
    });
  const path = lockPathOf(params);
  await writeJsonAtomic({ path, value: params.lock });
  return path;
}

/** Hub references the recipe leaves at a branch or tag (a run needs a lock for these). */
export function unpinnedReferences(recipe: Recipe): string[] {
  const unpinned: string[] = [];
  if (recipe.model.kind === "hub" && !isCommitSha(recipe.model.revision))
    unpinned.push(`model ${recipe.model.repo}@${recipe.model.revision}`);
  const source = recipe.tokenizer.source;
  if (source.kind === "hub" && !isCommitSha(source.revision))
    unpinned.push(`tokenizer ${source.repo}@${source.revision}`);
  for (const { key, spec } of datasetPlaces(recipe))
    if (spec.kind === "hub" && !isCommitSha(spec.revision))
      unpinned.push(`${key} ${spec.repo}@${spec.revision}`);
  return unpinned;
}

export interface LockComparison {
  /** Differences in model, tokenizer, template or data: a run refuses them. */
  blocking: Difference[];
  /** Package, verifier, task-version and recipe changes: reported, not blocking. */
  notes: Difference[];
}

/** Splits the differences between a stored and a recomputed lock into blocking ones and notes. */
export function compareLocks(params: { locked: RecipeLock; current: RecipeLock }): LockComparison {
  const all = diffValues({ locked: params.locked, current: params.current });
  const isBlocking = (difference: Difference) =>
    blockingLockSections.some(
      (section) =>
        difference.path === section ||
        difference.path.startsWith(`${section}.`) ||
        difference.path.startsWith(`${section}[`),
    );
  return { blocking: all.filter(isBlocking), notes: all.filter((difference) => !isBlocking(difference)) };
}

/**
 * What a run does before anything else: the stored lock must exist when the recipe has
 * unpinned references, and the recomputed lock must match it (else `recipe_lock_mismatch`
 * with every difference in `details.differences`). With `relock` the fresh lock replaces it.
 * With no stored lock and nothing unpinned, the computed lock is written.
 */
export async function verifyLock(params: {
  loaded: LoadedRecipe;
  relock?: boolean;
  hub?: HubOverrides;
}): Promise<{ lock: RecipeLock; written: boolean; notes: Difference[] }> {
  const stored = await readLock(params);
  if (params.relock === true) {
    const lock = await computeLock({
      loaded: params.loaded,
      previous: null,
      ...(params.hub === undefined ? {} : { hub: params.hub }),
    });
    await writeLock({ loaded: params.loaded, lock });
    return { lock, written: true, notes: [] };
  }
  if (stored === null) {
    const unpinned = unpinnedReferences(params.loaded.recipe);
    if (unpinned.length > 0) {
      throw new RecipeError({
        code: "recipe_unpinned",
        message: `recipe ${params.loaded.recipe.name} has unpinned references and no ${lockPathOf(params)}; run \`posttrain lock\` first:\n  ${unpinned.join("\n  ")}`,
        details: { unpinned },
      });
    }
    const lock = await computeLock({
      loaded: params.loaded,
      ...(params.hub === undefined ? {} : { hub: params.hub }),
    });
    await writeLock({ loaded: params.loaded, lock });
    return { lock, written: true, notes: [] };
  }
  const current = await computeLock({
    loaded: params.loaded,
    previous: stored,
    ...(params.hub === undefined ? {} : { hub: params.hub }),
  });
  const { blocking, notes } = compareLocks({ locked: stored, current });
  if (blocking.length > 0) {
    throw new RecipeError({
      code: "recipe_lock_mismatch",
      message: `the data no longer matches ${lockPathOf(params)} (run with --relock to accept the new state):\n${blocking
        .map(
          (difference) =>
            `  ${difference.path}: ${JSON.stringify(difference.locked)} → ${JSON.stringify(difference.current)}`,
        )
        .join("\n")}`,
      details: { differences: blocking },
    });
  }
  return { lock: stored, written: false, notes };
}
