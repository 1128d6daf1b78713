/**
 * The task spec: everything that decides a score, as data. A task is a pinned dataset, a
 * prompt format (zero- or few-shot, chat or completion, exact exemplars), generation
 * settings, answer extraction + verifier + metrics (the `scoring` kind), and a version.
 * Specs are validated with zod, so a recipe can declare its own tasks (e.g. a held-out split
 * of a local dataset with a given verifier) without new code.
 */
import { fingerprint, parseWithSchema } from "@posttrain/core";
import { datasetSpecSchema } from "@posttrain/data";
import { toolUseConfigSchema } from "@posttrain/tools";
import { z } from "zod";

/** How benchmark rows become eval items (see items.ts for each format's fields). */
export const rowFormatSchema = z.enum(["gsm8k", "math", "ifeval", "humaneval", "rlvr", "preference"]);
export type RowFormat = z.infer<typeof rowFormatSchema>;

export const promptSpecSchema = z.strictObject({
  /** `chat`: messages rendered by the model's chat template; `completion`: one raw text. */
  style: z.enum(["chat", "completion"]),
  /**
   * The user turn, with `{question}` replaced by the item's question text (exemplars go
   * through the same template). Ignored for `rlvr` rows, whose messages are used as given.
   */
  template: z.string().default("{question}"),
  /**
   * Appended raw after the chat template's generation prompt (OLMES "assistant prefix");
   * `{question}` is replaced too (HumanEval repeats the function prompt there).
   */
  assistantPrefix: z.string().optional(),
  /** A named exemplar set (exemplars.ts) and how many of its first exemplars to use. */
  exemplars: z.string().optional(),
  shots: z.number().int().nonnegative().default(0),
});
export type PromptSpec = z.infer<typeof promptSpecSchema>;

export const generationSpecSchema = z.strictObject({
  /** 0 = greedy. */
  temperature: z.number().nonnegative(),
  topP: z.number().positive().max(1).optional(),
  maxNewTokens: z.number().int().positive(),
  /** Output is cut at the first of these (the backend adds the model's EOS text). */
  stop: z.array(z.string().min(1)).default([]),
  /** Samples per item (HumanEval: 20). */
  samples: z.number().int().positive().default(1),
  /** Base seed for sampled decoding. */
  seed: z.number().int().nonnegative().default(1234),
});
export type GenerationSpec = z.infer<typeof generationSpecSchema>;

export const scoringSpecSchema = z.discriminatedUnion("kind", [
  /** OLMES GSM8K `exact_match` (last number, string equality) plus ours (`gsm8k` verifier). */
  z.strictObject({ kind: z.literal("gsm8k") }),
  /** Minerva `exact_match` (`strict_math`) and `exact_match_flex` (`math`); macro over subjects. */
  z.strictObject({ kind: z.literal("minerva_math"), macroOverSubjects: z.boolean().default(true) }),
  /** IFEval prompt- and instruction-level accuracy, strict and loose (`ifeval` verifier). */
  z.strictObject({ kind: z.literal("ifeval") }),
  /** Program = prompt + completion, run against the tests; unbiased pass@k over the samples. */
  z.strictObject({
    kind: z.literal("humaneval"),
    passAtK: z.array(z.number().int().positive()).default([1, 10]),
    timeoutSeconds: z.number().positive().default(3),
  }),
  /**
   * A registered verifier on the row's ground truth: `score` (mean) and `accuracy` (score = 1).
   * `verifier` is either one verifier name for every row, or `{ fromColumn: "dataset" }`: each
   * `rlvr` row names its own verifier in its `dataset` column (open-instruct's convention), so
   * a split that mixes verifiers (e.g. gsm8k and ifeval rows) is scored row by row. A mixed
   * split's single accuracy blends verifiers; to report each one separately, declare one task
   * per verifier with `rowFilter` (lm-evaluation-harness style: one metric per homogeneous task).
   */
  /**
   * Preference accuracy by log-likelihood, for `preference` rows: an item is right when the
   * chosen reply's summed token log-probability (natural log, its end-of-turn tokens included,
   * tokenized as DPO trains) exceeds the rejected reply's; a tie is wrong. Metrics `accuracy`
   * and `margin` (chosen − rejected, in nats). No generation: the backend must score
   * continuations (the embedded engine does). This is the policy's own preference (lm-eval's
   * multiple-choice `acc`), not DPO's reference-relative reward accuracy, so it is defined for
   * any model — the SFT model before DPO included.
   */
  z.strictObject({ kind: z.literal("preference") }),
  z.strictObject({
    kind: z.literal("verifier"),
    verifier: z.union([z.string().min(1), z.strictObject({ fromColumn: z.literal("dataset") })]),
  }),
]);
export type ScoringSpec = z.infer<typeof scoringSpecSchema>;

/**
 * Tools the task allows (issue 19): the task is then run twice, without tools (the task's own
 * row) and with them (a `<name>+tools` row), same items, prompts and sampling. `allow` names
 * tools of @posttrain/tools' built-in registry; `format` is `tags` (open-instruct's
 * `<name>…</name>` calls, a system paragraph tells the model how) or `chat_template` (the
 * model's own Hermes/Qwen syntax, tool definitions passed to its template). The schema is
 * @posttrain/tools' `toolUseConfigSchema` (the same object rlvr's `tools` uses); `maxTotalTokens`
 * defaults to the task's `generation.maxNewTokens`.
 */
export const toolUseSpecSchema = toolUseConfigSchema;
export type ToolUseSpec = z.infer<typeof toolUseSpecSchema>;

export const taskSpecSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]+$/, "lowercase letters, digits and underscores"),
  /** Our version of this task; bump it whenever a setting that can change a score changes. */
  version: z.string().min(1),
  description: z.string().default(""),
  /** Which OLMES task and era the settings follow (or `none`). */
  olmes: z.strictObject({
    task: z.string(),
    /** `tulu3` = OLMES at e0d79fd (2024-11-19), the settings of the Tulu 3 runs; `current` = 5a51f50 (2026-03-24). */
    era: z.enum(["tulu3", "current", "none"]),
    /** OLMES's own task version. */
    taskVersion: z.string().optional(),
  }),
  /**
   * Where the data lives. Hub specs whose revision is not a commit SHA must be pinned with
   * `posttrain data lock` first, or run with a local `--data` override.
   */
  dataset: datasetSpecSchema,
  /** The file in a `--data` folder that holds this task's rows (e.g. `gsm8k-test.jsonl`). */
  localFileName: z.string().optional(),
  rowFormat: rowFormatSchema,
  /**
   * Keep only the rows whose `column` (a string, or a one-element list of strings such as
   * open-instruct's `dataset`) is one of `values`; applied before `limit`, and item indices
   * (OLMES `doc_id`) count the kept rows. E.g. `{ column: "dataset", values: ["gsm8k"] }`.
   */
  rowFilter: z
    .strictObject({ column: z.string().min(1), values: z.array(z.string().min(1)).min(1) })
    .optional(),
  prompt: promptSpecSchema,
  generation: generationSpecSchema,
  scoring: scoringSpecSchema,
  /** The metric a suite table shows first. */
  primaryMetric: z.string().min(1),
  /** Tools the task allows (then reported with and without them); none by default. */
  tools: toolUseSpecSchema.optional(),
});
export type TaskSpec = z.infer<typeof taskSpecSchema>;
export type TaskSpecInput = z.input<typeof taskSpecSchema>;

/** Validates a spec (defaults filled); errors name the field, e.g. `generation.maxNewTokens`. */
export function defineTask(params: { spec: TaskSpecInput | unknown }): TaskSpec {
  return parseWithSchema({ schema: taskSpecSchema, value: params.spec, label: "task spec" });
}

/** A content hash of every setting (the spec's canonical JSON): part of every result. */
export function taskHash(params: { spec: TaskSpec }): string {
  return fingerprint(params.spec);
}

/** A suite: a versioned list of task names. */
export const suiteSpecSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_]+$/),
  version: z.string().min(1),
  description: z.string().default(""),
  tasks: z.array(z.string().min(1)).min(1),
});
export type SuiteSpec = z.infer<typeof suiteSpecSchema>;
