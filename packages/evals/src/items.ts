/**
 * Eval items: benchmark rows in one shape. Each row format names the fields it reads:
 * - `gsm8k`: `{ question, answer }`; the gold is the text after the last `####`, commas removed.
 * - `math`: `{ problem, solution, answer?, subject? | type?, unique_id? }`; the gold is
 *   `answer` (MATH-500) or the last `\boxed{}` of `solution` (hendrycks_math); the group is the
 *   subject (`subject`, else `type`).
 * - `ifeval`: `{ key, prompt, instruction_id_list, kwargs }`; the label is the row itself.
 * - `humaneval`: `{ task_id, prompt, canonical_solution, test, entry_point }`.
 * - `preference`: Tulu preference rows `{ chosen, rejected }` (message lists sharing their
 *   prompt turns and ending with an assistant turn); the label is `{ chosen, rejected }`, the
 *   two assistant replies, scored by log-likelihood (`scoring: { kind: "preference" }`).
 * - `rlvr`: open-instruct RLVR rows `{ messages, ground_truth, dataset? }`; the prompt is the
 *   messages up to (not including) a final assistant turn; `dataset` (a name, or a list of
 *   one name) is the row's verifier, used by `scoring: { kind: "verifier", verifier:
 *   { fromColumn: "dataset" } }`.
 */
import type { ChatMessage } from "@posttrain/core";
import { checkPreferenceRow } from "@posttrain/data";
import { lastBoxedContent, stripThousandsSeparators } from "@posttrain/verifiers";
import { z } from "zod";
import { EvaluationError } from "./errors.js";
import type { RowFormat } from "./task-spec.js";

/** One scored unit of a task. */
export interface EvalItem {
  /** Position in the (limited) dataset, 0-based: OLMES `doc_id`. */
  index: number;
  /** The dataset's own id (`task_id`, `key`, `unique_id`) or the index as text: OLMES `native_id`. */
  nativeId: string;
  /** The text that goes into the prompt template's `{question}`. */
  question: string;
  /** For `rlvr` rows: the conversation to continue, used instead of the template. */
  messages?: ChatMessage[];
  /** Ground truth, in the form the task's scorer and verifier take. */
  label: unknown;
  /** A reference solution when the dataset has one (gold GSM8K solution, canonical code). */
  reference?: string;
  /** Grouping for macro averages (MATH subject). */
  group?: string;
  /** For `rlvr` rows with a `dataset` column: the verifier that row names. */
  verifier?: string;
}

const gsm8kRowSchema = z.looseObject({ question: z.string().min(1), answer: z.string().min(1) });
const mathRowSchema = z.looseObject({
  problem: z.string().min(1),
  solution: z.string().optional(),
  answer: z.union([z.string(), z.number()]).optional(),
  subject: z.string().optional(),
  type: z.string().optional(),
  unique_id: z.string().optional(),
});
const ifevalRowSchema = z.looseObject({
  key: z.union([z.number(), z.string()]),
  prompt: z.string().min(1),
  instruction_id_list: z.array(z.string()),
  kwargs: z.array(z.union([z.record(z.string(), z.unknown()), z.null()])),
});
const humanevalRowSchema = z.looseObject({
  task_id: z.string().min(1),
  prompt: z.string().min(1),
  canonical_solution: z.string(),
  test: z.string().min(1),
  entry_point: z.string().min(1),
});
const rlvrRowSchema = z.looseObject({
  messages: z
    .array(z.looseObject({ role: z.enum(["system", "user", "assistant", "tool"]), content: z.string() }))
    .min(1),
  ground_truth: z.unknown(),
  dataset: z.union([z.string(), z.array(z.string())]).optional(),
});

/** The verifier an `rlvr` row names: `dataset` as a string or a list of exactly one name. */
function rowVerifier(params: { dataset: string | string[] | undefined; index: number }): string | undefined {
  const { dataset } = params;
  if (dataset === undefined) return undefined;
  if (typeof dataset === "string") return dataset;
  if (dataset.length === 1) return dataset[0];
  throw new EvaluationError({
    code: "eval_dataset_row_invalid",
    message: `row ${params.index}: dataset must name one verifier, got ${JSON.stringify(dataset)}`,
    details: { row: params.index, field: "dataset" },
  });
}

function parseRow<T>(schema: z.ZodType<T>, row: unknown, index: number, format: RowFormat): T {
  const parsed = schema.safeParse(row);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(row)"}: ${issue.message}`);
    throw new EvaluationError({
      code: "eval_dataset_row_invalid",
      message: `row ${index} does not fit the ${format} row format: ${issues.join("; ")}`,
      details: { row: index, format, issues },
    });
  }
  return parsed.data;
}

/** The GSM8K gold answer: the text after the last `####`, thousands commas removed. */
export function gsm8kGoldAnswer(params: { answer: string }): string {
  const marker = params.answer.lastIndexOf("####");
  const tail = marker < 0 ? params.answer : params.answer.slice(marker + 4);
  return stripThousandsSeparators({ text: tail.trim() }).replaceAll(",", "");
}

/** Turns one dataset row into an item for `format`; throws `eval_dataset_row_invalid` naming the row. */
export function itemFromRow(params: { row: unknown; index: number; format: RowFormat }): EvalItem {
  const { row, index, format } = params;
  switch (format) {
    case "gsm8k": {
      const parsed = parseRow(gsm8kRowSchema, row, index, format);
      return {
        index,
        nativeId: String(index),
        question: parsed.question,
        label: gsm8kGoldAnswer({ answer: parsed.answer }),
        reference: parsed.answer,
      };
    }
    case "math": {
      const parsed = parseRow(mathRowSchema, row, index, format);
      const gold =
        parsed.answer !== undefined
          ? String(parsed.answer)
          : parsed.solution === undefined
            ? undefined
            : lastBoxedContent({ text: parsed.solution });
      if (gold === undefined || gold.trim() === "") {
        throw new EvaluationError({
          code: "eval_dataset_row_invalid",
          message: `row ${index} has neither an answer nor a \\boxed{} answer in its solution`,
          details: { row: index, format },
        });
      }
      const group = parsed.subject ?? parsed.type;
      return {
        index,
        nativeId: parsed.unique_id ?? String(index),
        question: parsed.problem,
        label: gold,
        ...(parsed.solution === undefined ? {} : { reference: parsed.solution }),
        ...(group === undefined ? {} : { group }),
      };
    }
    case "ifeval": {
      const parsed = parseRow(ifevalRowSchema, row, index, format);
      return {
        index,
        nativeId: String(parsed.key),
        question: parsed.prompt,
        label: {
          instruction_id_list: parsed.instruction_id_list,
          kwargs: parsed.kwargs,
          prompt: parsed.prompt,
        },
      };
    }
    case "humaneval": {
      const parsed = parseRow(humanevalRowSchema, row, index, format);
      return {
        index,
        nativeId: parsed.task_id,
        question: parsed.prompt,
        label: { prompt: parsed.prompt, test: parsed.test, entryPoint: parsed.entry_point },
        reference: parsed.canonical_solution,
      };
    }
    case "preference": {
      const checked = checkPreferenceRow(row);
      if (!checked.ok) {
        throw new EvaluationError({
          code: "eval_dataset_row_invalid",
          message: `row ${index} does not fit the preference row format: ${checked.detail}`,
          details: { row: index, format, reason: checked.reason },
        });
      }
      const nativeId = (row as { id?: unknown }).id;
      return {
        index,
        nativeId:
          typeof nativeId === "string" || typeof nativeId === "number" ? String(nativeId) : String(index),
        question: checked.row.prompt.map((message) => message.content).join("\n"),
        messages: checked.row.prompt,
        label: { chosen: checked.row.chosen.content, rejected: checked.row.rejected.content },
      };
    }
    case "rlvr": {
      const parsed = parseRow(rlvrRowSchema, row, index, format);
      const messages = parsed.messages.map((message) => ({ role: message.role, content: message.content }));
      const last = messages.at(-1);
      const prompt = last?.role === "assistant" ? messages.slice(0, -1) : messages;
      if (prompt.length === 0) {
        throw new EvaluationError({
          code: "eval_dataset_row_invalid",
          message: `row ${index} has no prompt turn before its assistant turn`,
          details: { row: index, format },
        });
      }
      const nativeId = (row as { id?: unknown }).id;
      const verifier = rowVerifier({ dataset: parsed.dataset, index });
      return {
        index,
        nativeId:
          typeof nativeId === "string" || typeof nativeId === "number" ? String(nativeId) : String(index),
        question: prompt.map((message) => message.content).join("\n"),
        messages: prompt,
        label: parsed.ground_truth,
        ...(last?.role === "assistant" ? { reference: last.content } : {}),
        ...(verifier === undefined ? {} : { verifier }),
      };
    }
  }
}
