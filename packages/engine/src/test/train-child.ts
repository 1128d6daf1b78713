/**
 * A small training run used by the kill/resume test (run as built JS in a child process):
 * resumes from `--directory` if a checkpoint exists, trains to `--steps` with a checkpoint
 * after every step (printing `checkpoint <step>`), then prints `done <sha256 of parameters>`.
 */
import { parseArgs } from "node:util";
import { Random, sha256Hex } from "@posttrain/core";
import { loadCheckpoint, restoreCheckpoint, saveCheckpoint } from "../checkpoint.js";
import { DecoderModel } from "../model/decoder.js";
import { parseLlamaConfig } from "../model/llama-config.js";
import { CausalLmTrainer, type TokenBatch } from "../trainer.js";

const { values } = parseArgs({ options: { directory: { type: "string" }, steps: { type: "string" } } });
const directory = values.directory!;
const steps = Number(values.steps);

const model = new DecoderModel(
  parseLlamaConfig({
    vocab_size: 97,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
  }),
  { threadInvariantGemms: false },
);
const trainer = await CausalLmTrainer.create({
  model,
  seed: 11,
  threads: 2,
  options: {
    schedule: { kind: "cosine", peak: 3e-3, totalSteps: steps, warmup: { ratio: 0.25 } },
    adamW: { weightDecay: 0.1 },
    maxGradientNorm: 0.5,
    lossChunks: 2,
  },
});
let random = Random.fromSeed(5).stream("data");
const checkpoint = await loadCheckpoint({ directory });
if (checkpoint !== null) {
  restoreCheckpoint({ trainer, checkpoint });
  random = Random.fromState(checkpoint.state.random!);
  process.stdout.write(`resumed ${trainer.step}\n`);
}

function sample(): TokenBatch {
  const batchSize = 2;
  const sequenceLength = 12;
  const count = batchSize * sequenceLength;
  const tokens = Array.from({ length: count + 1 }, () => random.nextInt(97));
  return {
    batchSize,
    sequenceLength,
    inputIds: BigInt64Array.from(tokens.slice(0, count), BigInt),
    labels: BigInt64Array.from(tokens.slice(1), BigInt),
    lossMask: Float32Array.from({ length: count }, () => (random.nextFloat() < 0.8 ? 1 : 0)),
  };
}

while (trainer.step < steps) {
  const result = await trainer.trainStep({ microBatches: [sample(), sample()] });
  await saveCheckpoint({ directory, trainer, random: random.getState() });
  process.stdout.write(`checkpoint ${result.step} loss ${result.loss.toFixed(6)}\n`);
}
process.stdout.write(`done ${sha256Hex(new Uint8Array(trainer.parameters.buffer))}\n`);
