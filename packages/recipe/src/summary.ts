/**
 * `summary.json`: the machine-readable outcome of a run. Per stage: status, fingerprint, wall
 * time, final training metrics, eval metrics with confidence intervals and the expected-table
 * rows for that stage; overall: pass/fail against the expected table.
 */
import type { RunEnvironment } from "./environment.js";
import type { RecipeLock } from "./lock.js";
import type { Provenance } from "./provenance.js";
import type { ClaimVerdict, RowVerdict } from "./verdict.js";

export interface EvalMetricSummary {
  value: number;
  standardError: number | null;
  /** 95% interval: the bootstrap one when computed, else value ± 1.96·SE; null with one item. */
  confidenceInterval: { lower: number; upper: number } | null;
  count: number;
}

export interface StageSummary {
  name: string;
  type: "sft" | "dpo" | "rlvr" | "ppo";
  /** `skipped`: finished in an earlier attempt with the same fingerprint. */
  status: "completed" | "skipped" | "interrupted" | "failed" | "pending";
  fingerprint: string;
  wallSeconds: number | null;
  modelDirectory: string | null;
  /** SHA-256 of the stage's model files (tokenizer files excluded); null until it finished. */
  modelSha256: string | null;
  trainingMetrics: Record<string, number | null>;
  /** task → metric → estimate. */
  evals: Record<string, Record<string, EvalMetricSummary>>;
  evalWallSeconds: number | null;
  /** This stage's expected rows judged against its evals (null: no rows, or no eval ran). */
  comparison: { passed: boolean; rows: RowVerdict[] } | null;
  error: { code: string; message: string } | null;
}

export interface RunSummary {
  schemaVersion: 1;
  recipe: { name: string; version: string; variant: string | null; packageName: string | null };
  runId: string;
  runDirectory: string;
  /** The root seed every seed of the recipe came from; `overridden`: set by `--seed`. */
  seed: { root: number; overridden: boolean };
  status: "completed" | "interrupted" | "failed";
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  environment: RunEnvironment;
  /** What code ran (git commit, packages, onnxruntime, Node, command line, seeds); absent in summaries written before it was recorded. */
  provenance?: Provenance;
  lock: RecipeLock;
  stages: StageSummary[];
  /** The verifier probe table (adversarial and honest probes of every verifier the recipe uses). */
  probes: Array<{
    verifier: string;
    version: string;
    passed: number;
    failed: number;
    failedProbes: string[];
  }> | null;
  /** Over-optimisation and regression warnings (trainer monitor events, held-out drops). */
  warnings: string[];
  /** The recipe's ordering claims on this one seed (reported; a claim needs seeds to be tested). */
  claims: ClaimVerdict[];
  /** Every expected row checked, over all stages; null when the recipe has none or no eval ran. */
  expected: { passed: boolean; rows: number; failed: number } | null;
}
