import { DataError } from "./errors.js";

/** Roles the Tulu row formats accept. Anything else is counted as `unknown_role`. */
export const messageRoles = ["system", "user", "assistant"] as const;
export type MessageRole = (typeof messageRoles)[number];

/** One chat turn, as in Tulu's `messages` column. */
export interface ChatMessage {
  role: MessageRole;
  content: string;
}

/** The three row formats (open-instruct's column conventions). */
export type RowFormat = "sft" | "preference" | "rlvr";

/** SFT: `messages` with at least one non-empty assistant turn. */
export interface SftRow {
  messages: ChatMessage[];
}

/**
 * Preference: `chosen` and `rejected` message lists that share every message but the last
 * (the prompt), each ending in an assistant turn. Stored once as `prompt` + two completions.
 */
export interface PreferenceRow {
  prompt: ChatMessage[];
  chosen: ChatMessage;
  rejected: ChatMessage;
}

/**
 * RLVR: the prompt `messages` (a trailing assistant turn, if any, is dropped as in
 * open-instruct's `rlvr_tokenize_v1`), `ground_truth` and `dataset` (the verifier key),
 * both normalised to arrays of strings (one label per verifier; a scalar becomes `[x]`).
 */
export interface RlvrRow {
  messages: ChatMessage[];
  groundTruth: string[];
  dataset: string[];
}

export type RowOf<Format extends RowFormat> = Format extends "sft"
  ? SftRow
  : Format extends "preference"
    ? PreferenceRow
    : RlvrRow;

/** Why a row was rejected; stable names used in reports and the CLI. */
export type MalformedReason =
  | "not_an_object"
  | "missing_field"
  | "invalid_field"
  | "unknown_role"
  | "empty_assistant_turn"
  | "no_assistant_turn"
  | "preference_prompt_mismatch"
  | "preference_completion_not_assistant"
  | "ground_truth_mismatch";

export type RowCheck<Row> = { ok: true; row: Row } | { ok: false; reason: MalformedReason; detail: string };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function checkMessages(value: unknown, field: string): RowCheck<ChatMessage[]> {
  if (value === undefined || value === null)
    return { ok: false, reason: "missing_field", detail: `${field} is missing` };
  if (!Array.isArray(value)) return { ok: false, reason: "invalid_field", detail: `${field} is not a list` };
  if (value.length === 0) return { ok: false, reason: "invalid_field", detail: `${field} is empty` };
  const messages: ChatMessage[] = [];
  for (let index = 0; index < value.length; index += 1) {
    const message = value[index];
    if (!isRecord(message))
      return { ok: false, reason: "invalid_field", detail: `${field}[${index}] is not an object` };
    const { role, content } = message;
    if (role === undefined || role === null) {
      return { ok: false, reason: "missing_field", detail: `${field}[${index}].role is missing` };
    }
    if (typeof role !== "string" || !(messageRoles as readonly string[]).includes(role)) {
      return {
        ok: false,
        reason: "unknown_role",
        detail: `${field}[${index}].role is ${JSON.stringify(role)}`,
      };
    }
    if (content === undefined || content === null) {
      return { ok: false, reason: "missing_field", detail: `${field}[${index}].content is missing` };
    }
    if (typeof content !== "string") {
      return { ok: false, reason: "invalid_field", detail: `${field}[${index}].content is not a string` };
    }
    if (role === "assistant" && content.trim() === "") {
      return {
        ok: false,
        reason: "empty_assistant_turn",
        detail: `${field}[${index}] is an empty assistant turn`,
      };
    }
    messages.push({ role: role as MessageRole, content });
  }
  return { ok: true, row: messages };
}

function sameMessages(left: readonly ChatMessage[], right: readonly ChatMessage[]): boolean {
  return (
    left.length === right.length &&
    left.every(
      (message, index) => message.role === right[index]?.role && message.content === right[index]?.content,
    )
  );
}

function checkLabels(value: unknown, field: string): RowCheck<string[]> {
  if (value === undefined || value === null)
    return { ok: false, reason: "missing_field", detail: `${field} is missing` };
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) return { ok: false, reason: "invalid_field", detail: `${field} is empty` };
  if (!list.every((item) => typeof item === "string")) {
    return { ok: false, reason: "invalid_field", detail: `${field} must be a string or a list of strings` };
  }
  return { ok: true, row: list as string[] };
}

/** Checks one SFT row. */
export function checkSftRow(value: unknown): RowCheck<SftRow> {
  if (!isRecord(value)) return { ok: false, reason: "not_an_object", detail: "row is not an object" };
  const messages = checkMessages(value["messages"], "messages");
  if (!messages.ok) return messages;
  if (!messages.row.some((message) => message.role === "assistant")) {
    return { ok: false, reason: "no_assistant_turn", detail: "messages has no assistant turn to train on" };
  }
  return { ok: true, row: { messages: messages.row } };
}

/** Checks one preference row (chosen/rejected sharing their prompt). */
export function checkPreferenceRow(value: unknown): RowCheck<PreferenceRow> {
  if (!isRecord(value)) return { ok: false, reason: "not_an_object", detail: "row is not an object" };
  const chosen = checkMessages(value["chosen"], "chosen");
  if (!chosen.ok) return chosen;
  const rejected = checkMessages(value["rejected"], "rejected");
  if (!rejected.ok) return rejected;
  const chosenLast = chosen.row[chosen.row.length - 1]!;
  const rejectedLast = rejected.row[rejected.row.length - 1]!;
  if (chosenLast.role !== "assistant" || rejectedLast.role !== "assistant") {
    return {
      ok: false,
      reason: "preference_completion_not_assistant",
      detail: "chosen and rejected must both end with an assistant turn",
    };
  }
  const prompt = chosen.row.slice(0, -1);
  if (prompt.length === 0 || !sameMessages(prompt, rejected.row.slice(0, -1))) {
    return {
      ok: false,
      reason: "preference_prompt_mismatch",
      detail:
        prompt.length === 0
          ? "chosen has no prompt before its completion"
          : "chosen and rejected do not share their prompt",
    };
  }
  return { ok: true, row: { prompt, chosen: chosenLast, rejected: rejectedLast } };
}

/** Checks one RLVR row (`messages`, `ground_truth`, `dataset`). */
export function checkRlvrRow(value: unknown): RowCheck<RlvrRow> {
  if (!isRecord(value)) return { ok: false, reason: "not_an_object", detail: "row is not an object" };
  const messages = checkMessages(value["messages"], "messages");
  if (!messages.ok) return messages;
  const prompt =
    messages.row[messages.row.length - 1]?.role === "assistant" ? messages.row.slice(0, -1) : messages.row;
  if (prompt.length === 0)
    return { ok: false, reason: "invalid_field", detail: "messages has no prompt turn" };
  const groundTruth = checkLabels(value["ground_truth"], "ground_truth");
  if (!groundTruth.ok) return groundTruth;
  const dataset = checkLabels(value["dataset"], "dataset");
  if (!dataset.ok) return dataset;
  if (dataset.row.length !== groundTruth.row.length && dataset.row.length !== 1) {
    return {
      ok: false,
      reason: "ground_truth_mismatch",
      detail: `${groundTruth.row.length} ground truths but ${dataset.row.length} verifier keys`,
    };
  }
  return { ok: true, row: { messages: prompt, groundTruth: groundTruth.row, dataset: dataset.row } };
}

/**
 * The row format a table's columns are laid out for, as open-instruct's datasets name them:
 * `chosen` + `rejected` → preference, `ground_truth` → rlvr, `messages` → sft; null when none
 * fits. `posttrain data inspect` uses it when no `--format` is given.
 */
export function detectRowFormat(params: { columns: readonly string[] }): RowFormat | null {
  const columns = new Set(params.columns);
  if (columns.has("chosen") && columns.has("rejected")) return "preference";
  if (columns.has("ground_truth")) return "rlvr";
  if (columns.has("messages")) return "sft";
  return null;
}

/** Checks a row of the given format. */
export function checkRow<Format extends RowFormat>(params: {
  format: Format;
  value: unknown;
}): RowCheck<RowOf<Format>> {
  switch (params.format) {
    case "sft":
      return checkSftRow(params.value) as RowCheck<RowOf<Format>>;
    case "preference":
      return checkPreferenceRow(params.value) as RowCheck<RowOf<Format>>;
    default:
      return checkRlvrRow(params.value) as RowCheck<RowOf<Format>>;
  }
}

/** Per-reason counts of malformed rows, with up to a few examples each. */
export interface MalformedSummary {
  checked: number;
  malformed: number;
  reasons: Partial<
    Record<
      MalformedReason,
      { count: number; examples: Array<{ source: string; row: number; detail: string }> }
    >
  >;
}

/**
 * Counts malformed rows per reason (nothing is dropped silently) and decides, with
 * `maximumMalformedRows` (default 0), whether the run may continue.
 */
export class MalformedRowTracker {
  private readonly summaryValue: MalformedSummary = { checked: 0, malformed: 0, reasons: {} };
  private readonly maximumMalformedRows: number;
  private readonly examplesPerReason: number;

  constructor(params: { maximumMalformedRows?: number; examplesPerReason?: number } = {}) {
    this.maximumMalformedRows = params.maximumMalformedRows ?? 0;
    this.examplesPerReason = params.examplesPerReason ?? 3;
  }

  /** Records a checked row; returns the row when it is well formed, otherwise `null`. */
  record<Row>(params: { check: RowCheck<Row>; source: string; row: number }): Row | null {
    this.summaryValue.checked += 1;
    if (params.check.ok) return params.check.row;
    this.summaryValue.malformed += 1;
    const entry = this.reasonEntry(params.check.reason);
    entry.count += 1;
    if (entry.examples.length < this.examplesPerReason) {
      entry.examples.push({ source: params.source, row: params.row, detail: params.check.detail });
    }
    return null;
  }

  /** Adds the counts of another tracker's summary (from a worker thread). */
  merge(summary: MalformedSummary): void {
    this.summaryValue.checked += summary.checked;
    this.summaryValue.malformed += summary.malformed;
    for (const [reason, other] of Object.entries(summary.reasons)) {
      if (other === undefined) continue;
      const entry = this.reasonEntry(reason as MalformedReason);
      entry.count += other.count;
      for (const example of other.examples) {
        if (entry.examples.length < this.examplesPerReason) entry.examples.push(example);
      }
    }
  }

  private reasonEntry(reason: MalformedReason) {
    let entry = this.summaryValue.reasons[reason];
    if (entry === undefined) {
      entry = { count: 0, examples: [] };
      this.summaryValue.reasons[reason] = entry;
    }
    return entry;
  }

  summary(): MalformedSummary {
    return structuredClone(this.summaryValue);
  }

  /** Throws `data_malformed_rows` when more rows were malformed than allowed. */
  enforce(): void {
    if (this.summaryValue.malformed <= this.maximumMalformedRows) return;
    const lines = Object.entries(this.summaryValue.reasons).map(
      ([reason, entry]) =>
        `  - ${reason}: ${entry?.count} (e.g. ${entry?.examples.map((example) => `${example.source} row ${example.row}: ${example.detail}`).join("; ")})`,
    );
    throw new DataError({
      code: "data_malformed_rows",
      message: `${this.summaryValue.malformed} of ${this.summaryValue.checked} rows are malformed (allowed: ${this.maximumMalformedRows}):\n${lines.join("\n")}`,
      details: { summary: this.summary() },
    });
  }
}
