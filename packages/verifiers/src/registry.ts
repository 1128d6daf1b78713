/**
 * The verifier registry, keyed by the names open-instruct uses in a row's `dataset` column.
 * IFEval and code verifiers come from their own modules (`./ifeval`, `./code`).
 */
import { codeProbes, codeVerifiers } from "./code/index.js";
import { InvalidRemapError, UnknownVerifierError } from "./errors.js";
import { gsm8kStrictVerifier, gsm8kVerifier } from "./gsm8k.js";
import { ifevalProbes, ifevalVerifiers } from "./ifeval/index.js";
import { maxLengthVerifier, upToMaxLengthVerifier } from "./length.js";
import { mathFlexVerifier, mathVerifier, strictMathVerifier } from "./math/verifiers.js";
import { mathProbes } from "./probes/math.js";
import { otherProbes } from "./probes/other.js";
import {
  flanVerifier,
  passthroughVerifier,
  puzzleVerifier,
  reSearchF1Verifier,
  reSearchVerifier,
  stringF1Verifier,
  stringMatcherVerifier,
} from "./string-match.js";
import type { Verifier, VerifierProbe } from "./types.js";

/**
 * Every registered verifier by name (`gsm8k`, `math`, `strict_math`, `ifeval`, …): every
 * verifier open-instruct's `ground_truth_utils.py` registers, except the LLM-judge ones
 * (`general-*`, `rubric`; see README.md).
 */
export const verifierRegistry: ReadonlyMap<string, Verifier<unknown>> = new Map(
  (
    [
      gsm8kVerifier,
      gsm8kStrictVerifier,
      mathVerifier,
      mathFlexVerifier,
      strictMathVerifier,
      stringMatcherVerifier,
      stringF1Verifier,
      puzzleVerifier,
      flanVerifier,
      reSearchF1Verifier,
      reSearchVerifier,
      passthroughVerifier,
      maxLengthVerifier,
      upToMaxLengthVerifier,
      ...ifevalVerifiers,
      ...codeVerifiers,
    ] as Verifier<unknown>[]
  ).map((verifier) => [verifier.name, verifier]),
);

/** Every reward-hacking probe shipped with the package (ours, IFEval's and code's). */
export const verifierProbes: readonly VerifierProbe[] = [
  ...mathProbes,
  ...otherProbes,
  ...ifevalProbes,
  ...codeProbes,
];

/**
 * Parses remap entries `alias=registered` (open-instruct's `--remap_verifier`), given as one
 * string, a comma-separated string or an array.
 */
export function parseRemap(params: { remap: string | readonly string[] | undefined }): Map<string, string> {
  const entries =
    params.remap === undefined
      ? []
      : typeof params.remap === "string"
        ? params.remap.split(",")
        : [...params.remap];
  const mapping = new Map<string, string>();
  for (const entry of entries) {
    if (entry.trim() === "") continue;
    const parts = entry.split("=");
    if (parts.length !== 2) throw new InvalidRemapError({ remap: entry, reason: "needs exactly one '='" });
    const alias = (parts[0] ?? "").trim();
    const target = (parts[1] ?? "").trim();
    if (alias === "" || target === "") throw new InvalidRemapError({ remap: entry, reason: "empty name" });
    mapping.set(alias, target);
  }
  return mapping;
}

/**
 * The verifier for `name` (case-insensitive, like open-instruct's lookup), after applying
 * `remap` (e.g. `"gsm8k_v2=gsm8k"`). Throws `UnknownVerifierError` listing the known names.
 */
export function getVerifier(params: { name: string; remap?: string | readonly string[] }): Verifier<unknown> {
  const mapping = parseRemap({ remap: params.remap });
  const requested = params.name.trim();
  const target = (mapping.get(requested) ?? requested).toLowerCase();
  const verifier = verifierRegistry.get(target);
  if (verifier === undefined)
    throw new UnknownVerifierError({ name: params.name, known: [...verifierRegistry.keys()] });
  return verifier;
}
