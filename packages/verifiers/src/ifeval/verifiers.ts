import { PosttrainError } from "@posttrain/core";
import { z } from "zod";
import type { Verifier, VerifierResult } from "../types.js";
import { checkIfevalInstructions } from "./check.js";
import { prepareIfFunction } from "./if-functions.js";
import { type IfevalLabel, type IfevalOldLabel, ifevalLabelSchema, ifevalOldRawSchema } from "./labels.js";
import { loadLanguageDetector } from "./language.js";
import { parsePythonLiteral } from "./python-literal.js";
import { hasVisibleCharacter, pythonStrip } from "./python-text.js";
import { countWords } from "./word-tokenize.js";

/**
 * `ifeval`: open-instruct's IFEvalG verifier. Score = fraction of the label's instructions the
 * response follows under the STRICT rule (the check on the response as given, which must not
 * be empty) — open-instruct's reward calls `check_following(answer)` with no loose variants,
 * so the reward uses strict. Loose verdicts are reported in `details` for evaluation.
 * Details: `instructions: [{ id, strict, loose }]` in label order, `promptStrict`, `promptLoose`.
 */
export const ifevalVerifier: Verifier<IfevalLabel> = {
  name: "ifeval",
  version: "1.1.0",
  description:
    "IFEval / IFEvalG instruction following (25 Google + 29 IFTrain constraints); score = fraction of instructions followed (strict)",
  labelSchema: ifevalLabelSchema,
  async verify({ response, label }): Promise<VerifierResult> {
    const result = await checkIfevalInstructions({
      response,
      instructionIds: label.instructionIds,
      kwargs: label.kwargs,
      ...(label.prompt === undefined ? {} : { prompt: label.prompt }),
    });
    const followed = result.instructions.filter((instruction) => instruction.strict).length;
    return {
      score: followed / result.instructions.length,
      details: {
        instructions: result.instructions,
        promptStrict: result.promptStrict,
        promptLoose: result.promptLoose,
      },
    };
  },
};

/** The default minimum length of `ifeval_guarded`, in Google words (`\w+` runs). */
export const guardMinimumWords = 10;

const contentWord = /[\p{L}\p{N}]{4,}/gu;

/** Instructions whose correct answer may be short: the length guard steps aside for them. */
const shortAnswerInstructions = new Set([
  "count:lowercase_counting",
  "detectable_format:constrained_response",
  "new:copy_span_idx",
  "combination:repeat_prompt",
]);

/**
 * The opt-in guard of `ifeval_guarded` against degenerate responses that satisfy many
 * instructions by design (a single "x" follows ~20 Google and IFTrain instructions):
 * - length: at least {@link guardMinimumWords} words, lowered when the label itself caps the
 *   length (`length_constraints:number_words` "less than" N → N − 1) or allows a short correct
 *   answer (copying instructions, `constrained_response`, `count:lowercase_counting` → 1), so
 *   the guard never contradicts an instruction;
 * - relevance, when the label carries the prompt: the response shares at least one word of
 *   four or more letters/digits with it (case-insensitive), so an off-topic canned text that
 *   ticks the format boxes scores 0.
 */
export function ifevalGuard(params: { response: string; label: IfevalLabel }): {
  passed: boolean;
  words: number;
  minimumWords: number;
  promptOverlap: number | null;
} {
  const { response, label } = params;
  let minimumWords = guardMinimumWords;
  label.instructionIds.forEach((id, index) => {
    const kwargs = (label.kwargs[index] ?? {}) as Record<string, unknown>;
    if (id === "length_constraints:number_words" && kwargs["relation"] === "less than")
      minimumWords = Math.min(minimumWords, Math.max(1, Number(kwargs["num_words"]) - 1));
    if (shortAnswerInstructions.has(id) || id.startsWith("copy:")) minimumWords = 1;
  });
  const words = countWords(response);
  let promptOverlap: number | null = null;
  if (label.prompt !== undefined) {
    const promptWords = new Set((label.prompt.toLowerCase().match(contentWord) ?? []) as string[]);
    const shared = new Set(
      (response.toLowerCase().match(contentWord) ?? []).filter((word) => promptWords.has(word)),
    );
    promptOverlap = shared.size;
  }
  const passed = words >= minimumWords && (promptOverlap === null || promptOverlap > 0);
  return { passed, words, minimumWords, promptOverlap };
}

/**
 * `ifeval_guarded` (ours, opt-in; e.g. `--remap ifeval=ifeval_guarded`): the `ifeval` reward,
 * but 0 when {@link ifevalGuard} fails. Not an open-instruct verifier: a recipe choosing it
 * trades reference parity for resistance to degenerate responses.
 */
export const ifevalGuardedVerifier: Verifier<IfevalLabel> = {
  name: "ifeval_guarded",
  version: "1.0.0",
  description: "the ifeval reward, 0 for responses shorter than 10 words or sharing no word with the prompt",
  labelSchema: ifevalLabelSchema,
  async verify({ response, label, context }): Promise<VerifierResult> {
    const guard = ifevalGuard({ response, label });
    const result = await ifevalVerifier.verify({ response, label, context });
    if (!guard.passed) return { score: 0, details: { ...result.details, guard, reason: "guard_failed" } };
    return { score: result.score, details: { ...result.details, guard } };
  },
};

/** A string label is JSON (Tulu 3's `json.loads`); a Python literal is accepted too. */
function unwrapOld(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return parsePythonLiteral(value);
  } catch {
    return value;
  }
}

const ifevalOldLabelSchema: z.ZodType<IfevalOldLabel> = z
  .preprocess(unwrapOld, ifevalOldRawSchema)
  .transform((raw) => {
    const { func_name: functionName, ...kwargs } = raw;
    return { functionName, kwargs };
  })
  .superRefine((label, context) => {
    try {
      prepareIfFunction(label);
    } catch (error) {
      if (!PosttrainError.isInstance(error)) throw error;
      context.addIssue({ code: "custom", message: error.message, path: ["func_name"] });
    }
  }) as z.ZodType<IfevalOldLabel>;

/**
 * `ifeval_old`: Tulu 3's constraint format `{ "func_name": ..., ...kwargs }`; binary score from
 * the named `if_functions.py` function applied to the stripped response. An empty response
 * scores 0. Details: `functionName`, `passed`.
 */
export const ifevalOldVerifier: Verifier<IfevalOldLabel> = {
  name: "ifeval_old",
  version: "1.1.0",
  description: "Tulu 3 IFEval constraint functions (func_name + kwargs); binary score",
  labelSchema: ifevalOldLabelSchema,
  async verify({ response, label }): Promise<VerifierResult> {
    const { definition, kwargs } = prepareIfFunction(label);
    const text = pythonStrip(response);
    const languageDetector = definition.needsLanguage === true ? await loadLanguageDetector() : undefined;
    // No visible character → 0 (deliberate deviation: U+200B or NUL alone passed no_commas).
    const passed =
      hasVisibleCharacter(text) && definition.check({ text, kwargs: kwargs as never, languageDetector });
    return { score: passed ? 1 : 0, details: { functionName: label.functionName, passed } };
  },
};
