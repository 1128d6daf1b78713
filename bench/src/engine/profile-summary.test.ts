import { describe, expect, it } from "vitest";
import { graphOpOf, matrixProductFloor, type ProfileEvent, summariseProfile } from "./profile-summary.js";

const kernel = (name: string, op: string, ts: number, dur: number): ProfileEvent => ({
  cat: "Node",
  name: `${name}_kernel_time`,
  ts,
  dur,
  args: { op_name: op },
});

describe("summariseProfile", () => {
  it("keeps only the last runs, sums their kernels by ORT op and by graph op", () => {
    const events: ProfileEvent[] = [
      { cat: "Session", name: "model_run", ts: 0, dur: 1_000_000 }, // warm-up, dropped
      kernel("matMul/MatMul_1", "MatMul", 10, 900_000),
      { cat: "Session", name: "model_run", ts: 2_000_000, dur: 1_000_000 },
      kernel("matMul/MatMul_1", "MatMul", 2_000_010, 500_000),
      kernel("rmsNorm/Mul_2", "Mul", 2_500_020, 100_000),
      { cat: "Node", name: "matMul/MatMul_1_fence_before", ts: 2_000_005, dur: 0 },
      { cat: "Session", name: "model_run", ts: 4_000_000, dur: 2_000_000 },
      kernel("matMul/MatMul_1", "MatMul", 4_000_010, 700_000),
      kernel("rmsNorm/Mul_2", "Mul", 4_800_000, 300_000),
      kernel("Fused_7", "FusedMatMul", 5_200_000, 200_000),
    ];
    const summary = summariseProfile({ events, lastRuns: 2 });
    expect(summary.runs).toEqual([
      { run_seconds: 1, kernel_seconds: 0.6 },
      { run_seconds: 2, kernel_seconds: 1.2 },
    ]);
    expect(summary.run_seconds).toBeCloseTo(1.5);
    expect(summary.kernel_seconds).toBeCloseTo(0.9);
    expect(summary.by_op_type[0]).toMatchObject({ op: "MatMul", seconds: 0.6 });
    expect(summary.by_op_type[0]!.share_of_kernels).toBeCloseTo(2 / 3);
    expect(summary.by_graph_op.map((row) => row.op)).toEqual(["matMul", "rmsNorm", "(unscoped)"]);
    expect(summary.by_graph_op[1]!.seconds).toBeCloseTo(0.2);
  });

  it("names the graph op from the node-name prefix", () => {
    expect(graphOpOf("embeddingGradient/ScatterND_12")).toBe("embeddingGradient");
    expect(graphOpOf("MatMul_3")).toBe("(unscoped)");
  });
});

describe("matrixProductFloor", () => {
  it("sums Gemm, MatMul and FusedMatMul only, and bounds the step by them", () => {
    const floor = matrixProductFloor({
      byOpType: [
        { op: "Gemm", seconds: 2 },
        { op: "Softmax", seconds: 0.5 },
        { op: "FusedMatMul", seconds: 0.25 },
        { op: "MatMul", seconds: 0.25 },
        { op: "Mul", seconds: 0.5 },
      ],
      stepFlops: 500e9,
      stepSeconds: 4,
    });
    expect(floor.matrix_product_seconds).toBe(2.5);
    expect(floor.matrix_product_share_of_step).toBe(0.625);
    expect(floor.matrix_product_gflops).toBe(200);
    expect(floor.speedup_if_only_matrix_products).toBe(1.6);
  });

  it("reports no rate when the profile has no matrix product", () => {
    const floor = matrixProductFloor({
      byOpType: [{ op: "Add", seconds: 1 }],
      stepFlops: 1e9,
      stepSeconds: 1,
    });
    expect(floor.matrix_product_seconds).toBe(0);
    expect(floor.matrix_product_gflops).toBeNaN();
  });
});
