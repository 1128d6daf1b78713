/**
 * Test fixtures: a small valid recipe input over local data, and a recipe "package" folder
 * in a temporary directory (package.json + recipe.mjs + a copy of the micro tokenizer and the
 * micro SFT data, so the lock tests can change files). Not exported from the package.
 */
import { cp, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repositoryRoot = fileURLToPath(new URL("../../../../", import.meta.url));
export const microTokenizerDirectory = join(repositoryRoot, "recipes/micro/tokenizer");
export const microDataDirectory = join(repositoryRoot, "datasets/micro");

const sftHyperparameters = {
  seed: 1,
  batch: { devices: 1, perDeviceBatchSize: 8, gradientAccumulationSteps: 2 },
  reduction: "sum",
  duration: { epochs: 1 },
  learningRate: { peak: 1e-3, schedule: "linear", warmup: { ratio: 0.03 } },
  adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  maxGradientNorm: 1,
  checkpointEverySteps: 50,
  evaluation: null,
  lossChunks: 1,
  threads: 1,
};

/** A valid recipe input: one SFT stage on the micro SFT data, a held-out eval task. */
export function fixtureRecipeInput(): Record<string, unknown> {
  return {
    name: "fixture",
    version: "1.2.3",
    description: "a test recipe",
    seed: 7,
    model: {
      kind: "initialize",
      config: {
        vocab_size: 512,
        hidden_size: 64,
        intermediate_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        tie_word_embeddings: true,
      },
      seed: 3,
    },
    tokenizer: { source: { kind: "local", directory: "tokenizer" }, chatTemplate: "tulu", addBos: false },
    verifiers: ["gsm8k"],
    stages: [
      {
        name: "sft",
        type: "sft",
        data: {
          train: [{ kind: "local", directory: "data", config: "sft", split: "train" }],
          maxLength: 256,
        },
        hyperparameters: structuredClone(sftHyperparameters),
      },
    ],
    evals: {
      name: "fixture_suite",
      version: "1.0.0",
      tasks: [
        {
          name: "fixture_gsm",
          version: "1.0.0",
          olmes: { task: "none", era: "none" },
          dataset: { kind: "local", directory: "data", config: "rlvr", split: "test" },
          rowFormat: "rlvr",
          prompt: { style: "chat" },
          generation: { temperature: 0, maxNewTokens: 64, stop: [] },
          scoring: { kind: "verifier", verifier: "gsm8k" },
          primaryMetric: "accuracy",
        },
      ],
    },
    expected: [
      { after: "sft", task: "fixture_gsm", metric: "accuracy", value: 0.1, tolerance: 0.1, source: "test" },
    ],
    variants: {
      smoke: {
        stages: [{ name: "sft", hyperparameters: { duration: { $replace: { steps: 2 } } } }],
        expected: [],
      },
    },
  };
}

/** Writes a recipe package folder (plain-object module, tokenizer and data copies); returns its path. */
export async function writeFixturePackage(
  params: { recipe?: Record<string, unknown> } = {},
): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "posttrain-recipe-"));
  await writeFile(
    join(directory, "package.json"),
    JSON.stringify({ name: "@posttrain-recipes/fixture", version: "1.2.3", type: "module" }),
  );
  await writeFile(
    join(directory, "recipe.js"),
    `export const recipe = ${JSON.stringify(params.recipe ?? fixtureRecipeInput(), null, 2)};\n`,
  );
  await cp(microTokenizerDirectory, join(directory, "tokenizer"), { recursive: true });
  await mkdir(join(directory, "data"), { recursive: true });
  for (const config of ["sft", "rlvr"])
    await cp(join(microDataDirectory, config), join(directory, "data", config), { recursive: true });
  return directory;
}
