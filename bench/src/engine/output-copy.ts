// bench/engine/output-copy: what one large graph output costs at the onnxruntime-node boundary,
// the mechanism behind the trainer's time outside ORT's run (every gradient is an output). A
// one-node graph (y = 2·x, `--megabytes` of float32) runs with the output left to ORT, with a
// preallocated output buffer (`fetches`, the trainer's way), and — as the baseline — the same
// product reduced in-graph to one number, interleaved; per variant: median
// wall time of `session.run`, minor page faults and whether the tensor the binding returns is
// the preallocated buffer (no: onnxruntime-node 1.30 writes the result into the preallocated
// buffer and then also copies it into a fresh ArrayBuffer that it returns). Ends with one JSON line.
//
//   pnpm --filter @posttrain/bench bench:engine-output-copy
//   node dist/engine/output-copy.js --megabytes 113 --rounds 5
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { compileGraph, emitModel, GraphBuilder, OutputBuffer } from "@posttrain/engine";
import { machineDescription, printResultLine } from "../measure.js";
import { describeCpu } from "../peak/probe.js";

const { values } = parseArgs({
  options: {
    megabytes: { type: "string", default: "64" },
    rounds: { type: "string", default: "5" },
  },
});
const elements = Math.round((Number(values.megabytes) * 1024 * 1024) / 4);
const graph = new GraphBuilder();
const x = graph.input({ name: "x", dtype: "float32", shape: [elements] });
const compiled = await compileGraph({
  model: emitModel({ graph, outputs: { y: graph.mul(x, graph.scalar(2)) } }),
  threads: 1,
});
// The same work with a one-number output (the doubled tensor stays an ORT intermediate): the
// baseline that isolates the cost of bringing the large output into JS.
const reducedGraph = new GraphBuilder();
const reducedInput = reducedGraph.input({ name: "x", dtype: "float32", shape: [elements] });
const reduced = await compileGraph({
  model: emitModel({
    graph: reducedGraph,
    outputs: {
      y: reducedGraph.reduceSum(reducedGraph.mul(reducedInput, reducedGraph.scalar(2)), { axes: [0] }),
    },
  }),
  threads: 1,
});
const input = { data: new Float32Array(elements).fill(1), dims: [elements] };
const preallocated = new OutputBuffer(new Float32Array(elements), [elements], "float32");

interface Sample {
  seconds: number;
  minor_page_faults: number;
  returned_is_preallocated: boolean;
}
const variants: Record<string, () => Promise<Sample>> = {
  small_output: async () => measure(() => reduced.run({ feeds: { x: input } })),
  ort_allocated: async () => measure(() => compiled.run({ feeds: { x: input } })),
  preallocated: async () =>
    measure(() => compiled.run({ feeds: { x: input }, outputs: { y: preallocated } })),
};

async function measure(run: () => ReturnType<typeof compiled.run>): Promise<Sample> {
  const before = process.resourceUsage();
  const start = performance.now();
  const results = await run();
  const seconds = (performance.now() - start) / 1000;
  const after = process.resourceUsage();
  const returned = results["y"]!.data as Float32Array;
  const expected = returned.length === 1 ? 2 * elements : 2;
  if (returned[returned.length - 1] !== expected) throw new Error("the graph computed something else");
  return {
    seconds,
    minor_page_faults: after.minorPageFault - before.minorPageFault,
    returned_is_preallocated: returned.buffer === preallocated.data.buffer,
  };
}

const median = (samples: readonly number[]) =>
  [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
const loadStart = loadavg()[0]!;
const samples: Record<string, Sample[]> = { small_output: [], ort_allocated: [], preallocated: [] };
const names = Object.keys(variants);
for (let round = -1; round < Number(values.rounds); round += 1) {
  for (const name of round % 2 === 0 ? names : [...names].reverse()) {
    const sample = await variants[name]!();
    if (round >= 0) samples[name]!.push(sample);
  }
}
const summary = Object.fromEntries(
  names.map((name) => {
    const runs = samples[name]!;
    return [
      name,
      {
        median_seconds: median(runs.map((run) => run.seconds)),
        median_minor_page_faults: median(runs.map((run) => run.minor_page_faults)),
        returned_is_preallocated: runs.every((run) => run.returned_is_preallocated),
        seconds: runs.map((run) => run.seconds),
      },
    ];
  }),
);
for (const [name, row] of Object.entries(summary))
  process.stderr.write(
    `${name}: ${(row.median_seconds * 1000).toFixed(1)} ms, ${row.median_minor_page_faults} minor faults, returned tensor is the preallocated buffer: ${row.returned_is_preallocated}\n`,
  );
printResultLine({
  benchmark: "engine-output-copy",
  machine: machineDescription(),
  cpu: describeCpu(),
  output_megabytes: Number(values.megabytes),
  rounds: Number(values.rounds),
  load_average_start: loadStart,
  load_average_end: loadavg()[0],
  ...summary,
});
