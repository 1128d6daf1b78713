import type { Verifier, VerifierProbe } from "../types.js";

/** IFEval verifiers (`ifeval`, `ifeval_old`). Filled in by the IFEval work. */
export const ifevalVerifiers: Verifier<never>[] = [];
export const ifevalProbes: VerifierProbe[] = [];
