// bench/engine: forward+backward tokens/s and the whole optimizer step of the ONNX-graph
// trainer against PyTorch CPU (1.13 + OpenBLAS, same threads, same shapes), for a ~9M model
// and the SmolLM2-135M shape; effective GFLOP/s against the measured MatMul peak; peak RSS of
// each side measured in its own process. Ends with one JSON line.
//
//   pnpm bench:engine                    # both shapes
//   node dist/engine/main.js --shapes small --repeats 3
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  allocatorEnvironment,
  CausalLmTrainer,
  compileGraph,
  emitModel,
  GraphBuilder,
  type LlamaConfigInput,
  LlamaModel,
  OutputBuffer,
  parseLlamaConfig,
  type TokenBatch,
} from "@posttrain/engine";
import {
  machineDescription,
  medianSeconds,
  peakRssMegabytes,
  printResultLine,
  runPythonReference,
} from "../measure.js";

interface Shape {
  config: LlamaConfigInput;
  batch: number;
  sequence: number;
}

const shapes: Record<string, Shape> = {
  small: {
    config: {
      vocab_size: 8192,
      hidden_size: 256,
      intermediate_size: 688,
      num_hidden_layers: 6,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
    },
    batch: 8,
    sequence: 256,
  },
  smollm2_135m: {
    config: {
      vocab_size: 49152,
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      tie_word_embeddings: true,
    },
    batch: 1,
    sequence: 512,
  },
};

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
  },
});
const threads = Number(values.threads);
const repeats = Number(values.repeats);
const lossChunks = Number(values["loss-chunks"]);
const memoryArena = values.arena !== "false";
const memoryPattern = values["memory-pattern"] === "true";

/** Model FLOPs of one fwd+bwd step: 6·(non-embedding matmul params incl. LM head)·tokens + attention. */
function stepFlops(shape: Shape): number {
  const c = parseLlamaConfig(shape.config);
  const attention = c.num_attention_heads * c.head_dim;
  const keyValue = c.num_key_value_heads * c.head_dim;
  const perLayer =
    c.hidden_size * (attention + 2 * keyValue) +
    attention * c.hidden_size +
    3 * c.hidden_size * c.intermediate_size;
  const matmulParameters = c.num_hidden_layers * perLayer + c.hidden_size * c.vocab_size;
  const tokens = shape.batch * shape.sequence;
  // Attention scores and weighted values: 2·2·T·attention per token per layer forward, ×3 with backward.
  const attentionFlops = 12 * c.num_hidden_layers * shape.sequence * attention * tokens;
  return 6 * matmulParameters * tokens + attentionFlops;
}

async function matmulPeak(): Promise<number> {
  const [m, k, n] = [2048, 768, 3072];
  const graph = new GraphBuilder();
  const a = graph.input({ name: "a", dtype: "float32", shape: [m, k] });
  const b = graph.input({ name: "b", dtype: "float32", shape: [k, n] });
  const compiled = await compileGraph({
    model: emitModel({ graph, outputs: { c: graph.matMul(a, b) } }),
    threads,
  });
  const feeds = {
    a: { data: Float32Array.from({ length: m * k }, (_, index) => (index % 7) - 3), dims: [m, k] },
    b: { data: Float32Array.from({ length: k * n }, (_, index) => (index % 5) - 2), dims: [k, n] },
  };
  const outputs = { c: new OutputBuffer(new Float32Array(m * n), [m, n], "float32") };
  const { median } = await medianSeconds({
    run: () => compiled.run({ feeds, outputs }),
    warmup: 2,
    repeats: 7,
  });
  return (2 * m * k * n) / median / 1e9;
}

function randomBatch(shape: Shape, vocabulary: number, seed: number): TokenBatch {
  const count = shape.batch * shape.sequence;
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % vocabulary;
  };
  return {
    batchSize: shape.batch,
    sequenceLength: shape.sequence,
    inputIds: BigInt64Array.from({ length: count }, () => BigInt(next())),
    labels: BigInt64Array.from({ length: count }, () => BigInt(next())),
    lossMask: new Float32Array(count).fill(1),
  };
}

/** Our side, in its own process: median fwd+bwd and optimizer seconds over `repeats` steps. */
async function runOurs(name: string): Promise<void> {
  const shape = shapes[name]!;
  const model = new LlamaModel(parseLlamaConfig(shape.config));
  const created = performance.now();
  const trainer = await CausalLmTrainer.create({
    model,
    seed: 0,
    threads,
    memoryArena,
    memoryPattern,
    options: { schedule: { kind: "constant", peak: 1e-4, totalSteps: 1000 }, lossChunks },
  });
  const sessionSeconds = (performance.now() - created) / 1000;
  const batch = randomBatch(shape, model.config.vocab_size, 1);
  await trainer.trainStep({ microBatches: [batch] });
  const forwardBackward: number[] = [];
  const optimizer: number[] = [];
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
  const peak = await matmulPeak();
  process.stderr.write(`MatMul 2048×768×3072: ${peak.toFixed(1)} GFLOP/s\n`);
  const figures: Record<string, unknown> = {
    machine: machineDescription(),
    threads,
    loss_chunks: lossChunks,
    memory_arena: memoryArena,
    memory_pattern: memoryPattern,
    malloc_environment: {
      MALLOC_MMAP_THRESHOLD_: childEnvironment.MALLOC_MMAP_THRESHOLD_,
      MALLOC_TRIM_THRESHOLD_: childEnvironment.MALLOC_TRIM_THRESHOLD_,
    },
    load_average_start: load,
    matmul_peak_gflops: peak,
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
      matmul_peak_gflops: peak,
      share_of_matmul_peak: gflops / peak,
      optimizer_seconds: optimizer,
      optimizer_share: optimizer / (forwardBackward + optimizer),
      torch_optimizer_seconds: torch["optimizer_seconds"],
      session_seconds: ours["session_seconds"],
      peak_rss_mb: ours["peak_rss_mb"],
      torch_peak_rss_mb: torch["peak_rss_mb"],
    };
  }
  figures["load_average_end"] = (await import("node:os")).loadavg()[0];
  printResultLine(figures);
}

await main();
