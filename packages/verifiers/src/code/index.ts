import type { Verifier, VerifierProbe } from "../types.js";

/** Code verifiers (`code`, `code_stdio`). Filled in by the code-sandbox work. */
export const codeVerifiers: Verifier<never>[] = [];
export const codeProbes: VerifierProbe[] = [];
