// Child process of the data benchmark: streams a mixture through prepareDataset (template +
// tokenize + mask + pack) and prints its own peak RSS, so the figure is this pipeline's alone.
// argv: <tokenizer directory> <cache root> <workers> <source directory> <amount JSON> [...]
import { prepareDataset } from "@posttrain/data";

const [tokenizerDirectory, cacheRoot, workers, ...rest] = process.argv.slice(2);
const sources = [];
for (let index = 0; index + 1 < rest.length; index += 2) {
  sources.push({ kind: "local" as const, directory: rest[index]!, amount: JSON.parse(rest[index + 1]!) });
}
const started = performance.now();
const prepared = await prepareDataset({
  sources,
  format: "sft",
  tokenizer: { directory: tokenizerDirectory!, chatTemplate: "tulu" },
  maxLength: 2048,
  packing: { sequenceLength: 2048 },
  seed: 1,
  workers: Number(workers),
  cacheRoot: cacheRoot!,
  progress: "lines",
});
const seconds = (performance.now() - started) / 1000;
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    seconds,
    rows: prepared.manifest.sources.reduce((sum, source) => sum + source.targetRows, 0),
    documents: prepared.manifest.totals.documents,
    tokens: prepared.manifest.totals.tokens,
    packedRows: prepared.manifest.totals.rows,
    // CPU time of every thread of this process (main + workers): robust to other load.
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    peakRssMegabytes: usage.maxRSS / 1024,
  })}\n`,
);
