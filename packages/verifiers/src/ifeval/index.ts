/**
 * IFEval verifiers: `ifeval` (Google's 25 instructions + open-instruct's 29 IFTrain
 * constraints, strict and loose) and `ifeval_old` (Tulu 3's `func_name` format).
 * See README.md in this folder for semantics and known disagreements with the references.
 */
import type { Verifier } from "../types.js";
import type { IfevalLabel, IfevalOldLabel } from "./labels.js";
import { ifevalGuardedVerifier, ifevalOldVerifier, ifevalVerifier } from "./verifiers.js";

export type { IfevalCheckResult, InstructionVerdict, PreparedInstruction } from "./check.js";
export {
  checkIfevalInstructions,
  checkPreparedInstructions,
  looseVariants,
  prepareInstructions,
} from "./check.js";
export type { CheckContext, InstructionDefinition } from "./define.js";
export { IfevalLabelError } from "./errors.js";
export { ifFunctions } from "./if-functions.js";
export type { IfevalLabel, IfevalOldLabel } from "./labels.js";
export { ifevalLabelSchema } from "./labels.js";
export type { LanguageDetector } from "./language.js";
export { loadLanguageDetector } from "./language.js";
export { ifevalProbes } from "./probes.js";
export { countSentences, punktSentences } from "./punkt.js";
export { googleInstructionIds, iftrainInstructionIds, instructionRegistry } from "./registry.js";
export { splitIntoSentences } from "./sentence-split.js";
export {
  guardMinimumWords,
  ifevalGuard,
  ifevalGuardedVerifier,
  ifevalOldVerifier,
  ifevalVerifier,
} from "./verifiers.js";
export { countWords, wordTokenize } from "./word-tokenize.js";

/** The `ifeval` and `ifeval_old` verifiers, for the package registry. */
export const ifevalVerifiers: Array<Verifier<IfevalLabel> | Verifier<IfevalOldLabel>> = [
  ifevalVerifier,
  ifevalOldVerifier,
  ifevalGuardedVerifier,
];
