// bench/generate/prefill-profile: where a prefill's time goes in each of the engine's two
// KV-cache graphs. The same prompts (a left-padded batch) run through the prefill graph
// (`buildDecodeGraph({ prefill: true })`, what DecodingSession.prefill uses) and through the
// graph of calls on a cache fed an empty past (what prefill used before the two graphs), in
// alternating order after one warm-up each, with ONNX Runtime profiling on; per graph: median
// wall time of a run and ORT kernel time by op type. Also checks that both graphs gave the same
// logits bit for bit. Ends with one JSON line. Profiling adds a little overhead per node.
//
//   pnpm --filter @posttrain/bench bench:generate-prefill-profile --shape smollm2_135m --runs 3
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compileGraph, emitModel, type Feed, initializePretrainedModel } from "@posttrain/engine";
import { type ProfileEvent, summariseProfile } from "../engine/profile-summary.js";
import { machineDescription, peakRssMegabytes, printResultLine } from "../measure.js";
import { describeCpu } from "../peak/probe.js";
import { generateShapes, median, syntheticPrompts } from "./shapes.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "smollm2_135m" },
    batch: { type: "string", default: "16" },
    prompt: { type: "string", default: "64" },
    runs: { type: "string", default: "3" },
    threads: { type: "string", default: String(cpus().length) },
    top: { type: "string", default: "8" },
  },
});
const config = generateShapes[values.shape];
if (config === undefined)
  throw new Error(`unknown shape ${values.shape} (known: ${Object.keys(generateShapes).join(", ")})`);
const batch = Number(values.batch);
const length = Number(values.prompt);
const runs = Number(values.runs);
const threads = Number(values.threads);
const loadStart = loadavg()[0]!;
const directory = mkdtempSync(join(tmpdir(), "bench-prefill-profile-"));
try {
  const model = initializePretrainedModel({ config, seed: 1 });
  const c = model.config;
  // Equal-length prompts: no padding, every query attends to the keys at or before it.
  const prompts = syntheticPrompts({ batch, length, vocabulary: c.vocab_size });
  const bias = new Float32Array(batch * length * length).fill(-1e9);
  for (let row = 0; row < batch; row += 1)
    for (let query = 0; query < length; query += 1)
      bias.fill(0, (row * length + query) * length, (row * length + query) * length + query + 1);
  const emptyCache: Feed = {
    data: new Float32Array(0),
    dims: [0, batch, c.num_key_value_heads, 1, c.head_dim],
  };
  const feeds: Record<string, Feed> = {
    input_ids: { data: BigInt64Array.from(prompts.flat(), BigInt), dims: [batch, length] },
    position_ids: {
      data: BigInt64Array.from(prompts.flat(), (_, index) => BigInt(index % length)),
      dims: [batch, length],
    },
    attention_bias: { data: bias, dims: [batch, 1, 1, length, length] },
  };
  for (let layer = 0; layer < c.num_hidden_layers; layer += 1) {
    feeds[`past_key.${layer}`] = emptyCache;
    feeds[`past_value.${layer}`] = emptyCache;
  }
  for (const entry of model.layout.entries)
    feeds[entry.name] = { data: model.layout.view(model.parameters, entry.name), dims: entry.shape };
  const graphs = await Promise.all(
    (["prefill", "cache"] as const).map(async (name) => {
      const { graph, outputs } = model.model.buildDecodeGraph({ prefill: name === "prefill" });
      const compiled = await compileGraph({
        model: emitModel({ graph, outputs }),
        threads,
        memoryArena: false,
        profileFilePrefix: join(directory, name),
      });
      return { name, compiled, seconds: [] as number[], logits: "" };
    }),
  );
  for (let round = -1; round < runs; round += 1) {
    for (const entry of round % 2 === 0 ? graphs : [...graphs].reverse()) {
      const start = performance.now();
      const results = await entry.compiled.run({ feeds });
      const seconds = (performance.now() - start) / 1000;
      const logits = results["logits"]!.data as Float32Array;
      entry.logits = createHash("sha256")
        .update(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength))
        .digest("hex");
      if (round < 0) continue;
      entry.seconds.push(seconds);
      process.stderr.write(`run ${round + 1} ${entry.name}: ${seconds.toFixed(3)} s\n`);
    }
  }
  const top = Number(values.top);
  const summary: Record<string, unknown> = {};
  for (const entry of graphs) {
    entry.compiled.endProfiling();
    const file = readdirSync(directory).find((name) => name.startsWith(entry.name) && name.endsWith(".json"));
    if (file === undefined) throw new Error(`ORT wrote no profile for the ${entry.name} graph`);
    const events = JSON.parse(readFileSync(join(directory, file), "utf8")) as ProfileEvent[];
    const profile = summariseProfile({ events, lastRuns: runs });
    const wall = median(entry.seconds);
    process.stderr.write(
      `${entry.name} graph: run ${wall.toFixed(3)} s (median of ${runs}), kernels ${profile.kernel_seconds.toFixed(3)} s\n`,
    );
    for (const row of profile.by_op_type.slice(0, top))
      process.stderr.write(
        `  op ${row.op.padEnd(20)} ${row.seconds.toFixed(3)} s  ${(100 * row.share_of_kernels).toFixed(1)}%\n`,
      );
    summary[`${entry.name}_graph`] = {
      run_seconds_median: wall,
      run_seconds: entry.seconds,
      prefill_tokens_per_second: (batch * length) / wall,
      ort_run_seconds: profile.run_seconds,
      kernel_seconds: profile.kernel_seconds,
      by_op_type: profile.by_op_type.slice(0, top),
    };
  }
  printResultLine({
    benchmark: "generate-prefill-profile",
    machine: machineDescription(),
    cpu: describeCpu(),
    threads,
    shape: values.shape,
    batch,
    prompt: length,
    runs,
    logits_bit_identical: graphs[0]!.logits === graphs[1]!.logits,
    load_average_start: loadStart,
    load_average_end: loadavg()[0],
    peak_rss_mb: peakRssMegabytes(),
    ...summary,
  });
} finally {
  rmSync(directory, { recursive: true, force: true });
}
