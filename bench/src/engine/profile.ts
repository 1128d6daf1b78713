// bench/engine/profile: where a training step's time goes. Runs `--steps` trainer steps (after
// one warm-up) with ONNX Runtime profiling on and splits each step's forward+backward wall time
// (as the trainer measures it, in JS) into ORT kernel time, time inside ORT's run outside
// kernels (allocation, scheduling), and time outside ORT's run (the node binding copying
// outputs into JS buffers, feeds), and lists kernel time by ORT op type and by the graph op that
// emitted the node, and the matrix-product floor (what the step would take if only the matrix
// products took time). Ends with one JSON line. Profiling adds a little overhead per node.
//
//   pnpm --filter @posttrain/bench bench:engine-profile                 # 135M, 3 steps
//   node dist/engine/profile.js --shape small --steps 3
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { allocatorEnvironment, CausalLmTrainer, DecoderModel, parseLlamaConfig } from "@posttrain/engine";
import { garbageCollectionTimer, machineDescription, peakRssMegabytes, printResultLine } from "../measure.js";
import { describeCpu } from "../peak/probe.js";
import { matrixProductFloor, type ProfileEvent, summariseProfile } from "./profile-summary.js";
import { randomBatch, shapes, stepFlops } from "./shapes.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "smollm2_135m" },
    steps: { type: "string", default: "3" },
    threads: { type: "string", default: String(cpus().length) },
    "loss-chunks": { type: "string", default: "4" },
    top: { type: "string", default: "15" },
  },
});
for (const [name, value] of Object.entries(allocatorEnvironment)) {
  if (process.env[name] !== value)
    process.stderr.write(`note: ${name} is not ${value} in this process (set it before node starts)\n`);
}
const shape = shapes[values.shape];
if (shape === undefined)
  throw new Error(`unknown shape ${values.shape} (known: ${Object.keys(shapes).join(", ")})`);
const steps = Number(values.steps);
const threads = Number(values.threads);
const loadStart = loadavg()[0]!;
const directory = mkdtempSync(join(tmpdir(), "bench-engine-profile-"));
try {
  const model = new DecoderModel(parseLlamaConfig(shape.config), { threadInvariantGemms: false });
  const trainer = await CausalLmTrainer.create({
    model,
    seed: 0,
    threads,
    profileFilePrefix: join(directory, "train"),
    options: {
      schedule: { kind: "constant", peak: 1e-4, totalSteps: 1000 },
      lossChunks: Number(values["loss-chunks"]),
    },
  });
  const batch = randomBatch(shape, model.config.vocab_size, 1);
  await trainer.trainStep({ microBatches: [batch] });
  const forwardBackward: number[] = [];
  const optimizer: number[] = [];
  const garbageCollection = garbageCollectionTimer();
  garbageCollection.start();
  for (let index = 0; index < steps; index += 1) {
    const result = await trainer.trainStep({ microBatches: [batch] });
    forwardBackward.push(result.seconds.forwardBackward);
    optimizer.push(result.seconds.optimizer);
  }
  const collected = await garbageCollection.stop();
  trainer.compiled.endProfiling();
  const file = readdirSync(directory).find((name) => name.startsWith("train") && name.endsWith(".json"));
  if (file === undefined) throw new Error("ORT wrote no profile file");
  const events = JSON.parse(readFileSync(join(directory, file), "utf8")) as ProfileEvent[];
  const summary = summariseProfile({ events, lastRuns: steps });
  const sorted = [...forwardBackward].sort((a, b) => a - b);
  const wall = sorted[Math.floor(sorted.length / 2)]!;
  const optimizerMedian = [...optimizer].sort((a, b) => a - b)[Math.floor(optimizer.length / 2)]!;
  const top = Number(values.top);
  const split = {
    fwd_bwd_wall_seconds: wall,
    ort_run_seconds: summary.run_seconds,
    kernel_seconds: summary.kernel_seconds,
    inside_run_outside_kernels_seconds: summary.run_seconds - summary.kernel_seconds,
    outside_ort_run_seconds: wall - summary.run_seconds,
    outside_kernels_share: (wall - summary.kernel_seconds) / wall,
    optimizer_seconds: optimizerMedian,
    /** V8 garbage collection per step (mean over the measured steps; part of the time outside ORT's run). */
    gc_seconds_per_step: collected.seconds / steps,
    gc_collections_per_step: collected.collections / steps,
  };
  // The whole step as bench:engine times it (forward+backward and the optimizer).
  const flops = stepFlops(shape);
  const floor = matrixProductFloor({
    byOpType: summary.by_op_type,
    stepFlops: flops,
    stepSeconds: wall + optimizerMedian,
  });
  process.stderr.write(
    `${values.shape}: fwd+bwd ${wall.toFixed(3)} s = kernels ${summary.kernel_seconds.toFixed(3)} + ORT run overhead ${split.inside_run_outside_kernels_seconds.toFixed(3)} + outside ORT run ${split.outside_ort_run_seconds.toFixed(3)} (outside kernels ${(100 * split.outside_kernels_share).toFixed(1)}%; GC ${split.gc_seconds_per_step.toFixed(3)} s per step); optimizer ${optimizerMedian.toFixed(3)} s\n`,
  );
  process.stderr.write(
    `  matrix products ${floor.matrix_product_seconds.toFixed(3)} s (${(100 * floor.matrix_product_share_of_step).toFixed(1)}% of the step) at ${floor.matrix_product_gflops.toFixed(0)} GFLOP/s: with nothing else the step would be ${floor.speedup_if_only_matrix_products.toFixed(2)}× faster\n`,
  );
  for (const row of summary.by_op_type.slice(0, top))
    process.stderr.write(
      `  op ${row.op.padEnd(28)} ${row.seconds.toFixed(3)} s  ${(100 * row.share_of_kernels).toFixed(1)}%\n`,
    );
  for (const row of summary.by_graph_op.slice(0, top))
    process.stderr.write(
      `  graph op ${row.op.padEnd(22)} ${row.seconds.toFixed(3)} s  ${(100 * row.share_of_kernels).toFixed(1)}%\n`,
    );
  printResultLine({
    benchmark: "engine-profile",
    machine: machineDescription(),
    cpu: describeCpu(),
    threads,
    shape: values.shape,
    batch: `${shape.batch}x${shape.sequence}`,
    steps,
    load_average_start: loadStart,
    load_average_end: loadavg()[0],
    peak_rss_mb: peakRssMegabytes(),
    ...split,
    step_flops: flops,
    ...floor,
    runs: summary.runs,
    by_op_type: summary.by_op_type.slice(0, top),
    by_graph_op: summary.by_graph_op.slice(0, top),
  });
} finally {
  rmSync(directory, { recursive: true, force: true });
}
