// bench/engine: forward+backward tokens/s and the whole optimizer step of the ONNX-graph
// trainer against PyTorch CPU (1.13 + OpenBLAS, same threads, same shapes), for a ~9M model
// and the SmolLM2-135M shape; effective GFLOP/s against the honest GEMM peak of this machine
// (bench/src/peak: the best sustained fp32 GEMM with the same threads, onnxruntime and OpenBLAS
// side by side, the share computed against the higher); peak RSS of each side measured in its
// own process. Every JSON line names the CPU (lscpu model, instruction sets) and thread counts.
// Ends with one JSON line.
//
//   pnpm bench:engine                    # both shapes
//   node dist/engine/main.js --shapes small --repeats 3
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { allocatorEnvironment, CausalLmTrainer, DecoderModel, parseLlamaConfig } from "@posttrain/engine";
import { machineDescription, peakRssMegabytes, printResultLine, runPythonReference } from "../measure.js";
import { describeCpu, describePeak, measurePeak } from "../peak/probe.js";
import { shareOfPeak } from "../peak/shapes.js";
import { randomBatch, shapes, stepFlops } from "./shapes.js";

const { values } = parseArgs({
  options: {
    side: { type: "string" },
    shape: { type: "string" },
    shapes: { type: "string", default: "small,smollm2_135m" },
    repeats: { type: "string", default: "3" },
    threads: { type: "string", default: String(cpus().length) },
    "loss-chunks": { type: "string", default: "4" },
    arena: { type: "string", default: "true" },
    "memory-pattern": { type: "string", default: "false" },
    "peak-repeats": { type: "string", default: "5" },
    "gradient-slice-mb": { type: "string" },
  },
});
const threads = Number(values.threads);
const repeats = Number(values.repeats);
const lossChunks = Number(values["loss-chunks"]);
const memoryArena = values.arena !== "false";
const memoryPattern = values["memory-pattern"] === "true";
/** MiB; absent = the trainer's default (`defaultGradientOutputSliceBytes`), 0 = whole gradients. */
const gradientSliceMegabytes =
  values["gradient-slice-mb"] === undefined ? undefined : Number(values["gradient-slice-mb"]);

/** Our side, in its own process: median fwd+bwd and optimizer seconds over `repeats` steps. */
async function runOurs(name: string): Promise<void> {
  const shape = shapes[name]!;
  const model = new DecoderModel(parseLlamaConfig(shape.config), { threadInvariantGemms: false });
  const created = performance.now();
  const trainer = await CausalLmTrainer.create({
    model,
    seed: 0,
    threads,
    memoryArena,
    memoryPattern,
    ...(gradientSliceMegabytes === undefined
      ? {}
      : { gradientOutputSliceBytes: Math.round(gradientSliceMegabytes * 1024 * 1024) }),
    options: { schedule: { kind: "constant", peak: 1e-4, totalSteps: 1000 }, lossChunks },
  });
  const sessionSeconds = (performance.now() - created) / 1000;
  const batch = randomBatch(shape, model.config.vocab_size, 1);
  await trainer.trainStep({ microBatches: [batch] });
  const forwardBackward: number[] = [];
  const optimizer: number[] = [];
  const usageBefore = process.resourceUsage();
  for (let index = 0; index < repeats; index += 1) {
    const result = await trainer.trainStep({ microBatches: [batch] });
    forwardBackward.push(result.seconds.forwardBackward);
    optimizer.push(result.seconds.optimizer);
  }
  const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
  printResultLine({
    fwd_bwd_seconds: median(forwardBackward),
    optimizer_seconds: median(optimizer),
    session_seconds: sessionSeconds,
    parameters: model.parameterCount(),
    peak_rss_mb: peakRssMegabytes(),
    minor_page_faults_per_step:
      (process.resourceUsage().minorPageFault - usageBefore.minorPageFault) / repeats,
  });
}

/** Both sides run with the allocator settings the `posttrain` bin uses (unless already set). */
const childEnvironment = { ...allocatorEnvironment, ...process.env };
process.env["MALLOC_MMAP_THRESHOLD_"] = childEnvironment.MALLOC_MMAP_THRESHOLD_;
process.env["MALLOC_TRIM_THRESHOLD_"] = childEnvironment.MALLOC_TRIM_THRESHOLD_;

function runChild(args: string[]): Record<string, unknown> {
  const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], {
    env: childEnvironment,
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (result.status !== 0) throw new Error(`benchmark child ${args.join(" ")} failed:\n${result.stderr}`);
  const lines = result.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

async function main(): Promise<void> {
  if (values.side === "ours") {
    await runOurs(values.shape!);
    return;
  }
  const torchScript = fileURLToPath(new URL("../../src/engine/torch_train.py", import.meta.url));
  const load = (await import("node:os")).loadavg()[0]!;
  process.stderr.write(
    `machine: ${machineDescription()}; threads ${threads}; load average ${load.toFixed(2)}\n`,
  );
  const cpu = describeCpu();
  const peak = await measurePeak({ threads, repeats: Number(values["peak-repeats"]) });
  process.stderr.write(`${describePeak(peak)}\n`);
  const figures: Record<string, unknown> = {
    benchmark: "engine",
    machine: machineDescription(),
    cpu,
    threads,
    torch_threads: threads,
    loss_chunks: lossChunks,
    memory_arena: memoryArena,
    memory_pattern: memoryPattern,
    malloc_environment: {
      MALLOC_MMAP_THRESHOLD_: childEnvironment.MALLOC_MMAP_THRESHOLD_,
      MALLOC_TRIM_THRESHOLD_: childEnvironment.MALLOC_TRIM_THRESHOLD_,
    },
    load_average_start: load,
    peak,
  };
  for (const name of values.shapes!.split(",")) {
    const shape = shapes[name]!;
    const tokens = shape.batch * shape.sequence;
    const ours = runChild([
      "--side",
      "ours",
      "--shape",
      name,
      "--repeats",
      String(repeats),
      "--threads",
      String(threads),
      "--loss-chunks",
      String(lossChunks),
      "--arena",
      String(memoryArena),
      "--memory-pattern",
      String(memoryPattern),
      ...(values["gradient-slice-mb"] === undefined
        ? []
        : ["--gradient-slice-mb", values["gradient-slice-mb"]]),
    ]);
    process.stderr.write(`${name} ours: ${JSON.stringify(ours)}\n`);
    const torch = runPythonReference({
      script: torchScript,
      args: [
        JSON.stringify({
          config: shape.config,
          batch: shape.batch,
          sequence: shape.sequence,
          repeats,
          threads,
        }),
      ],
      threads,
    });
    process.stderr.write(`${name} torch: ${JSON.stringify(torch)}\n`);
    const forwardBackward = ours["fwd_bwd_seconds"] as number;
    const optimizer = ours["optimizer_seconds"] as number;
    const tokensPerSecond = tokens / forwardBackward;
    const gflops = stepFlops(shape) / forwardBackward / 1e9;
    figures[name] = {
      parameters: ours["parameters"],
      batch: `${shape.batch}x${shape.sequence}`,
      tokens_per_s: tokensPerSecond,
      torch_tokens_per_s: torch["tokens_per_s"],
      ratio_vs_torch: tokensPerSecond / (torch["tokens_per_s"] as number),
      step_seconds: forwardBackward + optimizer,
      torch_step_seconds: (torch["fwd_bwd_seconds"] as number) + (torch["optimizer_seconds"] as number),
      gflops,
      torch_gflops: stepFlops(shape) / (torch["fwd_bwd_seconds"] as number) / 1e9,
      peak_gflops: peak.peak_gflops,
      peak_library: peak.higher,
      share_of_peak: shareOfPeak({ gflops, peakGflops: peak.peak_gflops }),
      torch_share_of_peak: shareOfPeak({
        gflops: stepFlops(shape) / (torch["fwd_bwd_seconds"] as number) / 1e9,
        peakGflops: peak.peak_gflops,
      }),
      optimizer_seconds: optimizer,
      optimizer_share: optimizer / (forwardBackward + optimizer),
      torch_optimizer_seconds: torch["optimizer_seconds"],
      session_seconds: ours["session_seconds"],
      peak_rss_mb: ours["peak_rss_mb"],
      torch_peak_rss_mb: torch["peak_rss_mb"],
      torch_version: torch["torch"],
      torch_reported_threads: torch["threads"],
    };
  }
  figures["load_average_end"] = (await import("node:os")).loadavg()[0];
  printResultLine(figures);
}

await main();
