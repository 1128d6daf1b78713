import { PosttrainError } from "@posttrain/core";
import { z } from "zod";
import type { Verifier, VerifierResult } from "../types.js";
import { checkIfevalInstructions } from "./check.js";
import { prepareIfFunction } from "./if-functions.js";
import { type IfevalLabel, type IfevalOldLabel, ifevalLabelSchema, ifevalOldRawSchema } from "./labels.js";
import { loadLanguageDetector } from "./language.js";
import { parsePythonLiteral } from "./python-literal.js";
import { pythonStrip } from "./python-text.js";

/**
 * `ifeval`: open-instruct's IFEvalG verifier. Score = fraction of the label's instructions the
 * response follows under the STRICT rule (the check on the response as given, which must not
 * be empty) — open-instruct's reward calls `check_following(answer)` with no loose variants,
 * so the reward uses strict. Loose verdicts are reported in `details` for evaluation.
 * Details: `instructions: [{ id, strict, loose }]` in label order, `promptStrict`, `promptLoose`.
 */
export const ifevalVerifier: Verifier<IfevalLabel> = {
  name: "ifeval",
  version: "1.0.0",
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
  version: "1.0.0",
  description: "Tulu 3 IFEval constraint functions (func_name + kwargs); binary score",
  labelSchema: ifevalOldLabelSchema,
  async verify({ response, label }): Promise<VerifierResult> {
    const { definition, kwargs } = prepareIfFunction(label);
    const text = pythonStrip(response);
    const languageDetector = definition.needsLanguage === true ? await loadLanguageDetector() : undefined;
    const passed = text !== "" && definition.check({ text, kwargs: kwargs as never, languageDetector });
    return { score: passed ? 1 : 0, details: { functionName: label.functionName, passed } };
  },
};
