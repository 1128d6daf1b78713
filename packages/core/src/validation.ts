import type { z } from "zod";
import { PosttrainError } from "./errors.js";

/** One failed check, with the path written as `stages[1].learningRate`. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Raised when external input (a recipe, config, dataset row, HTTP body) fails its schema. */
export class ValidationError extends PosttrainError {
  readonly issues: ValidationIssue[];

  constructor({ label, issues }: { label: string; issues: ValidationIssue[] }) {
    const lines = issues.map((issue) => `  - ${issue.path}: ${issue.message}`);
    super({
      code: "validation_failed",
      message: `invalid ${label}:\n${lines.join("\n")}`,
      details: { label, issues },
    });
    this.name = "ValidationError";
    this.issues = issues;
  }
}

/** `["stages", 1, "lr"]` → `stages[1].lr`; the root is `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else if (typeof part === "symbol") text += `[${String(part)}]`;
    else
      text += /^[A-Za-z_$][\w$]*$/.test(part)
        ? text === ""
          ? part
          : `.${part}`
        : `[${JSON.stringify(part)}]`;
  }
  return text === "" ? "(root)" : text;
}

function issuesOf(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

export type SafeParseResult<T> = { success: true; value: T } | { success: false; error: ValidationError };

/** Validates `value` against `schema`; never throws for invalid input. */
export function safeParseWithSchema<Schema extends z.ZodType>(params: {
  schema: Schema;
  value: unknown;
  label: string;
}): SafeParseResult<z.output<Schema>> {
  const result = params.schema.safeParse(params.value);
  if (result.success) return { success: true, value: result.data };
  return {
    success: false,
    error: new ValidationError({ label: params.label, issues: issuesOf(result.error) }),
  };
}

/**
 * Validates `value` against `schema` and returns the parsed value, or throws one
 * {@link ValidationError} that names every offending path, e.g.
 * `invalid recipe micro/recipe.ts:\n  - stages[0].learningRate: Too small: expected number to be >0`.
 */
export function parseWithSchema<Schema extends z.ZodType>(params: {
  schema: Schema;
  value: unknown;
  label: string;
}): z.output<Schema> {
  const result = safeParseWithSchema(params);
  if (!result.success) throw result.error;
  return result.value;
}
