// bench/generate/profile: where a KV-cache decode step's time goes. Prefills a batch, then runs
// `--steps` greedy decode steps with ONNX Runtime profiling on, and splits each step's wall time
// (DecodingSession.step as JS sees it) into ORT kernel time, time inside ORT's run outside
// kernels, and time outside ORT's run (building feeds, the node binding copying the logits into
// a fresh JS array; the new keys/values go straight into the session's cache buffers); the
// greedy argmax in JS is timed
// apart. Lists kernel time by ORT op type and by the graph op that emitted the node. Ends with
// one JSON line. Profiling adds a little overhead per node.
//
//   pnpm --filter @posttrain/bench bench:generate-profile              # ~9M, batch 16
//   node dist/generate/profile.js --shape smollm2_135m --batch 16 --steps 16
//   node dist/generate/profile.js --profile-directory /tmp/decode-profile   # keep ORT's trace
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DecodingSession, initializePretrainedModel } from "@posttrain/engine";
import { type ProfileEvent, summariseProfile } from "../engine/profile-summary.js";
import { garbageCollectionTimer, machineDescription, peakRssMegabytes, printResultLine } from "../measure.js";
import { describeCpu } from "../peak/probe.js";
import { argmaxRows, generateShapes, median, syntheticPrompts } from "./shapes.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "small" },
    batch: { type: "string", default: "16" },
    prompt: { type: "string", default: "64" },
    steps: { type: "string", default: "32" },
    threads: { type: "string", default: String(cpus().length) },
    top: { type: "string", default: "15" },
    /** Keep ORT's profile (Chrome trace JSON) in this folder instead of a deleted scratch one. */
    "profile-directory": { type: "string" },
  },
});
const config = generateShapes[values.shape];
if (config === undefined)
  throw new Error(`unknown shape ${values.shape} (known: ${Object.keys(generateShapes).join(", ")})`);
const batch = Number(values.batch);
const steps = Number(values.steps);
const threads = Number(values.threads);
const loadStart = loadavg()[0]!;
const keep = values["profile-directory"];
const directory = keep ?? mkdtempSync(join(tmpdir(), "bench-generate-profile-"));
try {
  const model = initializePretrainedModel({ config, seed: 1 });
  const session = await DecodingSession.create({
    model,
    threads,
    profileFilePrefix: join(directory, "decode"),
  });
  const vocabulary = model.config.vocab_size;
  const prompts = syntheticPrompts({ batch, length: Number(values.prompt), vocabulary });
  // One untimed pass (session warm-up), then the profiled one.
  const stepSeconds: number[] = [];
  const sampleSeconds: number[] = [];
  const garbageCollection = garbageCollectionTimer();
  for (const timed of [false, true]) {
    const state = await session.prefill({ prompts });
    if (timed) garbageCollection.start();
    for (let step = 0; step < steps; step += 1) {
      let start = performance.now();
      const next = argmaxRows(state.logits, batch, vocabulary);
      if (timed) sampleSeconds.push((performance.now() - start) / 1000);
      start = performance.now();
      await session.step({ state, tokens: next });
      if (timed) stepSeconds.push((performance.now() - start) / 1000);
    }
  }
  const collected = await garbageCollection.stop();
  session.compiled.endProfiling();
  const file = readdirSync(directory).find((name) => name.startsWith("decode") && name.endsWith(".json"));
  if (file === undefined) throw new Error("ORT wrote no profile file");
  const events = JSON.parse(readFileSync(join(directory, file), "utf8")) as ProfileEvent[];
  const summary = summariseProfile({ events, lastRuns: steps });
  const wall = median(stepSeconds);
  const top = Number(values.top);
  const split = {
    step_wall_seconds: wall,
    ort_run_seconds: summary.run_seconds,
    kernel_seconds: summary.kernel_seconds,
    inside_run_outside_kernels_seconds: summary.run_seconds - summary.kernel_seconds,
    outside_ort_run_seconds: wall - summary.run_seconds,
    outside_kernels_share: (wall - summary.kernel_seconds) / wall,
    argmax_seconds: median(sampleSeconds),
    /** V8 garbage collection per step (mean over the timed steps). */
    gc_seconds_per_step: collected.seconds / steps,
    decode_tokens_per_second: batch / (wall + median(sampleSeconds)),
  };
  const ms = (seconds: number) => `${(seconds * 1000).toFixed(2)} ms`;
  process.stderr.write(
    `${values.shape} batch ${batch}: step ${ms(wall)} = kernels ${ms(summary.kernel_seconds)} + ORT run overhead ${ms(split.inside_run_outside_kernels_seconds)} + outside ORT run ${ms(split.outside_ort_run_seconds)} (outside kernels ${(100 * split.outside_kernels_share).toFixed(1)}%; GC ${ms(split.gc_seconds_per_step)}); argmax ${ms(split.argmax_seconds)}\n`,
  );
  for (const row of summary.by_op_type.slice(0, top))
    process.stderr.write(
      `  op ${row.op.padEnd(28)} ${ms(row.seconds)}  ${(100 * row.share_of_kernels).toFixed(1)}%\n`,
    );
  for (const row of summary.by_graph_op.slice(0, top))
    process.stderr.write(
      `  graph op ${row.op.padEnd(22)} ${ms(row.seconds)}  ${(100 * row.share_of_kernels).toFixed(1)}%\n`,
    );
  printResultLine({
    benchmark: "generate-profile",
    machine: machineDescription(),
    cpu: describeCpu(),
    threads,
    shape: values.shape,
    batch,
    prompt: Number(values.prompt),
    steps,
    load_average_start: loadStart,
    load_average_end: loadavg()[0],
    peak_rss_mb: peakRssMegabytes(),
    ...split,
    by_op_type: summary.by_op_type.slice(0, top),
    by_graph_op: summary.by_graph_op.slice(0, top),
  });
} finally {
  if (keep === undefined) rmSync(directory, { recursive: true, force: true });
}
