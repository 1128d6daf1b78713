import { PosttrainError } from "@posttrain/core";
import { z } from "zod";
import { prepareInstructions } from "./check.js";
import { parsePythonLiteral } from "./python-literal.js";

/**
 * Ground truth for the `ifeval` verifier, normalised. Accepted inputs:
 * - Google's row shape `{ instruction_id_list: string[], kwargs: object[], prompt?, key? }`;
 * - open-instruct's `{ instruction_id: string[] | string, kwargs: object[] | object }`;
 * - either of those wrapped in a one-element list (open-instruct stores `[{...}]`) or given
 *   as a string: JSON or a Python literal (`None`, single quotes), as `ast.literal_eval` reads it.
 * `null` kwargs entries and `null` values inside kwargs are dropped (the references drop them).
 */
export interface IfevalLabel {
  instructionIds: string[];
  kwargs: unknown[];
  prompt?: string;
}

const kwargsEntrySchema = z.union([z.record(z.string(), z.unknown()), z.null()]);

const googleLabelSchema = z
  .looseObject({
    instruction_id_list: z.array(z.string()),
    kwargs: z.array(kwargsEntrySchema),
    prompt: z.string().optional(),
  })
  .transform((label) => ({
    instructionIds: label.instruction_id_list,
    kwargs: label.kwargs,
    ...(label.prompt === undefined ? {} : { prompt: label.prompt }),
  }));

const openInstructLabelSchema = z
  .looseObject({
    instruction_id: z.union([z.array(z.string()), z.string()]),
    kwargs: z.union([z.array(kwargsEntrySchema), kwargsEntrySchema]),
  })
  .transform((label) => ({
    instructionIds: typeof label.instruction_id === "string" ? [label.instruction_id] : label.instruction_id,
    kwargs: Array.isArray(label.kwargs) ? label.kwargs : [label.kwargs],
  }));

/**
 * Parses a string label (JSON, or a Python literal as open-instruct stores it and reads it with
 * `ast.literal_eval`) and unwraps a one-element list.
 */
function unwrap(value: unknown): unknown {
  let current = value;
  if (typeof current === "string") {
    try {
      current = parsePythonLiteral(current);
    } catch {
      return current;
    }
  }
  if (Array.isArray(current) && current.length === 1) current = current[0];
  if (typeof current === "string") return unwrap(current);
  return current;
}

export const ifevalLabelSchema: z.ZodType<IfevalLabel> = z
  .preprocess(unwrap, z.union([googleLabelSchema, openInstructLabelSchema]))
  .superRefine((label, context) => {
    try {
      prepareInstructions({ instructionIds: label.instructionIds, kwargs: label.kwargs });
    } catch (error) {
      if (!PosttrainError.isInstance(error)) throw error;
      context.addIssue({ code: "custom", message: error.message, path: ["instruction_id"] });
    }
  }) as z.ZodType<IfevalLabel>;

/**
 * Ground truth for `ifeval_old` (Tulu 3's format): `{ "func_name": name, ...kwargs }`, as an
 * object or a JSON string. `null` kwargs are dropped.
 */
export interface IfevalOldLabel {
  functionName: string;
  kwargs: Record<string, unknown>;
}

export const ifevalOldRawSchema = z.looseObject({ func_name: z.string().min(1) });
