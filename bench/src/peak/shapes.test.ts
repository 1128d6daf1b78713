import { describe, expect, it } from "vitest";
import {
  bestGflops,
  chainLength,
  gemmFlops,
  parseLscpu,
  peakShapes,
  shareOfPeak,
  summarisePeak,
} from "./shapes.js";

describe("peak probe shapes and FLOPs", () => {
  it("counts 2·m·k·n per GEMM", () => {
    expect(gemmFlops({ m: 2048, k: 768, n: 3072 })).toBe(2 * 2048 * 768 * 3072);
    expect(gemmFlops({ m: 1, k: 1, n: 1 })).toBe(2);
  });

  it("covers the 135M step's real GEMMs, the old probe shape and a 4096³ ceiling, each named by its dims", () => {
    const names = peakShapes.map((shape) => shape.name);
    expect(names).toEqual(expect.arrayContaining(["512x576x1536", "2048x768x3072", "4096x4096x4096"]));
    for (const shape of peakShapes) expect(shape.name).toBe(`${shape.m}x${shape.k}x${shape.n}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it("chains enough GEMMs to reach the target work, within bounds", () => {
    const small = { m: 512, k: 576, n: 576 }; // 0.34 GFLOP per link
    expect(chainLength({ shape: small, targetFlops: 2e9 })).toBe(Math.ceil(2e9 / gemmFlops(small)));
    expect(chainLength({ shape: small, targetFlops: 1e12 })).toBe(32);
    expect(chainLength({ shape: small, targetFlops: 1e12, maximum: 8 })).toBe(8);
    expect(chainLength({ shape: { m: 4096, k: 4096, n: 4096 }, targetFlops: 2e9 })).toBe(2);
    expect(chainLength({ shape: { m: 4096, k: 4096, n: 4096 }, targetFlops: 2e9, minimum: 1 })).toBe(1);
  });
});

describe("best-of-N and choosing the higher library", () => {
  it("takes the fastest run and ignores failed samples", () => {
    expect(bestGflops({ flops: 4e9, seconds: [0.04, 0.02, 0.08] })).toBeCloseTo(200);
    expect(bestGflops({ flops: 4e9, seconds: [Number.NaN, 0, -1, 0.04] })).toBeCloseTo(100);
    expect(bestGflops({ flops: 4e9, seconds: [] })).toBeNaN();
  });

  it("takes each library's best shape and the higher library as the peak", () => {
    const summary = summarisePeak({
      rates: [
        { shape: "a", ort_gflops: 280, openblas_gflops: 350 },
        { shape: "b", ort_gflops: 295, openblas_gflops: 361 },
        { shape: "c", ort_gflops: 150, openblas_gflops: 120 },
      ],
    });
    expect(summary).toMatchObject({
      ort_best_gflops: 295,
      ort_best_shape: "b",
      openblas_best_gflops: 361,
      openblas_best_shape: "b",
      higher: "openblas",
      peak_gflops: 361,
    });
    const ortHigher = summarisePeak({ rates: [{ shape: "a", ort_gflops: 400, openblas_gflops: 361 }] });
    expect(ortHigher.higher).toBe("onnxruntime");
    expect(ortHigher.peak_gflops).toBe(400);
    expect(shareOfPeak({ gflops: 149, peakGflops: summary.peak_gflops })).toBeCloseTo(149 / 361);
  });

  it("falls back to the side that ran when the other did not (e.g. no python3-torch)", () => {
    const noTorch = summarisePeak({
      rates: [
        { shape: "a", ort_gflops: 280, openblas_gflops: Number.NaN },
        { shape: "b", ort_gflops: 290, openblas_gflops: Number.NaN },
      ],
    });
    expect(noTorch).toMatchObject({ higher: "onnxruntime", peak_gflops: 290, ort_best_shape: "b" });
    const noOrt = summarisePeak({ rates: [{ shape: "a", ort_gflops: Number.NaN, openblas_gflops: 300 }] });
    expect(noOrt).toMatchObject({ higher: "openblas", peak_gflops: 300 });
    expect(shareOfPeak({ gflops: 100, peakGflops: Number.NaN })).toBeNaN();
  });
});

describe("CPU description from lscpu", () => {
  it("reads the model, CPU count and the recorded instruction sets", () => {
    const intel = parseLscpu(
      [
        "Architecture:                            x86_64",
        "CPU(s):                                  2",
        "Model name:                              Intel(R) Xeon(R) Processor",
        "Flags:                                   fpu sse avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 avx512_fp16 amx_tile amx_int8",
      ].join("\n"),
    );
    expect(intel.model).toBe("Intel(R) Xeon(R) Processor");
    expect(intel.cpus).toBe(2);
    expect(intel.vector_isa).toBe("avx512");
    expect(intel.flags).toEqual({
      avx2: true,
      fma: true,
      avx512f: true,
      avx512_vnni: true,
      avx512_bf16: true,
      avx512_fp16: true,
      amx_tile: true,
      amx_bf16: true,
      amx_int8: true,
    });
    const amd = parseLscpu(
      "CPU(s): 2\nModel name: AMD EPYC 7B13\nFlags: fpu avx avx2 fma avx512_vnni_like\nNUMA node0 CPU(s): 0,1\n",
    );
    expect(amd).toMatchObject({ model: "AMD EPYC 7B13", cpus: 2, vector_isa: "avx2" });
    expect(amd.flags.avx512_vnni).toBe(false);
    expect(amd.flags.avx512f).toBe(false);
    expect(parseLscpu("")).toMatchObject({ model: "unknown", cpus: 0, vector_isa: "none" });
  });
});
