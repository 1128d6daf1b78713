/**
 * The recipe format (see docs/recipe-format.md): everything a run needs, pinned. A recipe is
 * plain data, validated with zod at load; every stage's hyperparameters are validated by that
 * stage package's own schema (stage-configs.ts) and every error names the field, e.g.
 * `stages[1].hyperparameters.loss.beta`.
 */
import { parseWithSchema } from "@posttrain/core";
import { datasetSpecSchema } from "@posttrain/data";
import { llamaConfigSchema } from "@posttrain/engine";
import { getTask, taskSpecSchema } from "@posttrain/evals";
import { z } from "zod";
import { RecipeError } from "./errors.js";
import { referenceImplementationSchema } from "./reference-implementation.js";
import { stageConfigSchemas } from "./stage-configs.js";

const hubRepoName = z.string().regex(/^[\w.-]+\/[\w.-]+$/, "must be owner/name");

/**
 * A model or tokenizer repo on the Hub. `revision` is a 40-hex commit SHA, or a branch/tag
 * that `posttrain lock` resolves (a run refuses an unpinned revision without a lock).
 */
export const hubModelReferenceSchema = z.strictObject({
  kind: z.literal("hub"),
  repo: hubRepoName,
  revision: z.string().min(1),
});
export type HubModelReference = z.infer<typeof hubModelReferenceSchema>;

/**
 * The base model: a Hub checkpoint (with its architecture written out, so `plan` needs no
 * download) or a fresh initialisation from a Llama config and a seed.
 */
export const baseModelSchema = z.discriminatedUnion("kind", [
  hubModelReferenceSchema.extend({
    /** The repo's config.json values (HF names) that sizing needs. */
    architecture: llamaConfigSchema,
  }),
  z.strictObject({
    kind: z.literal("initialize"),
    config: llamaConfigSchema,
    /** Seeds the initial weights (`Random.fromSeed(seed).stream("init")`). */
    seed: z.number().int(),
  }),
]);
export type BaseModel = z.infer<typeof baseModelSchema>;

/** The tokenizer's files and the chat template every stage and eval renders with. */
export const tokenizerSchema = z.strictObject({
  source: z.discriminatedUnion("kind", [
    hubModelReferenceSchema,
    /** A folder (relative to the recipe package) with tokenizer.json / tokenizer_config.json. */
    z.strictObject({ kind: z.literal("local"), directory: z.string().min(1) }),
  ]),
  /** A built-in template (`tulu`, `chatml`, `zephyr`), explicit Jinja, or `tokenizer` (the config's own). */
  chatTemplate: z.union([
    z.enum(["tulu", "chatml", "zephyr", "tokenizer"]),
    z.strictObject({ jinja: z.string().min(1) }),
  ]),
  /** Prepend BOS when rendering (open-instruct `--add_bos`, OLMo 2). */
  addBos: z.boolean(),
});
export type TokenizerSettings = z.infer<typeof tokenizerSchema>;

/** A stage's data: training sources (a mixture), held-out sources, and tokenization bounds. */
export const stageDataSchema = z.strictObject({
  train: z.array(datasetSpecSchema).min(1),
  evaluation: z.array(datasetSpecSchema).default([]),
  /** Truncation length in tokens (RLVR: prompt + response). */
  maxLength: z.number().int().positive(),
  /**
   * Rows the training sources hold as their publisher states it (dataset card or paper), so
   * `plan` can size a run before `lock` has counted them; the lock's count wins once present.
   */
  publishedRows: z
    .strictObject({ rows: z.number().int().nonnegative(), source: z.string().min(1) })
    .optional(),
  /** Pack SFT documents into rows of `sequenceLength`; `null` = one conversation per row. */
  packing: z.strictObject({ sequenceLength: z.number().int().positive() }).nullable().default(null),
  /**
   * SFT only: spans of assistant text trained without loss — the tool output of tool-use
   * demonstrations, e.g. `[{ start: "<output>\n", end: "\n</output>\n" }]` for the tag format
   * (@posttrain/data `tokenizeSft`). Absent = none.
   */
  maskedSpans: z
    .array(z.strictObject({ start: z.string().min(1), end: z.string().min(1) }))
    .min(1)
    .optional(),
});
export type StageData = z.infer<typeof stageDataSchema>;

const stageName = z.string().regex(/^[a-z][a-z0-9-]*$/, "lowercase letters, digits and dashes");
const stageCommon = {
  name: stageName,
  data: stageDataSchema,
  /** Run the recipe's eval suite on this stage's output (default true). */
  evaluate: z.boolean().default(true),
  /**
   * The published checkpoint this stage reproduces (documentation, and what `reproduce
   * --from` may start the next stage from); not used by a normal run.
   */
  publishedCheckpoint: hubModelReferenceSchema.optional(),
};

export const stageSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("sft"), ...stageCommon, hyperparameters: stageConfigSchemas.sft }),
  z.strictObject({ type: z.literal("dpo"), ...stageCommon, hyperparameters: stageConfigSchemas.dpo }),
  z.strictObject({ type: z.literal("rlvr"), ...stageCommon, hyperparameters: stageConfigSchemas.rlvr }),
  z.strictObject({ type: z.literal("ppo"), ...stageCommon, hyperparameters: stageConfigSchemas.ppo }),
]);
export type Stage = z.infer<typeof stageSchema>;

/** A versioned eval suite; tasks are full specs (pinned in the recipe) or names of shipped tasks. */
export const evalSuiteSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]+$/),
  version: z.string().min(1),
  tasks: z.array(z.union([z.string().min(1), taskSpecSchema])).min(1),
  /** At most this many items per task (the first ones); none = every item. */
  limit: z.number().int().positive().optional(),
});

/** A machine an expected row's seeds were recorded on. */
export const recordingMachineSchema = z.strictObject({
  /** `lscpu` model name, e.g. "AMD EPYC 7B13". */
  cpu: z.string().min(1),
  /** The SIMD flags onnxruntime dispatches on that the CPU has, e.g. ["avx2"] or ["avx2", "avx512f"]. */
  instructionSets: z.array(z.enum(["sse4_2", "avx", "avx2", "avx512f", "avx512_vnni", "amx", "neon", "sve"])),
  threads: z.number().int().positive(),
});
export type RecordingMachine = z.infer<typeof recordingMachineSchema>;

const seedKey = z.string().regex(/^(0|[1-9]\d{0,8})$/, "a seed: a non-negative integer written in decimal");

/**
 * One expected number: after which stage, which task and metric, and either
 *
 * - **seeds** (the normal case): `perSeed` (seed → value from ≥ 2 seeds, ≥ 5 to publish), the
 *   `machines` and `codeVersion` that recorded them; the acceptance band is derived from them
 *   (statistics.ts: a 95% prediction interval for one new run, a tighter one for the mean of k
 *   runs); or
 * - **tolerance** (an explicit override, for published numbers with no seed data such as Tulu
 *   3's tables): `value` ± `tolerance`, marked as such in the report.
 */
export const expectedRowSchema = z
  .strictObject({
    /** The stage whose output is evaluated. */
    after: stageName,
    task: z.string().min(1),
    metric: z.string().min(1),
    /** Tolerance rows: the published number, on the metric's own scale (fractions for accuracies). */
    value: z.number().finite().optional(),
    /** Tolerance rows: passes when |actual − value| ≤ tolerance. */
    tolerance: z.number().nonnegative().finite().optional(),
    /** Seed rows: the value each seed gave (`--seed N` runs), keyed by the seed. */
    perSeed: z.record(seedKey, z.number().finite()).optional(),
    /** Seed rows: where the seeds were run. */
    machines: z.array(recordingMachineSchema).min(1).optional(),
    /** Seed rows: the recipe version (or commit) that recorded them. */
    codeVersion: z.string().min(1).optional(),
    /**
     * Seed rows of a proportion (accuracy): the eval's item count. The band's spread is then at
     * least the item-level binomial noise, so seeds that happened to agree (every seed 1.0) still
     * leave room for a one-item change on another CPU.
     */
    items: z.number().int().positive().optional(),
    /** Where the number comes from (paper and table, or the measured runs). */
    source: z.string().min(1),
  })
  .superRefine((row, context) => {
    const seeded =
      row.perSeed !== undefined ||
      row.machines !== undefined ||
      row.codeVersion !== undefined ||
      row.items !== undefined;
    const tolerance = row.value !== undefined || row.tolerance !== undefined;
    if (seeded && tolerance) {
      context.addIssue({
        code: "custom",
        path: ["tolerance"],
        message:
          "a row is either a seed row (perSeed, machines, codeVersion) or a tolerance row (value, tolerance), not both",
      });
      return;
    }
    if (seeded) {
      if (row.perSeed === undefined || Object.keys(row.perSeed).length < 2)
        context.addIssue({
          code: "custom",
          path: ["perSeed"],
          message: "needs the values of at least 2 seeds",
        });
      if (row.machines === undefined)
        context.addIssue({
          code: "custom",
          path: ["machines"],
          message: "name the machines the seeds ran on",
        });
      if (row.codeVersion === undefined)
        context.addIssue({
          code: "custom",
          path: ["codeVersion"],
          message: "name the version that recorded the seeds",
        });
      return;
    }
    if (row.value === undefined)
      context.addIssue({
        code: "custom",
        path: ["value"],
        message: "required (or give perSeed, machines, codeVersion)",
      });
    if (row.tolerance === undefined)
      context.addIssue({
        code: "custom",
        path: ["tolerance"],
        message: "required (or give perSeed, machines, codeVersion)",
      });
  });
export type ExpectedRow = z.infer<typeof expectedRowSchema>;

/**
 * An ordering claim ("RLVR beats DPO on micro_gsm"): the `better` stage's `metric` on `task`
 * exceeds the `worse` stage's. Checked with a paired test over seeds; publishing (writing a
 * lock) refuses a claim that is reversed or tied on any recorded seed.
 */
export const claimSchema = z.strictObject({
  statement: z.string().min(1),
  task: z.string().min(1),
  metric: z.string().min(1),
  better: stageName,
  worse: stageName,
});
export type Claim = z.infer<typeof claimSchema>;

const semver = z.string().regex(/^\d+\.\d+\.\d+(?:-[\w.]+)?$/, "must be a semantic version");

const recipeObjectSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lowercase letters, digits and dashes"),
  version: semver,
  description: z.string().min(1),
  /** The run's seed; each stage gets `Random.fromSeed(seed).stream(<stage name>)`. */
  seed: z.number().int(),
  model: baseModelSchema,
  tokenizer: tokenizerSchema,
  /** Verifier keys the RLVR rewards and evals use (their versions go into the lock). */
  verifiers: z.array(z.string().min(1)).default([]),
  stages: z.array(stageSchema).min(1),
  evals: evalSuiteSchema,
  expected: z.array(expectedRowSchema),
  /** Ordering claims over the expected rows (see {@link claimSchema}). */
  claims: z.array(claimSchema).default([]),
  /** The open-instruct commit and scripts the recipe reproduces (./reference-implementation.ts). */
  referenceImplementation: referenceImplementationSchema.optional(),
  /**
   * Named variants (e.g. `smoke`) as patches over this recipe ({@link mergeVariant}): objects
   * merge deeply, arrays of named objects (stages) merge by `name`, `{ $replace: value }` and
   * anything else replace.
   */
  variants: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), z.record(z.string(), z.unknown())).default({}),
});

export const recipeSchema = recipeObjectSchema.superRefine((recipe, context) => {
  const names = new Set<string>();
  recipe.stages.forEach((stage, index) => {
    if (names.has(stage.name))
      context.addIssue({
        code: "custom",
        path: ["stages", index, "name"],
        message: `duplicate stage "${stage.name}"`,
      });
    names.add(stage.name);
  });
  const taskNames = new Set(recipe.evals.tasks.map((task) => (typeof task === "string" ? task : task.name)));
  // A task that allows tools also reports a `<name>+tools` row (@posttrain/evals).
  for (const task of recipe.evals.tasks)
    if (typeof task !== "string" && task.tools !== undefined) taskNames.add(`${task.name}+tools`);
  recipe.expected.forEach((row, index) => {
    if (!names.has(row.after))
      context.addIssue({
        code: "custom",
        path: ["expected", index, "after"],
        message: `no stage named "${row.after}"`,
      });
    if (!taskNames.has(row.task))
      context.addIssue({
        code: "custom",
        path: ["expected", index, "task"],
        message: `task "${row.task}" is not in the eval suite`,
      });
  });
  recipe.claims.forEach((claim, index) => {
    for (const field of ["better", "worse"] as const)
      if (!names.has(claim[field]))
        context.addIssue({
          code: "custom",
          path: ["claims", index, field],
          message: `no stage named "${claim[field]}"`,
        });
    if (claim.better === claim.worse)
      context.addIssue({
        code: "custom",
        path: ["claims", index, "worse"],
        message: "must differ from better",
      });
    if (!taskNames.has(claim.task))
      context.addIssue({
        code: "custom",
        path: ["claims", index, "task"],
        message: `task "${claim.task}" is not in the eval suite`,
      });
  });
});

export type RecipeInput = z.input<typeof recipeSchema>;
/** A validated recipe, with every eval task resolved to its full spec. */
export type Recipe = Omit<z.output<typeof recipeSchema>, "evals"> & {
  evals: {
    name: string;
    version: string;
    tasks: z.output<typeof taskSpecSchema>[];
    limit?: number | undefined;
  };
};

/**
 * The rows a run's evals report, one per task and, for a task that allows tools, a second one
 * named `<task>+tools` (@posttrain/evals runs it again with the tools, same items and
 * sampling): what reports, seed aggregates and expected rows list.
 */
export function reportedTasks(recipe: Pick<Recipe, "evals">): Recipe["evals"]["tasks"] {
  return recipe.evals.tasks.flatMap((task) =>
    task.tools === undefined ? [task] : [task, { ...task, name: `${task.name}+tools` }],
  );
}

/** Validates a recipe (errors name the field) and resolves eval task names to their specs. */
export function defineRecipe(input: RecipeInput): Recipe {
  return parseRecipe({ value: input });
}

/** Same as {@link defineRecipe} for unknown input (a loaded module's export, JSON). */
export function parseRecipe(params: { value: unknown; label?: string }): Recipe {
  const parsed = parseWithSchema({
    schema: recipeSchema,
    value: params.value,
    label: params.label ?? "recipe",
  });
  return {
    ...parsed,
    evals: {
      ...parsed.evals,
      tasks: parsed.evals.tasks.map((task) => (typeof task === "string" ? getTask({ name: task }) : task)),
    },
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The variant merge: objects merge deeply, arrays of named objects (stages) merge element by
 * `name`, anything else (values, `null`, other arrays) replaces. `{ $replace: value }`
 * replaces a whole object instead of merging into it, e.g. `duration: { $replace: { steps: 3 } }`
 * switches an `{ epochs }` duration to `{ steps }`.
 */
export function mergeVariant(base: unknown, patch: unknown): unknown {
  if (isPlainObject(patch) && Object.keys(patch).length === 1 && "$replace" in patch)
    return patch["$replace"];
  if (isPlainObject(base) && isPlainObject(patch)) {
    const merged: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(patch))
      merged[key] = key in base ? mergeVariant(base[key], value) : value;
    return merged;
  }
  const named = (items: unknown[]) =>
    items.every((item) => isPlainObject(item) && typeof item["name"] === "string");
  if (Array.isArray(base) && Array.isArray(patch) && named(base) && named(patch) && base.length > 0) {
    const patches = new Map(patch.map((item) => [(item as { name: string }).name, item]));
    return base.map((item) => {
      const itemPatch = patches.get((item as { name: string }).name);
      return itemPatch === undefined ? item : mergeVariant(item, itemPatch);
    });
  }
  return patch;
}

/** The recipe with variant `name` applied (re-validated; the variant list is dropped). */
export function applyVariant(params: { recipe: Recipe; variant: string }): Recipe {
  const patch = params.recipe.variants[params.variant];
  if (patch === undefined) {
    const known = Object.keys(params.recipe.variants);
    throw new RecipeError({
      code: "recipe_variant_unknown",
      message: `recipe ${params.recipe.name} has no variant "${params.variant}" (known: ${known.join(", ") || "none"})`,
      details: { variant: params.variant, known },
    });
  }
  const merged = mergeVariant({ ...params.recipe, variants: {} }, patch);
  return parseRecipe({ value: merged, label: `recipe variant ${params.variant}` });
}

/**
 * The recipe with every seed replaced by one root seed (`posttrain run --seed N`): the recipe
 * seed (each stage's RunContext is `Random.fromSeed(root).stream(<stage name>)`, which orders
 * its data and draws its samples; data preparation shuffles from the root), the model
 * initialisation (`Random.fromSeed(root).stream("init")`), every stage's `hyperparameters.seed`
 * and the sampling seed of every eval task (`generation.seed`; greedy tasks do not use it).
 * The named streams keep the parts independent although they share the root.
 */
export function withRootSeed(params: { recipe: Recipe; seed: number }): Recipe {
  const { recipe, seed } = params;
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RecipeError({
      code: "recipe_invalid_seed",
      message: `a root seed must be a non-negative integer, got ${seed}`,
      details: { seed },
    });
  return {
    ...recipe,
    seed,
    model: recipe.model.kind === "initialize" ? { ...recipe.model, seed } : recipe.model,
    stages: recipe.stages.map(
      (stage) => ({ ...stage, hyperparameters: { ...stage.hyperparameters, seed } }) as Stage,
    ),
    // Sampled eval decoding (temperature > 0) draws from the root too; greedy evals ignore it.
    evals: {
      ...recipe.evals,
      tasks: recipe.evals.tasks.map((task) => ({ ...task, generation: { ...task.generation, seed } })),
    },
  };
}
