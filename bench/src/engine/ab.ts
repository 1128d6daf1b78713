// bench/engine/ab: an A/B of trainer settings on one shape, interleaved in one run (ABBA order
// over rounds, each sample a fresh process of `main.js --side ours`), medians per variant. The
// machine is shared, so only the variants of one run are compared with each other.
//
//   node dist/engine/ab.js --shape smollm2_135m --rounds 3 \
//     --variant "whole=--gradient-slice-mb 0" --variant "sliced=--gradient-slice-mb 24"
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { allocatorEnvironment } from "@posttrain/engine";
import { machineDescription, printResultLine } from "../measure.js";
import { describeCpu } from "../peak/probe.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "smollm2_135m" },
    rounds: { type: "string", default: "3" },
    repeats: { type: "string", default: "3" },
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
const main = fileURLToPath(new URL("./main.js", import.meta.url));
const environment = { ...allocatorEnvironment, ...process.env };

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const samples = new Map<string, Record<string, number>[]>(variants.map((variant) => [variant.name, []]));
const loadStart = loadavg()[0]!;
const order: string[] = [];
for (let round = 0; round < Number(values.rounds); round += 1) {
  const roundOrder = round % 2 === 0 ? variants : [...variants].reverse();
  for (const variant of roundOrder) {
    const result = spawnSync(
      process.execPath,
      [
        main,
        "--side",
        "ours",
        "--shape",
        values.shape,
        "--repeats",
        values.repeats,
        "--threads",
        values.threads,
        ...variant.args,
      ],
      { env: environment, encoding: "utf8", maxBuffer: 1 << 24 },
    );
    if (result.status !== 0) throw new Error(`variant ${variant.name} failed:\n${result.stderr}`);
    const lines = result.stdout.trim().split("\n");
    const figures = JSON.parse(lines[lines.length - 1]!) as Record<string, number>;
    samples.get(variant.name)!.push(figures);
    order.push(variant.name);
    process.stderr.write(`round ${round + 1} ${variant.name}: ${JSON.stringify(figures)}\n`);
  }
}
const keys = ["fwd_bwd_seconds", "optimizer_seconds", "peak_rss_mb", "minor_page_faults_per_step"];
const summary: Record<string, unknown> = {};
for (const variant of variants) {
  const runs = samples.get(variant.name)!;
  summary[variant.name] = {
    args: variant.args.join(" "),
    ...Object.fromEntries(
      keys.map((key) => [`median_${key}`, median(runs.map((run) => run[key] ?? Number.NaN))]),
    ),
    fwd_bwd_samples: runs.map((run) => run["fwd_bwd_seconds"]),
  };
}
printResultLine({
  benchmark: "engine-ab",
  machine: machineDescription(),
  cpu: describeCpu(),
  threads: Number(values.threads),
  shape: values.shape,
  rounds: Number(values.rounds),
  repeats_per_sample: Number(values.repeats),
  order,
  load_average_start: loadStart,
  load_average_end: loadavg()[0],
  ...summary,
});
