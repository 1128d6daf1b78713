// Timing side of the honest-peak probe: chained fp32 MatMuls in one onnxruntime graph (weights
// as initializers, the chain's result reduced to one number, so no large output crosses into JS
// per run), and the same shapes and chains through OpenBLAS in PyTorch (gemm_peak.py). The pure
// choices (shapes, FLOPs, chain lengths, best-of-N, the higher side) are in shapes.ts.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { compileGraph, emitModel, GraphBuilder } from "@posttrain/engine";
import { runPythonReference } from "../measure.js";
import {
  bestGflops,
  type CpuDescription,
  chainLength,
  type GemmShape,
  gemmFlops,
  type PeakSummary,
  parseLscpu,
  peakShapes,
  type ShapeRates,
  summarisePeak,
} from "./shapes.js";

/** This machine's CPU as `lscpu` describes it (an empty description where lscpu is missing). */
export function describeCpu(): CpuDescription {
  let text = "";
  try {
    text = execFileSync("lscpu", { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  } catch {
    text = "";
  }
  return parseLscpu(text);
}

function uniformValues(count: number, scale: number, seed: number): Float32Array {
  const values = new Float32Array(count);
  let state = seed >>> 0;
  for (let index = 0; index < count; index += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = ((state / 2 ** 32) * 2 - 1) * scale;
  }
  return values;
}

/** Seconds of each timed run of a chain of `chain` MatMuls of `shape` in one ORT graph. */
async function timeOrtChain(params: {
  shape: GemmShape;
  chain: number;
  threads: number;
  repeats: number;
}): Promise<number[]> {
  const { m, k, n } = params.shape;
  const graph = new GraphBuilder();
  const a = graph.input({ name: "a", dtype: "float32", shape: [m, k] });
  const forward = graph.constant({ values: uniformValues(k * n, 1 / Math.sqrt(k), 2), shape: [k, n] });
  const back = graph.constant({ values: uniformValues(n * k, 1 / Math.sqrt(n), 3), shape: [n, k] });
  let value = graph.matMul(a, forward);
  for (let link = 1; link < params.chain; link += 1)
    value = graph.matMul(value, link % 2 === 1 ? back : forward);
  const total = graph.reduceSum(value, { axes: [0, 1] });
  const compiled = await compileGraph({
    model: emitModel({ graph, outputs: { total } }),
    threads: params.threads,
  });
  const feeds = { a: { data: uniformValues(m * k, 1, 1), dims: [m, k] } };
  await compiled.run({ feeds });
  const seconds: number[] = [];
  for (let index = 0; index < params.repeats; index += 1) {
    const start = performance.now();
    await compiled.run({ feeds });
    seconds.push((performance.now() - start) / 1000);
  }
  return seconds;
}

export interface PeakMeasurement extends PeakSummary {
  threads: number;
  repeats: number;
  /** Chain length per shape (the same on both sides). */
  chains: Record<string, number>;
  torch_version: string | null;
  /** Why the OpenBLAS side is missing, when it is. */
  openblas_error?: string;
  seconds: number;
}

/**
 * Measures the honest peak with `threads` threads: every shape of {@link peakShapes} (or
 * `shapes`) on both sides, best of `repeats` runs after one warm-up, each run chaining about
 * `targetFlops` of GEMMs.
 */
export async function measurePeak(params: {
  threads: number;
  repeats?: number;
  targetFlops?: number;
  shapes?: readonly GemmShape[];
}): Promise<PeakMeasurement> {
  const started = performance.now();
  const repeats = params.repeats ?? 5;
  const shapes = params.shapes ?? peakShapes;
  const targetFlops = params.targetFlops ?? 20e9;
  const chains = Object.fromEntries(
    shapes.map((shape) => [shape.name, chainLength({ shape, targetFlops })]),
  ) as Record<string, number>;
  const ortSeconds: Record<string, number[]> = {};
  for (const shape of shapes) {
    ortSeconds[shape.name] = await timeOrtChain({
      shape,
      chain: chains[shape.name]!,
      threads: params.threads,
      repeats,
    });
  }
  let torchSeconds: Record<string, number[]> = {};
  let torchVersion: string | null = null;
  let openblasError: string | undefined;
  try {
    const result = runPythonReference({
      script: fileURLToPath(new URL("../../src/peak/gemm_peak.py", import.meta.url)),
      args: [
        JSON.stringify({
          threads: params.threads,
          repeats,
          shapes: shapes.map((shape) => ({ ...shape, chain: chains[shape.name] })),
        }),
      ],
      threads: params.threads,
    });
    torchSeconds = result["seconds"] as Record<string, number[]>;
    torchVersion = String(result["torch"]);
  } catch (error) {
    openblasError = error instanceof Error ? error.message.split("\n")[0]! : String(error);
  }
  const rates: ShapeRates[] = shapes.map((shape) => {
    const flops = gemmFlops(shape) * chains[shape.name]!;
    return {
      shape: shape.name,
      ort_gflops: bestGflops({ flops, seconds: ortSeconds[shape.name] ?? [] }),
      openblas_gflops: bestGflops({ flops, seconds: torchSeconds[shape.name] ?? [] }),
    };
  });
  return {
    ...summarisePeak({ rates }),
    threads: params.threads,
    repeats,
    chains,
    torch_version: torchVersion,
    ...(openblasError === undefined ? {} : { openblas_error: openblasError }),
    seconds: (performance.now() - started) / 1000,
  };
}

/** One line for stderr: both sides' best and which is higher. */
export function describePeak(peak: PeakMeasurement): string {
  const row = peak.per_shape
    .map(
      (rate) =>
        `${rate.shape} ort ${rate.ort_gflops.toFixed(0)} / openblas ${rate.openblas_gflops.toFixed(0)}`,
    )
    .join("; ");
  return `GEMM peak (${peak.threads} threads, best of ${peak.repeats}): onnxruntime ${peak.ort_best_gflops.toFixed(1)} GFLOP/s (${peak.ort_best_shape}), OpenBLAS ${peak.openblas_best_gflops.toFixed(1)} GFLOP/s (${peak.openblas_best_shape}); peak = ${peak.higher} ${peak.peak_gflops.toFixed(1)} GFLOP/s [${row}]`;
}
