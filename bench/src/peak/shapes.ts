// The honest physical limit the engine benchmarks compare a step against: the best sustained
// fp32 GEMM rate this machine reaches with the same threads, measured two ways on the same
// shapes (onnxruntime on a chain of MatMuls in one graph with a small output, and OpenBLAS
// through PyTorch), the higher of the two being the peak. This file holds the pure part
// (which shapes, FLOP counting, chain lengths, best-of-N, choosing the higher, the CPU
// description from `lscpu`), unit-tested in shapes.test.ts; the timing lives in probe.ts and gemm_peak.py.

/** One GEMM shape: [m, k] × [k, n]. `source` says which step it comes from. */
export interface GemmShape {
  name: string;
  m: number;
  k: number;
  n: number;
  source: string;
}

/**
 * The probe's shapes: the training steps' real GEMMs (SmolLM2-135M at 1×512 with 4 loss
 * chunks, the ~9M model at 8×256), the old single-MatMul probe's 2048×768×3072, and 4096³ as
 * a large-GEMM ceiling.
 */
export const peakShapes: readonly GemmShape[] = [
  { name: "2048x768x3072", m: 2048, k: 768, n: 3072, source: "old probe shape (reference prototype)" },
  { name: "512x576x1536", m: 512, k: 576, n: 1536, source: "135M MLP gate/up, 1×512" },
  { name: "512x1536x576", m: 512, k: 1536, n: 576, source: "135M MLP down, 1×512" },
  { name: "512x576x576", m: 512, k: 576, n: 576, source: "135M attention q/o, 1×512" },
  { name: "128x576x49152", m: 128, k: 576, n: 49152, source: "135M LM head, one of 4 loss chunks" },
  { name: "2048x256x688", m: 2048, k: 256, n: 688, source: "9M MLP gate/up, 8×256" },
  { name: "4096x4096x4096", m: 4096, k: 4096, n: 4096, source: "ceiling" },
];

/** Floating-point operations of one GEMM (a multiply and an add per inner-product term). */
export function gemmFlops(shape: Pick<GemmShape, "m" | "k" | "n">): number {
  return 2 * shape.m * shape.k * shape.n;
}

/**
 * How many GEMMs of `shape` one timed run chains so that a run does about `targetFlops` of
 * work (amortising the per-run overhead), at least `minimum` and at most `maximum`. The chain
 * alternates [m, k]×[k, n] and [m, n]×[n, k], so every link has the same shape and FLOPs.
 */
export function chainLength(params: {
  shape: Pick<GemmShape, "m" | "k" | "n">;
  targetFlops: number;
  minimum?: number;
  maximum?: number;
}): number {
  const minimum = params.minimum ?? 2;
  const maximum = params.maximum ?? 32;
  const wanted = Math.ceil(params.targetFlops / gemmFlops(params.shape));
  return Math.min(maximum, Math.max(minimum, wanted));
}

/** Best-of-N: the highest rate in GFLOP/s of runs of `flops` each that took `seconds`. */
export function bestGflops(params: { flops: number; seconds: readonly number[] }): number {
  const valid = params.seconds.filter((value) => Number.isFinite(value) && value > 0);
  if (valid.length === 0) return Number.NaN;
  return params.flops / Math.min(...valid) / 1e9;
}

/** Per-shape rates of both libraries, in GFLOP/s (NaN where a side did not run). */
export interface ShapeRates {
  shape: string;
  ort_gflops: number;
  openblas_gflops: number;
}

export type PeakLibrary = "onnxruntime" | "openblas";

/** The honest peak: each library's best over all shapes, which is higher, and the peak itself. */
export interface PeakSummary {
  ort_best_gflops: number;
  ort_best_shape: string;
  openblas_best_gflops: number;
  openblas_best_shape: string;
  higher: PeakLibrary;
  peak_gflops: number;
  per_shape: ShapeRates[];
}

function bestOf(rates: readonly ShapeRates[], key: "ort_gflops" | "openblas_gflops") {
  let best = { gflops: Number.NaN, shape: "" };
  for (const rate of rates) {
    const value = rate[key];
    if (Number.isFinite(value) && !(value <= best.gflops)) best = { gflops: value, shape: rate.shape };
  }
  return best;
}

/**
 * Chooses the peak: the best rate of each library over all shapes, and the higher of the two.
 * A library with no finite rate loses; if neither has one the peak is NaN.
 */
export function summarisePeak(params: { rates: readonly ShapeRates[] }): PeakSummary {
  const ort = bestOf(params.rates, "ort_gflops");
  const openblas = bestOf(params.rates, "openblas_gflops");
  const ortWins = Number.isFinite(ort.gflops) && !(openblas.gflops > ort.gflops);
  return {
    ort_best_gflops: ort.gflops,
    ort_best_shape: ort.shape,
    openblas_best_gflops: openblas.gflops,
    openblas_best_shape: openblas.shape,
    higher: ortWins ? "onnxruntime" : "openblas",
    peak_gflops: ortWins ? ort.gflops : openblas.gflops,
    per_shape: [...params.rates],
  };
}

/** A step's rate as a share of the peak (NaN when the peak is not a positive number). */
export function shareOfPeak(params: { gflops: number; peakGflops: number }): number {
  return params.peakGflops > 0 ? params.gflops / params.peakGflops : Number.NaN;
}

/** The instruction sets the JSON lines record, in this order. */
export const recordedFlags = [
  "avx2",
  "fma",
  "avx512f",
  "avx512_vnni",
  "avx512_bf16",
  "avx512_fp16",
  "amx_tile",
  "amx_bf16",
  "amx_int8",
] as const;

export interface CpuDescription {
  model: string;
  /** Logical CPUs `lscpu` reports. */
  cpus: number;
  /** Which of {@link recordedFlags} the CPU advertises. */
  flags: Record<(typeof recordedFlags)[number], boolean>;
  /** The widest fp32 vector unit: "avx512", "avx2" or "none". */
  vector_isa: "avx512" | "avx2" | "none";
}

/** Parses `lscpu` output (the "Model name", "CPU(s)" and "Flags" lines; English locale). */
export function parseLscpu(text: string): CpuDescription {
  const field = (name: string): string => {
    const line = text.split("\n").find((candidate) => candidate.trimStart().startsWith(`${name}:`));
    return line === undefined ? "" : line.slice(line.indexOf(":") + 1).trim();
  };
  const present = new Set(field("Flags").split(/\s+/).filter(Boolean));
  const flags = Object.fromEntries(recordedFlags.map((flag) => [flag, present.has(flag)])) as Record<
    (typeof recordedFlags)[number],
    boolean
  >;
  const cpus = Number.parseInt(field("CPU(s)"), 10);
  return {
    model: field("Model name") || "unknown",
    cpus: Number.isFinite(cpus) ? cpus : 0,
    flags,
    vector_isa: flags.avx512f ? "avx512" : flags.avx2 ? "avx2" : "none",
  };
}
