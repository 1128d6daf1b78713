// bench/peak: the honest GEMM peak alone (both sides, every shape), ending with one JSON line.
// `bench:engine` and `bench:generate` run the same probe at their start.
//
//   pnpm bench:peak
//   node dist/peak/main.js --threads 1 --repeats 3
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { printResultLine } from "../measure.js";
import { describeCpu, describePeak, measurePeak } from "./probe.js";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: String(cpus().length) },
    repeats: { type: "string", default: "5" },
  },
});
const loadStart = loadavg()[0]!;
const peak = await measurePeak({ threads: Number(values.threads), repeats: Number(values.repeats) });
process.stderr.write(`${describePeak(peak)}\n`);
printResultLine({
  benchmark: "peak",
  cpu: describeCpu(),
  load_average_start: loadStart,
  load_average_end: loadavg()[0],
  ...peak,
});
