import { formatPath } from "@posttrain/core";
import type { CheckContext, InstructionDefinition } from "./define.js";
import { IfevalLabelError } from "./errors.js";
import { type LanguageDetector, loadLanguageDetector } from "./language.js";
import { hasVisibleCharacter, pythonStrip } from "./python-text.js";
import { instructionRegistry } from "./registry.js";

/** The verdict on one instruction. */
export interface InstructionVerdict {
  id: string;
  /** The raw response follows the instruction (and has a visible character). */
  strict: boolean;
  /** At least one of the 8 loose variants follows it (see {@link looseVariants}). */
  loose: boolean;
}

/** Per-instruction verdicts plus the prompt-level ones (every instruction followed). */
export interface IfevalCheckResult {
  instructions: InstructionVerdict[];
  promptStrict: boolean;
  promptLoose: boolean;
}

/** One instruction with its validated kwargs, ready to check. */
export interface PreparedInstruction {
  definition: InstructionDefinition;
  kwargs: unknown;
}

/**
 * Google's loose response variants, in the reference's order: the response; it with every
 * "*" removed; without its first line; without its last line; without both; and those three
 * with every "*" removed. Lines are split on "\n" and the cut variants are stripped.
 */
export function looseVariants(response: string): string[] {
  const lines = response.split("\n");
  const removeFirst = pythonStrip(lines.slice(1).join("\n"));
  const removeLast = pythonStrip(lines.slice(0, -1).join("\n"));
  const removeBoth = pythonStrip(lines.slice(1, -1).join("\n"));
  const noStars = (text: string) => text.replaceAll("*", "");
  return [
    response,
    noStars(response),
    removeFirst,
    removeLast,
    removeBoth,
    noStars(removeFirst),
    noStars(removeLast),
    noStars(removeBoth),
  ];
}

/** Drops `null`/`undefined` values, as the references do before building an instruction. */
function dropNulls(kwargs: unknown): unknown {
  if (kwargs === null || kwargs === undefined) return {};
  if (typeof kwargs !== "object" || Array.isArray(kwargs)) return kwargs;
  return Object.fromEntries(
    Object.entries(kwargs).filter(([, value]) => value !== null && value !== undefined),
  );
}

/**
 * Validates instruction ids and kwargs (null values dropped first). Throws
 * {@link IfevalLabelError} naming the offending position for an empty list, a length
 * mismatch, an unknown id, or kwargs that do not fit.
 */
export function prepareInstructions(params: {
  instructionIds: readonly string[];
  kwargs: readonly unknown[];
}): PreparedInstruction[] {
  const { instructionIds, kwargs } = params;
  if (instructionIds.length === 0) {
    throw new IfevalLabelError({
      code: "ifeval_empty_instructions",
      message:
        "the instruction list is empty: there is nothing to check (an empty list is an error, not a score)",
    });
  }
  if (kwargs.length !== instructionIds.length) {
    throw new IfevalLabelError({
      code: "ifeval_kwargs_length_mismatch",
      message: `${instructionIds.length} instruction ids but ${kwargs.length} kwargs entries`,
      details: { instructionCount: instructionIds.length, kwargsCount: kwargs.length },
    });
  }
  return instructionIds.map((id, index) => {
    const definition = instructionRegistry.get(id);
    if (definition === undefined) {
      throw new IfevalLabelError({
        code: "ifeval_unknown_instruction",
        message: `unknown IFEval instruction id "${id}" at instruction_id[${index}]`,
        details: { id, index },
      });
    }
    const parsed = definition.kwargsSchema.safeParse(dropNulls(kwargs[index]));
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({
        path: formatPath(["kwargs", index, ...issue.path]),
        message: issue.message,
      }));
      throw new IfevalLabelError({
        code: "ifeval_invalid_kwargs",
        message: `invalid kwargs for "${id}":\n${issues.map((issue) => `  - ${issue.path}: ${issue.message}`).join("\n")}`,
        details: { id, index, issues },
      });
    }
    return { definition, kwargs: parsed.data };
  });
}

/** Checks prepared instructions against a response with a ready context (synchronous). */
export function checkPreparedInstructions(params: {
  response: string;
  instructions: readonly PreparedInstruction[];
  context: CheckContext;
}): IfevalCheckResult {
  const variants = looseVariants(params.response);
  const verdicts = params.instructions.map(({ definition, kwargs }) => {
    // A response with no visible character follows nothing (deliberate deviation, README.md).
    const follows = (text: string) =>
      hasVisibleCharacter(text) && definition.check({ response: text, kwargs, context: params.context });
    const strict = follows(params.response);
    const loose = strict || variants.some((variant) => follows(variant));
    return { id: definition.id, strict, loose };
  });
  return {
    instructions: verdicts,
    promptStrict: verdicts.every((verdict) => verdict.strict),
    promptLoose: verdicts.every((verdict) => verdict.loose),
  };
}

/**
 * Checks `response` against IFEval instructions the way Google's evaluation does: strict on
 * the raw response, loose over the 8 variants, prompt-level = every instruction followed.
 * `kwargs[i]` belongs to `instructionIds[i]`; `null` values inside it are dropped. `prompt`
 * (optional) stands in for a missing `prompt_to_repeat`. Loads the language detector only when
 * an instruction needs it.
 */
export async function checkIfevalInstructions(params: {
  response: string;
  instructionIds: readonly string[];
  kwargs: readonly unknown[];
  prompt?: string;
}): Promise<IfevalCheckResult> {
  const instructions = prepareInstructions({ instructionIds: params.instructionIds, kwargs: params.kwargs });
  const languageDetector: LanguageDetector | undefined = instructions.some(
    ({ definition }) => definition.needsLanguage,
  )
    ? await loadLanguageDetector()
    : undefined;
  return checkPreparedInstructions({
    response: params.response,
    instructions,
    context: { languageDetector, prompt: params.prompt },
  });
}
