// `pnpm bench:data` (options --rows=N --mixture-rows=N --stream-workers=N --mixture-chat=1 --part=1|2):
// first the peak RSS of a child process streaming a 1M-row synthetic mixture through
// prepareDataset (template + tokenize + mask + pack; SmolLM2 tokenizer, tulu template), then
// the throughput of the same pipeline on 100k synthetic chat rows with 1 and 2 worker threads
// (wall-clock and per CPU-second, since the shared machine is often loaded). No reference runs
// beside it: Python `tokenizers`/`transformers` are not installable from Debian here (apt has
// neither) and there is no internet for pip.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { machineDescription, printResultLine } from "../measure.js";
import { writeSyntheticSource } from "./synthetic.js";

const argument = (name: string, fallback: number) => {
  const found = process.argv.find((value) => value.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.split("=")[1]);
};
const throughputRows = argument("rows", 100_000);
const mixtureRows = argument("mixture-rows", 1_000_000);
const streamWorkers = argument("stream-workers", 2);
/** 1 = only the 1M-row streaming run, 2 = only the throughput runs, 0 = both (default). */
const part = argument("part", 0);
/** Row shape of the 1M-row streaming run: 0 = short (~45 tokens, default), 1 = chat (~300). */
const mixtureChatRows = argument("mixture-chat", 0) === 1;

const tokenizerDirectory = fileURLToPath(
  new URL("../../../../shared/data/tokenizers/SmolLM2-135M-Instruct", import.meta.url),
);
if (!existsSync(tokenizerDirectory)) {
  process.stderr.write(`bench:data needs the SmolLM2 tokenizer at ${tokenizerDirectory}\n`);
  process.exit(1);
}
const child = fileURLToPath(new URL("./stream-child.js", import.meta.url));

function runChild(args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    process_.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    process_.on("error", reject);
    process_.on("close", (status) => {
      if (status !== 0) reject(new Error(`stream child exited ${status}`));
      else resolve(JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as Record<string, number>);
    });
  });
}

const work = mkdtempSync(join(tmpdir(), "posttrain-bench-data-"));
try {
  process.stderr.write(`machine: ${machineDescription()}\n`);
  const figures: Record<string, unknown> = {
    benchmark: "data",
    machine: machineDescription(),
    reference: "none (Python tokenizers/transformers not installable from Debian)",
  };
  if (part !== 2) {
    // The 1M-row mixture: source A upsampled ×1.5 plus source B sampled at 0.5 → 1M rows.
    const sourceRows = Math.round(mixtureRows / 2);
    const shape = mixtureChatRows ? "chat" : "short";
    const sourceA = await writeSyntheticSource({
      directory: join(work, "mix-a"),
      rows: sourceRows,
      seed: 2,
      shape,
    });
    const sourceB = await writeSyntheticSource({
      directory: join(work, "mix-b"),
      rows: sourceRows,
      seed: 3,
      shape,
    });
    const streaming = await runChild([
      tokenizerDirectory,
      join(work, "cache-mixture"),
      String(streamWorkers),
      sourceA,
      '{"fraction":1.5}',
      sourceB,
      '{"fraction":0.5}',
    ]);
    process.stderr.write(`mixture: ${JSON.stringify(streaming)}\n`);
    Object.assign(figures, {
      mixtureRows: streaming["rows"],
      mixtureRowShape: shape,
      mixtureTokensPerRow: streaming["tokens"]! / streaming["documents"]!,
      mixtureSeconds: streaming["seconds"],
      mixtureCpuSeconds: streaming["cpuSeconds"],
      mixtureWorkers: streamWorkers,
      mixturePeakRssMegabytes: streaming["peakRssMegabytes"],
    });
  }
  if (part !== 1) {
    const throughputSource = await writeSyntheticSource({
      directory: join(work, "chat"),
      rows: throughputRows,
      seed: 1,
    });
    const throughput: Record<string, Record<string, number>> = {};
    for (const workers of [1, 2]) {
      const result = await runChild([
        tokenizerDirectory,
        join(work, `cache-${workers}`),
        String(workers),
        throughputSource,
        '{"fraction":1}',
      ]);
      throughput[`workers${workers}`] = {
        seconds: result["seconds"]!,
        rowsPerSecond: result["rows"]! / result["seconds"]!,
        tokensPerSecond: result["tokens"]! / result["seconds"]!,
        tokensPerRow: result["tokens"]! / result["documents"]!,
        rowsPerCpuSecond: result["rows"]! / result["cpuSeconds"]!,
        peakRssMegabytes: result["peakRssMegabytes"]!,
      };
      process.stderr.write(`${workers} worker(s): ${JSON.stringify(throughput[`workers${workers}`])}\n`);
    }
    const one = throughput["workers1"]!;
    const two = throughput["workers2"]!;
    Object.assign(figures, {
      rows: throughputRows,
      tokensPerRow: one["tokensPerRow"],
      rowsPerSecond1Worker: one["rowsPerSecond"],
      tokensPerSecond1Worker: one["tokensPerSecond"],
      rowsPerSecond2Workers: two["rowsPerSecond"],
      tokensPerSecond2Workers: two["tokensPerSecond"],
      speedup2Workers: two["rowsPerSecond"]! / one["rowsPerSecond"]!,
      rowsPerCpuSecond1Worker: one["rowsPerCpuSecond"],
      rowsPerCpuSecond2Workers: two["rowsPerCpuSecond"],
    });
  }
  figures["loadAverageAtEnd"] = loadavg()[0];
  printResultLine(figures);
} finally {
  rmSync(work, { recursive: true, force: true });
}
