/**
 * The code sandbox and the `code` / `code_stdio` verifiers. See README.md in this folder for
 * the threat model, the isolation layers and what is and is not enforced.
 */
import type { Verifier } from "../types.js";
import { type CodeLabel, type CodeStdioLabel, codeStdioVerifier, codeVerifier } from "./verifiers.js";

export { attackProbes } from "./attack-probes.js";
export type { ProgramLanguage, SandboxInterpreter, SandboxIsolation } from "./environment.js";
export { detectSandboxIsolation, resolveInterpreter } from "./environment.js";
export type { CodeSandboxErrorCode } from "./errors.js";
export { CodeSandboxError } from "./errors.js";
export { extractCodeBlock } from "./extract.js";
export type { SandboxLimits, SandboxLimitsInput } from "./limits.js";
export {
  defaultSandboxConcurrency,
  memoryBound,
  sandboxLimitsSchema,
  sandboxMemoryFraction,
} from "./limits.js";
export { outputsMatch } from "./output-compare.js";
export { codeProbes } from "./probes.js";
export type { ProgramRunResult } from "./run-program.js";
export { runPythonProgram } from "./run-program.js";
export type { ProgramTest, ProgramTestOutcome, ProgramTestsResult } from "./run-program-tests.js";
export { programTestSchema, runProgramTests, sharedSandboxPool } from "./run-program-tests.js";
export type { TaskPool } from "./task-pool.js";
export { createTaskPool } from "./task-pool.js";
export type { CodeLabel, CodeStdioLabel } from "./verifiers.js";
export { codeLabelSchema, codeStdioLabelSchema, codeStdioVerifier, codeVerifier } from "./verifiers.js";

/** The `code` and `code_stdio` verifiers (version 2.0.0), for the registry. */
export const codeVerifiers: Array<Verifier<CodeLabel> | Verifier<CodeStdioLabel>> = [
  codeVerifier,
  codeStdioVerifier,
];
