// bench/engine/ab: an A/B of trainer settings on one shape, interleaved step by step in one
// process (one trainer per variant, one warm-up step each, then rounds of one step per variant
// in ABBA order), medians per variant. Interleaving single steps keeps the variants under the
// same load on a shared machine; only the variants of one run are compared with each other.
// Also reports whether the variants' losses are bit-identical (the same batch every step) and
// whether their parameters and AdamW moments are at the end.
//
//   node dist/engine/ab.js --shape smollm2_135m --rounds 4 \
//     --variant "whole=--gradient-slice-mb 0" --variant "sliced=--gradient-slice-mb 24"
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { allocatorEnvironment, CausalLmTrainer, DecoderModel, parseLlamaConfig } from "@posttrain/engine";
import { machineDescription, peakRssMegabytes, printResultLine } from "../measure.js";
import { describeCpu } from "../peak/probe.js";
import { randomBatch, shapes } from "./shapes.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "smollm2_135m" },
    rounds: { type: "string", default: "4" },
    threads: { type: "string", default: String(cpus().length) },
    variant: { type: "string", multiple: true, default: [] },
  },
});
const variants = values.variant.map((text) => {
  const equals = text.indexOf("=");
  if (equals <= 0) throw new Error(`--variant must be name=args, got ${JSON.stringify(text)}`);
  return {
    name: text.slice(0, equals),
    args: text
      .slice(equals + 1)
      .split(/\s+/)
      .filter(Boolean),
  };
});
if (variants.length < 2) throw new Error("give at least two --variant name=args");
for (const [name, value] of Object.entries(allocatorEnvironment)) {
  if (process.env[name] !== value)
    process.stderr.write(`note: ${name} is not ${value} in this process (set it before node starts)\n`);
}
const shape = shapes[values.shape];
if (shape === undefined) throw new Error(`unknown shape ${values.shape}`);
const threads = Number(values.threads);

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const model = new DecoderModel(parseLlamaConfig(shape.config), { threadInvariantGemms: false });
const batch = randomBatch(shape, model.config.vocab_size, 1);
const trainers = new Map<string, CausalLmTrainer>();
for (const variant of variants) {
  const { values: settings } = parseArgs({
    args: variant.args,
    options: {
      "gradient-slice-mb": { type: "string" },
      "loss-chunks": { type: "string", default: "4" },
    },
  });
  const sliceMegabytes = settings["gradient-slice-mb"];
  trainers.set(
    variant.name,
    await CausalLmTrainer.create({
      model,
      seed: 0,
      threads,
      ...(sliceMegabytes === undefined
        ? {}
        : { gradientOutputSliceBytes: Math.round(Number(sliceMegabytes) * 1024 * 1024) }),
      options: {
        schedule: { kind: "constant", peak: 1e-4, totalSteps: 1000 },
        lossChunks: Number(settings["loss-chunks"]),
      },
    }),
  );
}
const loadStart = loadavg()[0]!;
const samples = new Map<string, Record<string, number>[]>(variants.map((variant) => [variant.name, []]));
const order: string[] = [];
for (let round = -1; round < Number(values.rounds); round += 1) {
  const roundOrder = round % 2 === 0 ? variants : [...variants].reverse();
  for (const variant of roundOrder) {
    const before = process.resourceUsage();
    const result = await trainers.get(variant.name)!.trainStep({ microBatches: [batch] });
    const after = process.resourceUsage();
    if (round < 0) continue; // warm-up step
    const figures = {
      fwd_bwd_seconds: result.seconds.forwardBackward,
      optimizer_seconds: result.seconds.optimizer,
      minor_page_faults: after.minorPageFault - before.minorPageFault,
      system_seconds: (after.systemCPUTime - before.systemCPUTime) / 1e6,
      loss: result.loss,
    };
    samples.get(variant.name)!.push(figures);
    order.push(variant.name);
    process.stderr.write(`round ${round + 1} ${variant.name}: ${JSON.stringify(figures)}\n`);
  }
}
const keys = ["fwd_bwd_seconds", "optimizer_seconds", "minor_page_faults", "system_seconds"];
const summary: Record<string, unknown> = {};
for (const variant of variants) {
  const runs = samples.get(variant.name)!;
  summary[variant.name] = {
    args: variant.args.join(" "),
    ...Object.fromEntries(
      keys.map((key) => [`median_${key}`, median(runs.map((run) => run[key] ?? Number.NaN))]),
    ),
    fwd_bwd_samples: runs.map((run) => run["fwd_bwd_seconds"]),
    losses: runs.map((run) => run["loss"]),
  };
}
const first = samples.get(variants[0]!.name)!;
const lossesIdentical = variants.every((variant) =>
  samples.get(variant.name)!.every((run, index) => Object.is(run["loss"], first[index]?.["loss"])),
);
// Every trainer took the same steps on the same batch: settings that keep the arithmetic end
// with the same parameters and moments, bit for bit.
const bytesOf = (array: Float32Array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
const firstTrainer = trainers.get(variants[0]!.name)!;
const stateIdentical = [...trainers.values()].every(
  (trainer) =>
    bytesOf(trainer.parameters).equals(bytesOf(firstTrainer.parameters)) &&
    bytesOf(trainer.optimizer.state.firstMoment).equals(bytesOf(firstTrainer.optimizer.state.firstMoment)) &&
    bytesOf(trainer.optimizer.state.secondMoment).equals(bytesOf(firstTrainer.optimizer.state.secondMoment)),
);
printResultLine({
  benchmark: "engine-ab",
  machine: machineDescription(),
  cpu: describeCpu(),
  threads,
  shape: values.shape,
  batch: `${shape.batch}x${shape.sequence}`,
  rounds: Number(values.rounds),
  order,
  losses_bit_identical: lossesIdentical,
  parameters_and_moments_bit_identical: stateIdentical,
  process_peak_rss_mb: peakRssMegabytes(),
  load_average_start: loadStart,
  load_average_end: loadavg()[0],
  ...summary,
});
