/**
 * The MatMul throughput of this machine through onnxruntime (the engine's runtime), which
 * `plan` turns FLOPs into time with. One 1024×768×3072 product, median of 5 after a warm-up.
 */
import { availableParallelism } from "node:os";
import { compileGraph, emitModel, GraphBuilder, OutputBuffer } from "@posttrain/engine";

export async function measureMatmulGflops(params: { threads?: number } = {}): Promise<number> {
  const [m, k, n] = [1024, 768, 3072];
  const graph = new GraphBuilder();
  const a = graph.input({ name: "a", dtype: "float32", shape: [m, k] });
  const b = graph.input({ name: "b", dtype: "float32", shape: [k, n] });
  const compiled = await compileGraph({
    model: emitModel({ graph, outputs: { c: graph.matMul(a, b) } }),
    threads: params.threads ?? availableParallelism(),
  });
  const feeds = {
    a: { data: Float32Array.from({ length: m * k }, (_, index) => (index % 7) - 3), dims: [m, k] },
    b: { data: Float32Array.from({ length: k * n }, (_, index) => (index % 5) - 2), dims: [k, n] },
  };
  const outputs = { c: new OutputBuffer(new Float32Array(m * n), [m, n], "float32") };
  await compiled.run({ feeds, outputs });
  const samples: number[] = [];
  for (let index = 0; index < 5; index += 1) {
    const start = performance.now();
    await compiled.run({ feeds, outputs });
    samples.push((performance.now() - start) / 1000);
  }
  samples.sort((x, y) => x - y);
  return (2 * m * k * n) / (samples[2] ?? Number.NaN) / 1e9;
}
