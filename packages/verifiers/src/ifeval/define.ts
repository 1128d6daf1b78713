import { z } from "zod";
import type { LanguageDetector } from "./language.js";

/** What a check may use besides the response: the language detector, when one is needed. */
export interface CheckContext {
  languageDetector: LanguageDetector | undefined;
  /** The prompt, when the caller has it (used as a fallback for `prompt_to_repeat`). */
  prompt: string | undefined;
}

/** One supported instruction: its id, kwargs schema and check. */
export interface InstructionDefinition {
  /** e.g. `keywords:existence`. */
  id: string;
  /** `ifeval`: Google's 25 instructions; `iftrain`: open-instruct's 29 IFEvalG additions. */
  source: "ifeval" | "iftrain";
  /** What the instruction asks, in words (the reference's description template). */
  description: string;
  /** Zod schema of the kwargs after `null` values are dropped. */
  kwargsSchema: z.ZodType;
  /** True when the check needs the language detector. */
  needsLanguage: boolean;
  /** Returns whether `response` follows the instruction. `kwargs` has passed `kwargsSchema`. */
  check(params: { response: string; kwargs: unknown; context: CheckContext }): boolean;
}

/** Typed helper that erases the kwargs type for the registry. */
export function defineInstruction<Schema extends z.ZodType>(definition: {
  id: string;
  source: "ifeval" | "iftrain";
  description: string;
  kwargsSchema: Schema;
  needsLanguage?: boolean;
  check(params: { response: string; kwargs: z.output<Schema>; context: CheckContext }): boolean;
}): InstructionDefinition {
  return {
    id: definition.id,
    source: definition.source,
    description: definition.description,
    kwargsSchema: definition.kwargsSchema,
    needsLanguage: definition.needsLanguage ?? false,
    check: (params) =>
      definition.check({
        response: params.response,
        kwargs: params.kwargs as z.output<Schema>,
        context: params.context,
      }),
  };
}

/** The two comparison relations of the reference, in its order. */
export const relationSchema = z.enum(["less than", "at least"]);
export type Relation = z.output<typeof relationSchema>;

/** `actual < threshold` for "less than", `actual >= threshold` for "at least". */
export function compare(params: { actual: number; relation: Relation; threshold: number }): boolean {
  return params.relation === "less than"
    ? params.actual < params.threshold
    : params.actual >= params.threshold;
}

export const countSchema = z.number().int().nonnegative();
export const positiveCountSchema = z.number().int().positive();
export const noKwargsSchema = z.strictObject({});
