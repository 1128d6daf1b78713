// bench/generate: prefill and decode tokens/s of the engine's KV-cache decoding (ONNX Runtime)
// against PyTorch eager with a KV cache (Debian torch 1.13, same threads, same weights: the
// engine saves the model as a Hugging Face folder and the reference loads it), at batch 1 and
// 16, for the ~9M shape and the SmolLM2-135M shape. Greedy tokens of both sides are compared
// as a sanity check. Like bench:engine it first measures the honest GEMM peak of this machine
// (bench/src/peak: best sustained fp32 GEMM, onnxruntime and OpenBLAS side by side) and reports
// each side's prefill and decode GFLOP/s as a share of the higher; the JSON line names the CPU
// (lscpu model, instruction sets) and thread counts. Ends with one JSON line.
//
//   pnpm bench:generate
//   node dist/generate/main.js --shapes small --batches 1,16 --prompt 64 --steps 32 --repeats 2
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DecodingSession, initializePretrainedModel, savePretrainedModel } from "@posttrain/engine";
import { machineDescription, peakRssMegabytes, printResultLine, runPythonReference } from "../measure.js";
import { describeCpu, describePeak, measurePeak } from "../peak/probe.js";
import { shareOfPeak } from "../peak/shapes.js";
import { argmaxRows, generateShapes, median, syntheticPrompts } from "./shapes.js";

const { values } = parseArgs({
  options: {
    shapes: { type: "string", default: "small,smollm2_135m" },
    batches: { type: "string", default: "1,16" },
    prompt: { type: "string", default: "64" },
    steps: { type: "string", default: "32" },
    repeats: { type: "string", default: "2" },
    threads: { type: "string", default: String(cpus().length) },
    "peak-repeats": { type: "string", default: "5" },
  },
});
const threads = Number(values.threads);
const promptLength = Number(values.prompt);
const steps = Number(values.steps);
const repeats = Number(values.repeats);
const torchScript = fileURLToPath(new URL("../../src/generate/torch_generate.py", import.meta.url));

/**
 * Model FLOPs of `tokens` forward tokens whose attention reads `context` positions on average:
 * 2·(matmul parameters incl. the LM head) per token plus 4·layers·context·attention width.
 */
function forwardFlops(config: Record<string, unknown>, tokens: number, context: number): number {
  const hidden = config["hidden_size"] as number;
  const heads = config["num_attention_heads"] as number;
  const keyValueHeads = (config["num_key_value_heads"] as number | undefined) ?? heads;
  const headDimension = hidden / heads;
  const attention = heads * headDimension;
  const keyValue = keyValueHeads * headDimension;
  const layers = config["num_hidden_layers"] as number;
  const perLayer =
    hidden * (attention + 2 * keyValue) +
    attention * hidden +
    3 * hidden * (config["intermediate_size"] as number);
  const matmulParameters = layers * perLayer + hidden * (config["vocab_size"] as number);
  return tokens * (2 * matmulParameters + 4 * layers * context * attention);
}

const results: Record<string, unknown> = {};
const loadBefore = loadavg()[0]!;
const cpu = describeCpu();
const peak = await measurePeak({ threads, repeats: Number(values["peak-repeats"]) });
process.stderr.write(`${describePeak(peak)}\n`);
const scratch = mkdtempSync(join(tmpdir(), "bench-generate-"));
try {
  for (const shapeName of values.shapes.split(",")) {
    const config = generateShapes[shapeName];
    if (config === undefined) throw new Error(`unknown shape ${shapeName}`);
    const model = initializePretrainedModel({ config, seed: 1 });
    const directory = join(scratch, shapeName);
    await savePretrainedModel({ model, directory });
    const session = await DecodingSession.create({ model, threads });
    const vocabulary = model.config.vocab_size;
    for (const batch of values.batches.split(",").map(Number)) {
      const prompts = syntheticPrompts({ batch, length: promptLength, vocabulary });
      const prefillTimes: number[] = [];
      const decodeTimes: number[] = [];
      let tokens: number[][] = [];
      for (let repeat = 0; repeat <= repeats; repeat += 1) {
        let start = performance.now();
        const state = await session.prefill({ prompts });
        const prefill = (performance.now() - start) / 1000;
        const generated: number[][] = [];
        start = performance.now();
        for (let step = 0; step < steps; step += 1) {
          const next = argmaxRows(state.logits, batch, vocabulary);
          generated.push(next);
          if (step === steps - 1) break;
          await session.step({ state, tokens: next });
        }
        const decode = (performance.now() - start) / 1000;
        if (repeat > 0) {
          prefillTimes.push(prefill);
          decodeTimes.push(decode);
        }
        tokens = Array.from({ length: batch }, (_, row) => generated.map((step) => step[row]!));
      }
      const engine = {
        prefill_tokens_per_second: (batch * promptLength) / median(prefillTimes),
        decode_tokens_per_second: (batch * (steps - 1)) / median(decodeTimes),
      };
      const torch = runPythonReference({
        script: torchScript,
        args: [directory, String(batch), String(promptLength), String(steps), String(repeats)],
        threads,
      }) as {
        prefill_tokens_per_second: number;
        decode_tokens_per_second: number;
        greedy_tokens: number[][];
      };
      const agreeing = tokens.filter(
        (row, index) => row.join() === torch.greedy_tokens[index]!.join(),
      ).length;
      const key = `${shapeName}_batch${batch}`;
      // GFLOP/s per token rate: prefill attends to half the prompt on average, decode to the
      // prompt plus half the new tokens.
      const prefillFlopsPerToken = forwardFlops(config, 1, promptLength / 2);
      const decodeFlopsPerToken = forwardFlops(config, 1, promptLength + steps / 2);
      const rates = (side: { prefill_tokens_per_second: number; decode_tokens_per_second: number }) => {
        const prefill = (side.prefill_tokens_per_second * prefillFlopsPerToken) / 1e9;
        const decode = (side.decode_tokens_per_second * decodeFlopsPerToken) / 1e9;
        return {
          prefill_gflops: prefill,
          decode_gflops: decode,
          prefill_share_of_peak: shareOfPeak({ gflops: prefill, peakGflops: peak.peak_gflops }),
          decode_share_of_peak: shareOfPeak({ gflops: decode, peakGflops: peak.peak_gflops }),
        };
      };
      results[key] = {
        engine: { ...engine, ...rates(engine) },
        torch: {
          prefill_tokens_per_second: torch.prefill_tokens_per_second,
          decode_tokens_per_second: torch.decode_tokens_per_second,
          ...rates(torch),
        },
        prefill_ratio_vs_torch: engine.prefill_tokens_per_second / torch.prefill_tokens_per_second,
        decode_ratio_vs_torch: engine.decode_tokens_per_second / torch.decode_tokens_per_second,
        greedy_rows_identical: `${agreeing}/${batch}`,
      };
      process.stdout.write(
        `${key}: engine prefill ${engine.prefill_tokens_per_second.toFixed(0)} tok/s, decode ${engine.decode_tokens_per_second.toFixed(1)} tok/s | torch prefill ${torch.prefill_tokens_per_second.toFixed(0)}, decode ${torch.decode_tokens_per_second.toFixed(1)} | decode ratio ${(engine.decode_tokens_per_second / torch.decode_tokens_per_second).toFixed(2)} | greedy identical ${agreeing}/${batch}\n`,
      );
    }
    rmSync(directory, { recursive: true, force: true });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.stdout.write(
  `machine: ${machineDescription()}; threads ${threads}; prompt ${promptLength}, ${steps} new tokens (greedy); load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}; engine peak RSS ${peakRssMegabytes().toFixed(0)} MB\n`,
);
printResultLine({
  benchmark: "generate",
  machine: machineDescription(),
  cpu,
  threads,
  torch_threads: threads,
  load_average_start: loadBefore,
  load_average_end: loadavg()[0],
  engine_peak_rss_mb: peakRssMegabytes(),
  prompt: promptLength,
  steps,
  peak,
  ...results,
});
