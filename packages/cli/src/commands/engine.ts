import {
  availableExecutionProviders,
  CausalLmTrainer,
  DecoderModel,
  type ExecutionProvider,
  parseLlamaConfig,
  type TokenBatch,
} from "@posttrain/engine";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

interface EngineCheckOptions {
  steps: string;
  threads?: string;
  executionProvider: string;
  json?: boolean;
}

export interface EngineCheckReport {
  executionProvider: string;
  availableExecutionProviders: string[];
  parameters: number;
  steps: number;
  losses: number[];
  /** Tokens per second of the forward+backward passes (excluding the first, compiling step). */
  tokensPerSecond: number;
  learned: boolean;
}

function positiveInteger(name: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new UsageError(`${name} must be a positive integer, got ${value}`);
  return parsed;
}

/**
 * Trains a tiny Llama-style model on a fixed synthetic sequence for a few steps through the
 * ONNX-graph trainer: a self-test that the engine compiles, runs and learns on this machine.
 */
export async function engineCheck(params: {
  steps: number;
  threads?: number;
  executionProvider: ExecutionProvider;
}): Promise<EngineCheckReport> {
  const model = new DecoderModel(
    parseLlamaConfig({
      vocab_size: 64,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
    }),
    { threadInvariantGemms: false },
  );
  const trainer = await CausalLmTrainer.create({
    model,
    seed: 0,
    executionProvider: params.executionProvider,
    ...(params.threads === undefined ? {} : { threads: params.threads }),
    options: { schedule: { kind: "constant", peak: 1e-2, totalSteps: params.steps }, lossChunks: 2 },
  });
  const [batchSize, sequenceLength] = [4, 32];
  const count = batchSize * sequenceLength;
  const token = (index: number) => (index * 5 + Math.floor(index / sequenceLength)) % 64;
  const batch: TokenBatch = {
    batchSize,
    sequenceLength,
    inputIds: BigInt64Array.from({ length: count }, (_, index) => BigInt(token(index))),
    labels: BigInt64Array.from({ length: count }, (_, index) => BigInt(token(index + 1))),
    lossMask: new Float32Array(count).fill(1),
  };
  const losses: number[] = [];
  let seconds = 0;
  for (let step = 0; step < params.steps; step += 1) {
    const result = await trainer.trainStep({ microBatches: [batch] });
    losses.push(result.loss);
    if (step > 0) seconds += result.seconds.forwardBackward;
  }
  return {
    executionProvider: params.executionProvider,
    availableExecutionProviders: availableExecutionProviders(),
    parameters: model.parameterCount(),
    steps: params.steps,
    losses,
    tokensPerSecond: params.steps > 1 ? ((params.steps - 1) * count) / seconds : Number.NaN,
    learned: losses.length > 1 && losses[losses.length - 1]! < losses[0]!,
  };
}

export function register(program: Command): void {
  const engine = program.command("engine").description("the embedded ONNX-graph training engine");
  engine
    .command("check")
    .description("train a tiny model for a few steps to check that the engine works here")
    .option("--steps <count>", "training steps", "20")
    .option("--threads <count>", "intra-op threads (default: all cores)")
    .option("--execution-provider <name>", "cpu, cuda or webgpu", "cpu")
    .option("--json", "print the report as JSON")
    .action(async (options: EngineCheckOptions) => {
      const steps = positiveInteger("--steps", options.steps);
      const threads =
        options.threads === undefined ? undefined : positiveInteger("--threads", options.threads);
      if (!["cpu", "cuda", "webgpu"].includes(options.executionProvider)) {
        throw new UsageError(
          `--execution-provider must be cpu, cuda or webgpu, got ${options.executionProvider}`,
        );
      }
      const report = await engineCheck({
        steps,
        executionProvider: options.executionProvider as ExecutionProvider,
        ...(threads === undefined ? {} : { threads }),
      });
      output({
        json: options.json,
        value: report,
        human: () =>
          [
            `engine check on ${report.executionProvider} (available: ${report.availableExecutionProviders.join(", ")})`,
            `${report.parameters} parameters, ${report.steps} steps: loss ${report.losses[0]?.toFixed(4)} → ${report.losses.at(-1)?.toFixed(4)}`,
            `${report.tokensPerSecond.toFixed(0)} tokens/s forward+backward; ${report.learned ? "learning: ok" : "learning: FAILED"}`,
          ].join("\n"),
      });
      if (!report.learned) process.exitCode = 1;
    });
}
