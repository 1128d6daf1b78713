/** Runs the reward-hacking probe suite and returns structured results (for the CLI and run reports). */

import { countUtf8Bytes } from "./length.js";
import { VerifierPool } from "./pool.js";
import { getVerifier, verifierProbes, verifierRegistry } from "./registry.js";
import type { VerifierProbe } from "./types.js";
import { verify } from "./verify.js";

export interface ProbeOutcome {
  name: string;
  kind: VerifierProbe["kind"];
  expectedScore: number;
  score: number;
  passed: boolean;
  /** The check timed out: a probe that was not judged within the bound fails, whatever its score. */
  timeout?: boolean;
  why: string;
  details: Record<string, unknown>;
}

export interface VerifierProbeReport {
  verifier: string;
  version: string;
  passed: number;
  failed: number;
  probes: ProbeOutcome[];
}

export interface ProbeReport {
  /** How the length verifiers counted tokens: the given tokenizer, or one token per UTF-8 byte. */
  tokenCounter?: "tokenizer" | "utf8-bytes";
  passed: number;
  failed: number;
  verifiers: VerifierProbeReport[];
}

/**
 * Runs every probe of the selected verifiers (default: all registered) through `verify` on one
 * shared worker pool (`workers`, default 2), so pathological probes are bounded exactly as
 * real checks are (`workers: 0` runs in this thread, without the hard bound). A probe
 * passes when its score equals `expectedScore` (to 1e-9) and it did not time out (a timeout
 * scores 0 without judging: an unbounded check must not pass an adversarial probe).
 * The length verifiers count tokens with `countTokens` (the policy's tokenizer); without
 * it, with one token per UTF-8 byte (`tokenCounter` in the report says which).
 */
export async function runProbes(
  params: {
    verifiers?: readonly string[];
    workers?: number;
    timeoutMilliseconds?: number;
    probes?: readonly VerifierProbe[];
    countTokens?: (text: string) => number;
  } = {},
): Promise<ProbeReport> {
  const countTokens = params.countTokens ?? countUtf8Bytes;
  const names = params.verifiers ?? [...verifierRegistry.keys()];
  const probes = params.probes ?? verifierProbes;
  const reports: VerifierProbeReport[] = [];
  const pool = params.workers === 0 ? undefined : new VerifierPool({ size: params.workers ?? 2 });
  try {
    for (const name of names) {
      const verifier = getVerifier({ name });
      const selected = probes.filter((probe) => probe.verifier === verifier.name);
      const output = await verify({
        verifier: verifier.name,
        rows: selected.map((probe) => ({ response: probe.response, ground_truth: probe.label })),
        ...(pool === undefined ? { workers: 0 } : { pool }),
        countTokens,
        ...(params.timeoutMilliseconds === undefined
          ? {}
          : { timeoutMilliseconds: params.timeoutMilliseconds }),
      });
      const outcomes = selected.map((probe, index): ProbeOutcome => {
        const row = output.rows[index];
        const score = row?.score ?? Number.NaN;
        return {
          name: probe.name,
          kind: probe.kind,
          expectedScore: probe.expectedScore,
          score,
          timeout: row?.details["timeout"] === true,
          passed: Math.abs(score - probe.expectedScore) <= 1e-9 && row?.details["timeout"] !== true,
          why: probe.why,
          details: row?.details ?? {},
        };
      });
      const passed = outcomes.filter((outcome) => outcome.passed).length;
      reports.push({
        verifier: verifier.name,
        version: verifier.version,
        passed,
        failed: outcomes.length - passed,
        probes: outcomes,
      });
    }
  } finally {
    await pool?.close();
  }
  return {
    tokenCounter: params.countTokens === undefined ? "utf8-bytes" : "tokenizer",
    passed: reports.reduce((sum, report) => sum + report.passed, 0),
    failed: reports.reduce((sum, report) => sum + report.failed, 0),
    verifiers: reports,
  };
}

/** The probe report as a plain-text table per verifier. */
export function formatProbeReport(params: { report: ProbeReport }): string {
  const lines: string[] = [];
  for (const verifier of params.report.verifiers) {
    lines.push(
      `${verifier.verifier} ${verifier.version}: ${verifier.passed} passed, ${verifier.failed} failed`,
    );
    if (verifier.probes.length === 0) lines.push("  (no probes registered)");
    const width = Math.max(4, ...verifier.probes.map((probe) => probe.name.length));
    for (const probe of verifier.probes) {
      const status = probe.passed ? "pass" : "FAIL";
      const note =
        probe.kind === "reference-rule" && probe.passed
          ? "  (accepted by the reference's rule)"
          : probe.timeout
            ? "  (timed out)"
            : "";
      lines.push(
        `  ${status}  ${probe.name.padEnd(width)}  ${probe.kind.padEnd(14)}  expected ${probe.expectedScore}  got ${Number(probe.score.toFixed(4))}${note}`,
      );
    }
  }
  lines.push(`total: ${params.report.passed} passed, ${params.report.failed} failed`);
  return lines.join("\n");
}
