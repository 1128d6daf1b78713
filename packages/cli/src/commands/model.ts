import { existsSync, statSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { hashFile } from "@posttrain/core";
import {
  initializePretrainedModel,
  loadPretrainedModel,
  modelHash,
  savePretrainedModel,
  tokenizerFileNames,
} from "@posttrain/engine";
import { snapshotRepo } from "@posttrain/hub";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

/**
 * A local model folder for `--model`: a folder path, or `hub:owner/name@<40-hex commit sha>`,
 * which @posttrain/hub snapshots (pinned, hashes verified) into its cache first.
 */
export async function resolveModelDirectory(reference: string): Promise<string> {
  if (reference.startsWith("hub:")) {
    const match = /^hub:([^/\s@]+\/[^/\s@]+)@([0-9a-f]{40})$/.exec(reference);
    if (match === null)
      throw new UsageError(
        `a hub model must be hub:owner/name@<40-hex commit sha>, got ${JSON.stringify(reference)}`,
      );
    const snapshot = await snapshotRepo({ repo: { type: "model", name: match[1]! }, revision: match[2]! });
    return snapshot.directory;
  }
  const directory = resolve(reference);
  if (!existsSync(directory) || !statSync(directory).isDirectory())
    throw new UsageError(`--model ${reference} is not a folder (or hub:owner/name@sha)`);
  return directory;
}

export interface ModelInspection {
  directory: string;
  architecture: string;
  config: {
    vocabSize: number;
    hiddenSize: number;
    intermediateSize: number;
    layers: number;
    attentionHeads: number;
    keyValueHeads: number;
    headDimension: number;
    tiedEmbeddings: boolean;
    ropeTheta: number;
    ropeScaling: unknown;
  };
  parameterCount: number;
  dtype: string | null;
  modelHash: string;
  files: { name: string; size: number; sha256: string }[];
}

/** Loads (and so validates) a model folder and describes it. */
export async function inspectModel(directory: string): Promise<ModelInspection> {
  const model = await loadPretrainedModel({ directory });
  const c = model.config;
  const names = (await readdir(directory, { withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
  const files = [];
  for (const name of names) files.push({ name, ...(await hashFile(join(directory, name))) });
  return {
    directory,
    architecture: c.architecture,
    config: {
      vocabSize: c.vocab_size,
      hiddenSize: c.hidden_size,
      intermediateSize: c.intermediate_size,
      layers: c.num_hidden_layers,
      attentionHeads: c.num_attention_heads,
      keyValueHeads: c.num_key_value_heads,
      headDimension: c.head_dim,
      tiedEmbeddings: c.tie_word_embeddings,
      ropeTheta: c.rope_theta,
      ropeScaling: c.ropeScaling,
    },
    parameterCount: model.model.parameterCount(),
    dtype: model.storedDtype,
    modelHash: modelHash(model),
    files,
  };
}

function integerOption(name: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0)
    throw new UsageError(`${name} must be a non-negative integer, got ${value}`);
  return parsed;
}

export function register(program: Command): void {
  const model = program.command("model").description("create and inspect Hugging Face model folders");

  model
    .command("init")
    .description("initialise a model from a Hugging Face config.json with a seed and save it as a HF folder")
    .requiredOption("--config <file>", "config.json (LlamaForCausalLM, Qwen2ForCausalLM or Olmo2ForCausalLM)")
    .requiredOption("--out <dir>", "output folder")
    .option("--seed <n>", "seed of the initial values", "0")
    .option("--dtype <dtype>", "f32 or bf16", "f32")
    .option("--tokenizer <dir>", "copy the tokenizer files of this folder")
    .option("--json", "print JSON")
    .action(
      async (options: {
        config: string;
        out: string;
        seed: string;
        dtype: string;
        tokenizer?: string;
        json?: boolean;
      }) => {
        if (options.dtype !== "f32" && options.dtype !== "bf16")
          throw new UsageError(`--dtype must be f32 or bf16, got ${options.dtype}`);
        const seed = integerOption("--seed", options.seed);
        let config: unknown;
        try {
          config = JSON.parse(await readFile(options.config, "utf8"));
        } catch (error) {
          throw new UsageError(`--config ${options.config}: ${(error as Error).message}`);
        }
        const tokenizerFiles =
          options.tokenizer === undefined
            ? []
            : tokenizerFileNames
                .map((name) => join(options.tokenizer!, name))
                .filter((path) => existsSync(path));
        if (options.tokenizer !== undefined && tokenizerFiles.length === 0)
          throw new UsageError(`--tokenizer ${options.tokenizer} holds no tokenizer files`);
        const initialised = initializePretrainedModel({ config, seed });
        const generation = join(options.tokenizer ?? "", "generation_config.json");
        if (options.tokenizer !== undefined && existsSync(generation))
          initialised.generationConfig = JSON.parse(await readFile(generation, "utf8")) as Record<
            string,
            unknown
          >;
        const { files } = await savePretrainedModel({
          model: initialised,
          directory: options.out,
          dtype: options.dtype === "f32" ? "F32" : "BF16",
          tokenizerFiles,
        });
        const value = {
          directory: resolve(options.out),
          architecture: initialised.config.architecture,
          parameterCount: initialised.model.parameterCount(),
          modelHash: modelHash(initialised),
          files,
        };
        output({
          json: options.json,
          value,
          human: () =>
            `initialised ${value.architecture} (${value.parameterCount.toLocaleString("en-US")} parameters, seed ${seed}) in ${value.directory}: ${files.join(", ")}`,
        });
      },
    );

  model
    .command("card")
    .description(
      "print a model folder's model card (README.md: stage, recipe, version, seed, data pins, hyperparameters, evals) offline; `push --dry-run` shows the card a push would upload",
    )
    .argument("<dir>", "a model folder (e.g. runs/<recipe>/<run>/stages/2-dpo/model)")
    .option("--json", "print the card and generation_config.json as JSON")
    .action(async (directory: string, options: { json?: boolean }) => {
      const cardPath = join(directory, "README.md");
      if (!existsSync(cardPath))
        throw new UsageError(
          `${directory} has no README.md model card (stage model folders of \`posttrain run\` have one; preview a Hub card with \`posttrain push <dir> --recipe <recipe> --dry-run\`)`,
        );
      const card = await readFile(cardPath, "utf8");
      const generationPath = join(directory, "generation_config.json");
      const generationConfig = existsSync(generationPath)
        ? (JSON.parse(await readFile(generationPath, "utf8")) as unknown)
        : null;
      output({
        json: options.json,
        value: { modelCard: card, generationConfig },
        human: () => card.trimEnd(),
      });
    });

  model
    .command("inspect")
    .description("architecture, parameter count, dtype, files and hashes of a model folder")
    .argument("<model>", "a folder or hub:owner/name@sha")
    .option("--json", "print JSON")
    .action(async (reference: string, options: { json?: boolean }) => {
      const report = await inspectModel(await resolveModelDirectory(reference));
      output({
        json: options.json,
        value: report,
        human: () =>
          [
            `${report.directory}`,
            `architecture ${report.architecture}, ${report.parameterCount.toLocaleString("en-US")} parameters, stored ${report.dtype}`,
            `layers ${report.config.layers}, hidden ${report.config.hiddenSize}, heads ${report.config.attentionHeads}/${report.config.keyValueHeads} kv, vocab ${report.config.vocabSize}${report.config.tiedEmbeddings ? ", tied embeddings" : ""}`,
            `parameters sha256 ${report.modelHash}`,
            ...report.files.map(
              (file) => `  ${file.sha256}  ${file.size.toString().padStart(12)}  ${file.name}`,
            ),
          ].join("\n"),
      });
    });
}
