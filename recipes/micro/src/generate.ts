/**
 * Generates the micro recipe's data and tokenizer, deterministically from one seed:
 *
 * - `datasets/micro/` — a folder laid out like a Hub dataset repo (dataset card with YAML
 *   `configs`, one Parquet file per config and split): `sft` (messages), `preference`
 *   (chosen/rejected sharing the prompt), `rlvr` (messages, ground_truth, dataset). Every
 *   `test` split is held out: no test row shares its template-and-numbers key with any
 *   train row of any config.
 * - `recipes/micro/tokenizer/` — a 512-token byte-level BPE trained on the SFT train split,
 *   with the Tulu chat template.
 *
 * Run: `pnpm --filter @posttrain-recipes/micro generate` (or `node dist/generate.js`).
 * Running it twice gives byte-identical files (the test checks this).
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Random, writeFileAtomic } from "@posttrain/core";
import { builtinChatTemplates, tokenizerJsonFromVocabulary } from "@posttrain/data";
import { parquetWriteBuffer } from "hyparquet-writer";
import { trainByteLevelBpe } from "./byte-level-bpe.js";
import {
  corruptAnswer,
  drawWordProblem,
  type InstructionConstraint,
  ifevalGroundTruth,
  instructionConstraints,
  type WordProblem,
} from "./problems.js";

export const microDataVersion = "1";

export interface MicroDataSizes {
  sftTrain: number;
  preferenceTrain: number;
  rlvrTrain: number;
  /** Rows in each config's held-out `test` split. */
  test: number;
  /**
   * Rows in the `eval` config's `test` split: the eval suite's held-out problems (rlvr rows),
   * drawn after every train split and disjoint from all of them and from every `test` split.
   * Large, so a stage's gain is told from item-level noise (±0.03 at 1,000 gsm8k rows).
   */
  evaluation: number;
  /**
   * Pairs in the `eval_preference` config's `test` split: held-out preference pairs drawn
   * after the `eval` config's problems, disjoint from every other split.
   */
  evaluationPreference: number;
  /** Share of rows that carry an instruction-following constraint. */
  instructionShare: number;
}

export const defaultMicroDataSizes: MicroDataSizes = {
  sftTrain: 4000,
  preferenceTrain: 2000,
  rlvrTrain: 2000,
  test: 200,
  evaluation: 1333,
  evaluationPreference: 1000,
  instructionShare: 0.25,
};

type Message = { role: "user" | "assistant"; content: string };

interface Example {
  problem: WordProblem;
  constraint: InstructionConstraint | null;
  prompt: string;
  answer: string;
}

function makeExample(random: Random, problem: WordProblem, instructionShare: number): Example {
  const constraint =
    random.nextFloat() < instructionShare
      ? instructionConstraints[random.nextInt(instructionConstraints.length)]!
      : null;
  return {
    problem,
    constraint,
    prompt: constraint === null ? problem.question : `${problem.question} ${constraint.instruction}`,
    answer: constraint === null ? problem.answer : constraint.apply(problem.answer),
  };
}

/** Draws `count` examples whose keys are not in `excluded`; adds their keys to `taken`. */
function drawExamples(params: {
  random: Random;
  count: number;
  excluded: ReadonlySet<string>;
  taken?: Set<string>;
  instructionShare: number;
}): Example[] {
  const examples: Example[] = [];
  while (examples.length < params.count) {
    const problem = drawWordProblem(params.random);
    if (params.excluded.has(problem.key)) continue;
    if (params.taken) {
      if (params.taken.has(problem.key)) continue;
      params.taken.add(problem.key);
    }
    examples.push(makeExample(params.random, problem, params.instructionShare));
  }
  return examples;
}

const conversation = (example: Example, answer: string): Message[] => [
  { role: "user", content: example.prompt },
  { role: "assistant", content: answer },
];

function sftRows(examples: Example[], split: string) {
  return examples.map((example, index) => ({
    id: `micro-sft-${split}-${index}`,
    messages: conversation(example, example.answer),
    source: example.constraint === null ? "arithmetic" : `instruction:${example.constraint.id}`,
  }));
}

function preferenceRows(examples: Example[], split: string, random: Random) {
  return examples.map((example, index) => {
    // Rejected: a wrong result for plain problems; for constrained ones, alternately a wrong
    // result that follows the instruction and the right result that ignores it.
    const wrong = corruptAnswer(example.problem, random);
    const rejected =
      example.constraint === null
        ? wrong
        : random.nextInt(2) === 0
          ? example.constraint.apply(wrong)
          : example.problem.answer;
    return {
      id: `micro-preference-${split}-${index}`,
      chosen: conversation(example, example.answer),
      rejected: conversation(example, rejected),
    };
  });
}

function rlvrRows(examples: Example[], split: string) {
  return examples.map((example, index) => ({
    id: `micro-rlvr-${split}-${index}`,
    messages: [{ role: "user", content: example.prompt }] as Message[],
    ground_truth:
      example.constraint === null ? example.problem.result : ifevalGroundTruth(example.constraint),
    dataset: example.constraint === null ? "gsm8k" : "ifeval",
  }));
}

/** One Parquet file of `rows` (columns from the first row; string columns typed STRING). */
function parquetFileOfRows(rows: Record<string, unknown>[]): Uint8Array {
  const columns = Object.keys(rows[0] ?? {});
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: columns.map((name) => {
        const data = rows.map((row) => row[name]);
        return typeof data[0] === "string" ? { name, data, type: "STRING" as const } : { name, data };
      }),
    }),
  );
}

function datasetCard(counts: Record<string, Record<string, number>>): string {
  const configs = Object.entries(counts)
    .map(
      ([config, splits]) =>
        `- config_name: ${config}\n  data_files:\n${Object.keys(splits)
          .map((split) => `  - split: ${split}\n    path: ${config}/${split}-00000-of-00001.parquet`)
          .join("\n")}`,
    )
    .join("\n");
  const table = Object.entries(counts)
    .flatMap(([config, splits]) =>
      Object.entries(splits).map(([split, rows]) => `| ${config} | ${split} | ${rows} |`),
    )
    .join("\n");
  return `---
license: apache-2.0
language:
- en
pretty_name: posttrain micro
size_categories:
- 1K<n<10K
configs:
${configs}
---

# posttrain micro

Synthetic data for the \`micro\` recipe of [posttrain](https://github.com/): arithmetic word
problems in GSM8K's shape (a one-line worked answer ending \`#### N\`), a quarter of them with
a simple instruction-following constraint judged by IFEval instructions
(\`change_case:english_lowercase\`, \`punctuation:no_comma\`, \`startend:end_checker\`,
\`startend:quotation\`).

Generated by \`recipes/micro/src/generate.ts\` (data version ${microDataVersion}); do not edit by hand.

| config | split | rows |
|---|---|---|
${table}

- \`sft\`: \`messages\` (user, assistant), \`source\`.
- \`preference\`: \`chosen\` / \`rejected\` message lists sharing the user turn. Rejected answers
  have a wrong result (off by 1–3) or, for constrained prompts, ignore the instruction.
- \`rlvr\`: \`messages\` (the user turn), \`ground_truth\` and \`dataset\` — the verifier key in
  open-instruct's convention: \`gsm8k\` (ground truth = the number) or \`ifeval\` (ground truth =
  \`{"instruction_id": [...], "kwargs": [...]}\` as JSON).
- \`eval\`: the eval suite's held-out problems, in the \`rlvr\` row shape (ids \`micro-rlvr-eval-N\`).
  Drawn after every other split, so adding it changed none of them; large, so an eval number
  is told from item-level noise (about ±0.03 at 1,000 gsm8k rows).
- \`eval_preference\`: 1,000 held-out preference pairs in the \`preference\` row shape (ids
  \`micro-preference-eval-N\`), drawn after \`eval\` and disjoint from every other split.
- Every \`test\` split is held out: no test problem shares its template and numbers (and
  names and items) with a train problem of any config.
`;
}

/** The end-of-text token of the micro tokenizers (also their BOS, EOS and unknown token). */
export const microEndOfText = "<|endoftext|>";
const microPadding = "<|pad|>";

/**
 * A micro-style tokenizer folder in memory (paths `folder/…`): a byte-level BPE of 512 tokens
 * trained on `corpus` with `<|endoftext|>` and `<|pad|>` as tokens 0 and 1, the Tulu chat
 * template, and the `vocab.json`, `merges.txt`, `tokenizer_config.json`,
 * `special_tokens_map.json` and `tokenizer.json` that Hugging Face's GPT-2 tokenizer reads.
 */
export function tokenizerFilesOfCorpus(params: {
  corpus: readonly string[];
  folder: string;
}): Record<string, string> {
  const bpe = trainByteLevelBpe({
    texts: [...params.corpus],
    vocabularySize: 512,
    specialTokens: [microEndOfText, microPadding],
  });
  const special = (content: string) => ({
    content,
    lstrip: false,
    normalized: false,
    rstrip: false,
    single_word: false,
    special: true,
  });
  const tokenizerConfig = {
    add_bos_token: false,
    add_eos_token: false,
    added_tokens_decoder: { "0": special(microEndOfText), "1": special(microPadding) },
    bos_token: microEndOfText,
    eos_token: microEndOfText,
    pad_token: microPadding,
    unk_token: microEndOfText,
    chat_template: builtinChatTemplates.tulu,
    clean_up_tokenization_spaces: false,
    model_max_length: 512,
    tokenizer_class: "GPT2Tokenizer",
  };
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const merges = `#version: 0.2\n${bpe.merges.join("\n")}\n`;
  return {
    [`${params.folder}/vocab.json`]: json(bpe.vocabulary),
    [`${params.folder}/merges.txt`]: merges,
    [`${params.folder}/tokenizer_config.json`]: json(tokenizerConfig),
    [`${params.folder}/special_tokens_map.json`]: json({
      bos_token: microEndOfText,
      eos_token: microEndOfText,
      pad_token: microPadding,
      unk_token: microEndOfText,
    }),
    [`${params.folder}/tokenizer.json`]: json(
      tokenizerJsonFromVocabulary({ vocabulary: bpe.vocabulary, merges, config: tokenizerConfig }),
    ),
  };
}

/** Writes generated files (paths relative to `repositoryRoot`) atomically, file by file. */
export async function writeGeneratedFiles(params: {
  repositoryRoot: string;
  files: GeneratedFiles["files"];
}): Promise<void> {
  for (const [path, content] of Object.entries(params.files)) {
    const target = join(params.repositoryRoot, path);
    mkdirSync(dirname(target), { recursive: true });
    await writeFileAtomic({ path: target, content });
  }
}

export interface GeneratedFiles {
  files: Record<string, Uint8Array | string>;
  counts: Record<string, Record<string, number>>;
}

/**
 * A Hub-style dataset folder's Parquet files in memory: one `folder/<config>/<split>-00000-of-00001.parquet`
 * per config and split of `tables`, and the row counts (for the dataset card).
 */
export function datasetFilesOfTables(params: {
  folder: string;
  tables: Record<string, Record<string, Record<string, unknown>[]>>;
}): GeneratedFiles {
  const files: GeneratedFiles["files"] = {};
  const counts: GeneratedFiles["counts"] = {};
  for (const [config, splits] of Object.entries(params.tables)) {
    counts[config] = {};
    for (const [split, rows] of Object.entries(splits)) {
      files[`${params.folder}/${config}/${split}-00000-of-00001.parquet`] = parquetFileOfRows(rows);
      counts[config][split] = rows.length;
    }
  }
  return { files, counts };
}

/** Builds every file in memory (paths relative to the repository root). */
export function generateMicroFiles(params: { seed: number; sizes?: MicroDataSizes }): GeneratedFiles {
  const sizes = params.sizes ?? defaultMicroDataSizes;
  const root = Random.fromSeed(params.seed).stream(`micro-data-v${microDataVersion}`);
  const testKeys = new Set<string>();
  const none = new Set<string>();
  const draw = (name: string, count: number, excluded: ReadonlySet<string>, taken?: Set<string>) =>
    drawExamples({
      random: root.stream(name),
      count,
      excluded,
      instructionShare: sizes.instructionShare,
      ...(taken === undefined ? {} : { taken }),
    });
  const tests = {
    sft: draw("sft-test", sizes.test, none, testKeys),
    preference: draw("preference-test", sizes.test, none, testKeys),
    rlvr: draw("rlvr-test", sizes.test, none, testKeys),
  };
  const trains = {
    sft: draw("sft-train", sizes.sftTrain, testKeys),
    preference: draw("preference-train", sizes.preferenceTrain, testKeys),
    rlvr: draw("rlvr-train", sizes.rlvrTrain, testKeys),
  };
  // Drawn last, so the train and test splits above are what they were before it existed.
  const trainKeys = new Set(
    [...trains.sft, ...trains.preference, ...trains.rlvr].map((example) => example.problem.key),
  );
  const evaluationKeys = new Set<string>();
  const evaluation = draw(
    "eval-test",
    sizes.evaluation,
    new Set([...testKeys, ...trainKeys]),
    evaluationKeys,
  );
  const evaluationPreference = draw(
    "eval-preference-test",
    sizes.evaluationPreference,
    new Set([...testKeys, ...trainKeys, ...evaluationKeys]),
    new Set(),
  );
  const rejectedRandom = root.stream("preference-rejected");
  const tables: Record<string, Record<string, Record<string, unknown>[]>> = {
    sft: { train: sftRows(trains.sft, "train"), test: sftRows(tests.sft, "test") },
    preference: {
      train: preferenceRows(trains.preference, "train", rejectedRandom.stream("train")),
      test: preferenceRows(tests.preference, "test", rejectedRandom.stream("test")),
    },
    rlvr: { train: rlvrRows(trains.rlvr, "train"), test: rlvrRows(tests.rlvr, "test") },
    eval: { test: rlvrRows(evaluation, "eval") },
    eval_preference: {
      test: preferenceRows(evaluationPreference, "eval", rejectedRandom.stream("eval")),
    },
  };
  const { files, counts } = datasetFilesOfTables({ folder: "datasets/micro", tables });
  files["datasets/micro/README.md"] = datasetCard(counts);

  // The tokenizer: byte-level BPE on the SFT train conversations as the Tulu template renders them.
  const corpus = trains.sft.map(
    (example) => `<|user|>\n${example.prompt}\n<|assistant|>\n${example.answer}${microEndOfText}`,
  );
  Object.assign(files, tokenizerFilesOfCorpus({ corpus, folder: "recipes/micro/tokenizer" }));
  return { files, counts };
}

/** Writes the generated files under `repositoryRoot` (atomically, file by file). */
export async function writeMicroFiles(params: {
  repositoryRoot: string;
  seed: number;
  sizes?: MicroDataSizes;
}) {
  const generated = generateMicroFiles({
    seed: params.seed,
    ...(params.sizes ? { sizes: params.sizes } : {}),
  });
  await writeGeneratedFiles({ repositoryRoot: params.repositoryRoot, files: generated.files });
  return generated;
}

/** The seed the shipped files were generated with. */
export const microDataSeed = 20241121;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const repositoryRoot = fileURLToPath(new URL("../../..", import.meta.url));
  const { counts } = await writeMicroFiles({ repositoryRoot, seed: microDataSeed });
  process.stdout.write(`${JSON.stringify({ written: "datasets/micro, recipes/micro/tokenizer", counts })}\n`);
}
