// Summarises an ONNX Runtime profile (Chrome trace JSON, `enableProfiling`) of training steps:
// per run, how much of the wall time ORT spent in kernels, by ORT op type and by the graph op
// that emitted the node (emit.ts prefixes node names with it), and how much was outside
// kernels. Pure; the timing is in profile.ts.

/** One event of ORT's profile (the fields this summary reads). */
export interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

export interface ProfileRunSummary {
  /** ORT's `model_run` duration (µs → seconds), i.e. inside `InferenceSession.run` natively. */
  run_seconds: number;
  /** Sum of node kernel times in that run (nodes run one after another: sequential executor). */
  kernel_seconds: number;
}

export interface ProfileSummary {
  runs: ProfileRunSummary[];
  /** Median over the summarised runs. */
  run_seconds: number;
  kernel_seconds: number;
  /** Kernel seconds per run by ORT op type, largest first (median run's share is similar). */
  by_op_type: { op: string; seconds: number; share_of_kernels: number }[];
  /** Kernel seconds per run by the graph op that emitted the node, largest first. */
  by_graph_op: { op: string; seconds: number; share_of_kernels: number }[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The graph op of a node name `<graph op>/<ONNX op>_<n>` (ORT's fused nodes keep a prefix). */
export function graphOpOf(nodeName: string): string {
  const slash = nodeName.indexOf("/");
  return slash > 0 ? nodeName.slice(0, slash) : "(unscoped)";
}

/**
 * Summarises the last `lastRuns` `model_run` events of a profile (earlier ones are warm-up) and
 * the kernel events inside them; per-op seconds are totals over those runs divided by their count.
 */
export function summariseProfile(params: {
  events: readonly ProfileEvent[];
  lastRuns: number;
}): ProfileSummary {
  const allRuns = params.events
    .filter((event) => event.cat === "Session" && event.name === "model_run")
    .sort((a, b) => a.ts - b.ts);
  const runs = allRuns.slice(Math.max(0, allRuns.length - params.lastRuns));
  const kernels = params.events.filter(
    (event) => event.cat === "Node" && event.name.endsWith("_kernel_time"),
  );
  const byOpType = new Map<string, number>();
  const byGraphOp = new Map<string, number>();
  const summaries: ProfileRunSummary[] = runs.map((run) => {
    let kernelMicroseconds = 0;
    for (const kernel of kernels) {
      if (kernel.ts < run.ts || kernel.ts > run.ts + run.dur) continue;
      kernelMicroseconds += kernel.dur;
      const opType = kernel.args?.op_name ?? "(unknown)";
      byOpType.set(opType, (byOpType.get(opType) ?? 0) + kernel.dur);
      const graphOp = graphOpOf(kernel.name.slice(0, -"_kernel_time".length));
      byGraphOp.set(graphOp, (byGraphOp.get(graphOp) ?? 0) + kernel.dur);
    }
    return { run_seconds: run.dur / 1e6, kernel_seconds: kernelMicroseconds / 1e6 };
  });
  const totalKernel = summaries.reduce((sum, run) => sum + run.kernel_seconds, 0);
  const table = (totals: Map<string, number>) =>
    [...totals.entries()]
      .map(([op, microseconds]) => ({
        op,
        seconds: microseconds / 1e6 / Math.max(1, runs.length),
        share_of_kernels: totalKernel > 0 ? microseconds / 1e6 / totalKernel : Number.NaN,
      }))
      .sort((a, b) => b.seconds - a.seconds);
  return {
    runs: summaries,
    run_seconds: median(summaries.map((run) => run.run_seconds)),
    kernel_seconds: median(summaries.map((run) => run.kernel_seconds)),
    by_op_type: table(byOpType),
    by_graph_op: table(byGraphOp),
  };
}

/** ORT op types that are matrix products (the engine's GEMMs and ORT's fusions of them). */
const matrixProductOps: readonly string[] = ["Gemm", "MatMul", "FusedMatMul"];

/**
 * The matrix-product floor of a step: kernel seconds per run spent in matrix products, the
 * model-FLOP rate they ran at (`stepFlops` is the step's model FLOPs, as bench:engine counts
 * them for its GFLOP/s and share of peak; the engine's recomputations — the LM head's logits
 * and the attention probabilities in the backward pass — are extra work inside these seconds),
 * and how much faster the step would be if nothing but those kernels took time. A target beyond
 * that bound cannot be met by removing overhead; only faster matrix products reach it.
 */
export function matrixProductFloor(params: {
  byOpType: readonly { op: string; seconds: number }[];
  stepFlops: number;
  stepSeconds: number;
}): {
  matrix_product_seconds: number;
  matrix_product_share_of_step: number;
  matrix_product_gflops: number;
  speedup_if_only_matrix_products: number;
} {
  const seconds = params.byOpType
    .filter((row) => matrixProductOps.includes(row.op))
    .reduce((sum, row) => sum + row.seconds, 0);
  const gflops = seconds > 0 ? params.stepFlops / seconds / 1e9 : Number.NaN;
  return {
    matrix_product_seconds: seconds,
    matrix_product_share_of_step: seconds / params.stepSeconds,
    matrix_product_gflops: gflops,
    speedup_if_only_matrix_products: params.stepSeconds / seconds,
  };
}
