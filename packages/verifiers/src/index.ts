/**
 * @posttrain/verifiers — exact, hardened verifiers for RLVR rewards and evals.
 * See README.md for every verifier's semantics and where we differ from open-instruct.
 */

// Code sandbox (`code`, `code_stdio`): see src/code/README.md.
export type {
  CodeLabel,
  CodeSandboxErrorCode,
  CodeStdioLabel,
  ProgramLanguage,
  ProgramRunResult,
  ProgramTest,
  ProgramTestOutcome,
  ProgramTestsResult,
  SandboxLimits,
  SandboxLimitsInput,
  TaskPool,
} from "./code/index.js";
export {
  CodeSandboxError,
  codeStdioVerifier,
  codeVerifier,
  createTaskPool,
  detectSandboxIsolation,
  extractCodeBlock,
  outputsMatch,
  resolveInterpreter,
  runProgramTests,
  runPythonProgram,
} from "./code/index.js";
export {
  InvalidLabelError,
  InvalidRemapError,
  MathNormalizationError,
  MissingTokenizerError,
  UnknownVerifierError,
  VerifierTimeoutError,
  VerifierWorkerError,
} from "./errors.js";
// GSM8K helpers.
export {
  extractHashAnswer,
  extractLastNumber,
  extractNumbers,
  gsm8kAnswersEqual,
  gsm8kLabelSchema,
  gsm8kStrictVerifier,
  gsm8kVerifier,
  isHedgedAnswer,
  parseGsm8kNumber,
  stripThousandsSeparators,
} from "./gsm8k.js";
// IFEval (`ifeval`, `ifeval_old`): see src/ifeval/README.md.
export type { IfevalCheckResult, IfevalLabel, IfevalOldLabel, InstructionVerdict } from "./ifeval/index.js";
export {
  checkIfevalInstructions,
  IfevalLabelError,
  ifevalLabelSchema,
  ifevalOldVerifier,
  ifevalVerifier,
  instructionRegistry,
} from "./ifeval/index.js";
export {
  countUtf8Bytes,
  lengthPenaltyScale,
  maxLengthVerifier,
  upToMaxLengthVerifier,
} from "./length.js";
export { cleanAnswer } from "./math/clean-answer.js";
export type { MathEquivalence } from "./math/equivalence.js";
export { isMathEquivalent } from "./math/equivalence.js";
export type { MathAnswerSource, MathCandidate, MathExtraction } from "./math/extract.js";
// Math helpers.
export {
  extractAnswerSentence,
  extractBoxedContents,
  extractGoldAnswer,
  extractLastDollarAnswer,
  extractLatexEnvironments,
  extractMathAnswer,
  extractMinervaAnswer,
  lastBoxedContent,
} from "./math/extract.js";
export { normalizeFinalAnswer } from "./math/normalize-final-answer.js";
export { hendrycksIsEquivalent, stripString } from "./math/strip-string.js";
export {
  mathCheckBudgetMilliseconds,
  mathFlexVerifier,
  mathLabelSchema,
  mathVerifier,
  strictMathVerifier,
} from "./math/verifiers.js";
export type { FinishedCheck } from "./pool.js";
export { VerifierPool } from "./pool.js";
export { removeThinkingSection, stripReasoning } from "./reasoning.js";
export { getVerifier, parseRemap, verifierProbes, verifierRegistry } from "./registry.js";
export type { ProbeOutcome, ProbeReport, VerifierProbeReport } from "./run-probes.js";
export { formatProbeReport, runProbes } from "./run-probes.js";
// String and length verifiers.
export type { SearchLabel, StringLabel, StringLabelList } from "./string-match.js";
export {
  extractAnswerTags,
  extractFinishTag,
  flanVerifier,
  normalizeAnswerText,
  passthroughVerifier,
  puzzleVerifier,
  reSearchF1Verifier,
  reSearchVerifier,
  searchLabelSchema,
  stringF1Verifier,
  stringLabelListSchema,
  stringLabelSchema,
  stringMatcherVerifier,
  tokenF1,
} from "./string-match.js";
export type { Verifier, VerifierProbe, VerifierResult, VerifyContext } from "./types.js";
export type { VerifiedRow, VerifyOutput, VerifyParams, VerifyRow, VerifySummary } from "./verify.js";
export { verify } from "./verify.js";
export type { CheckResult, VerifyOneParams } from "./verify-one.js";
export { defaultMaximumResponseCharacters, defaultTimeoutMilliseconds, verifyOne } from "./verify-one.js";
