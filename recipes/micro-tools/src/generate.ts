/**
 * Generates the micro-tools recipe's data and tokenizer, deterministically from one seed:
 *
 * - `datasets/micro-tools/` — laid out like a Hub dataset repo (dataset card with YAML
 *   `configs`, one Parquet file per config and split). The two arms see the same problems:
 *   `sft_tools` / `sft_direct` (the same items, answered with a calculator call or directly),
 *   `rlvr_tools` / `rlvr_direct` (the same prompts and ground truths; the tools arm's prompt
 *   carries the tag format's system paragraph), and the eval-only `eval` config drawn after
 *   all of them and disjoint from every other split.
 * - `recipes/micro-tools/tokenizer/` — a 512-token byte-level BPE (micro's trainer) on both
 *   arms' SFT train conversations without their digits (numbers are spelled digit by digit),
 *   with the Tulu chat template.
 *
 * Run: `node scripts/pnpm.mjs --filter @posttrain-recipes/micro-tools generate` (or `node
 * dist/generate.js`). Running it twice gives byte-identical files (the test checks this).
 */
import { fileURLToPath } from "node:url";
import { Random } from "@posttrain/core";
import {
  datasetFilesOfTables,
  type GeneratedFiles,
  microEndOfText,
  tokenizerFilesOfCorpus,
  writeGeneratedFiles,
} from "@posttrain-recipes/micro";
import {
  type ArithmeticProblem,
  answerDirectly,
  answerWithTool,
  calculatorInstructions,
  drawProblem,
} from "./problems.js";

export const microToolsDataVersion = "1";

/** The seed the shipped files were generated with. */
export const microToolsDataSeed = 20261206;

export interface MicroToolsDataSizes {
  /** SFT train conversations (each arm: the same problems). */
  sftTrain: number;
  /** SFT held-out conversations (the stages' evaluation loss). */
  sftTest: number;
  /** RLVR train prompts (each arm: the same problems). */
  rlvrTrain: number;
  /** Eval-only held-out problems, drawn last, disjoint from everything above. */
  evaluation: number;
}

export const defaultMicroToolsDataSizes: MicroToolsDataSizes = {
  sftTrain: 4000,
  sftTest: 64,
  rlvrTrain: 1000,
  evaluation: 500,
};

type Message = { role: "system" | "user" | "assistant"; content: string };

/** Draws `count` problems whose keys are neither in `excluded` nor drawn before; adds them to `taken`. */
function drawProblems(params: {
  random: Random;
  count: number;
  excluded: ReadonlySet<string>;
  taken: Set<string>;
}): ArithmeticProblem[] {
  const problems: ArithmeticProblem[] = [];
  while (problems.length < params.count) {
    const problem = drawProblem(params.random);
    if (params.excluded.has(problem.key) || params.taken.has(problem.key)) continue;
    params.taken.add(problem.key);
    problems.push(problem);
  }
  return problems;
}

function sftRows(params: { problems: ArithmeticProblem[]; split: string; arm: "tools" | "direct" }) {
  const system = calculatorInstructions;
  return params.problems.map((problem, index) => ({
    id: `micro-tools-sft-${params.split}-${index}`,
    messages: (params.arm === "tools"
      ? [
          { role: "system", content: system },
          { role: "user", content: problem.question },
          { role: "assistant", content: answerWithTool(problem) },
        ]
      : [
          { role: "user", content: problem.question },
          { role: "assistant", content: answerDirectly(problem) },
        ]) satisfies Message[],
    source: problem.kind,
  }));
}

function rlvrRows(params: {
  problems: ArithmeticProblem[];
  split: string;
  arm: "tools" | "direct" | "eval";
}) {
  const system = calculatorInstructions;
  return params.problems.map((problem, index) => ({
    id: `micro-tools-rlvr-${params.split}-${index}`,
    messages: (params.arm === "tools"
      ? [
          { role: "system", content: system },
          { role: "user", content: problem.question },
        ]
      : [{ role: "user", content: problem.question }]) satisfies Message[],
    ground_truth: problem.result,
    dataset: "gsm8k",
    kind: problem.kind,
  }));
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
pretty_name: posttrain micro-tools
size_categories:
- 1K<n<10K
configs:
${configs}
---

# posttrain micro-tools

Synthetic arithmetic that a tiny model cannot compute in its head — the product of two
two-digit numbers (\`47 * 58\`), or the sum of three three-digit numbers (\`387 + 496 + 252\`),
always with a four-digit result — in seven phrasings (bare expressions and short word problems), for the
\`micro-tools\` recipe of posttrain: does a model that learned to call a calculator beat the
same recipe without one?

Generated by \`recipes/micro-tools/src/generate.ts\` (data version ${microToolsDataVersion}, seed ${microToolsDataSeed}); do not edit by hand.

| config | split | rows |
|---|---|---|
${table}

- \`sft_tools\`: \`messages\` = a one-line system paragraph naming the tool (\`${calculatorInstructions}\`,
  what the recipe's eval task with the calculator puts in front of each question), the question, and an answer that calls the
  calculator, \`<calculator>47 * 58</calculator><output>\\n2726\\n</output>\\n2726\`; the
  \`<output>…</output>\\n\` span is what the tool driver appends at inference, and the recipe
  masks it from the SFT loss (\`maskedSpans\`). \`source\`: \`product\` or \`sum\`.
- \`sft_direct\`: the same problems (same ids and order), no system paragraph, answered
  without the tool: \`47 * 58 = 2726\`.
- \`rlvr_tools\` / \`rlvr_direct\`: the same RLVR prompts with and without that system
  paragraph; \`ground_truth\` = the exact result, \`dataset\` = \`gsm8k\` (open-instruct's
  verifier key: the last number of the answer must equal it), \`kind\`.
- \`eval\`: held-out problems in the \`rlvr_direct\` row shape (ids \`micro-tools-rlvr-eval-N\`),
  drawn after every other split and disjoint from all of them (no shared template and
  numbers); an eval task that allows the calculator adds the system paragraph itself.
- Every split is disjoint from every other: a problem's key (template and numbers) appears
  in one split only.
`;
}

export type { GeneratedFiles };

/** Builds every file in memory (paths relative to the repository root). */
export function generateMicroToolsFiles(params: {
  seed: number;
  sizes?: MicroToolsDataSizes;
}): GeneratedFiles {
  const sizes = params.sizes ?? defaultMicroToolsDataSizes;
  const root = Random.fromSeed(params.seed).stream(`micro-tools-data-v${microToolsDataVersion}`);
  const taken = new Set<string>();
  const none = new Set<string>();
  const draw = (name: string, count: number) =>
    drawProblems({ random: root.stream(name), count, excluded: none, taken });
  const sftTest = draw("sft-test", sizes.sftTest);
  const sftTrain = draw("sft-train", sizes.sftTrain);
  const rlvrTrain = draw("rlvr-train", sizes.rlvrTrain);
  // Drawn last: held out from every split above (`taken` holds all their keys).
  const evaluation = draw("eval-test", sizes.evaluation);
  const tables: Record<string, Record<string, Record<string, unknown>[]>> = {
    sft_tools: {
      train: sftRows({ problems: sftTrain, split: "train", arm: "tools" }),
      test: sftRows({ problems: sftTest, split: "test", arm: "tools" }),
    },
    sft_direct: {
      train: sftRows({ problems: sftTrain, split: "train", arm: "direct" }),
      test: sftRows({ problems: sftTest, split: "test", arm: "direct" }),
    },
    rlvr_tools: { train: rlvrRows({ problems: rlvrTrain, split: "train", arm: "tools" }) },
    rlvr_direct: { train: rlvrRows({ problems: rlvrTrain, split: "train", arm: "direct" }) },
    eval: { test: rlvrRows({ problems: evaluation, split: "eval", arm: "eval" }) },
  };
  const { files, counts } = datasetFilesOfTables({ folder: "datasets/micro-tools", tables });
  files["datasets/micro-tools/README.md"] = datasetCard(counts);

  // The tokenizer: byte-level BPE on both arms' SFT train conversations as the Tulu template
  // renders them. A tools conversation is cut where the tool output starts and ends, as the
  // driver tokenizes it (model turn, tool output, model turn), so no merge spans the cut.
  // Digits are left out of the corpus, so no merge contains one: every number is spelled
  // digit by digit (as Llama's tokenizer splits digits), the same in a question, a calculator
  // call, its output and the answer, whatever precedes it. (Tried: digit pairs as tokens —
  // the 0.86M model then copied no number from its context within 300 steps; ten digit
  // tokens it learns to copy far sooner.)
  const system = calculatorInstructions;
  const corpus = sftTrain.flatMap((problem) => {
    const call = `<calculator>${problem.expression}</calculator>`;
    return [
      `<|system|>\n${system}\n<|user|>\n${problem.question}\n<|assistant|>\n${call}`,
      `<output>\n${problem.result}\n</output>\n`,
      `${problem.result}${microEndOfText}`,
      `<|user|>\n${problem.question}\n<|assistant|>\n${answerDirectly(problem)}${microEndOfText}`,
    ].map((text) => text.replace(/[0-9]/g, ""));
  });
  Object.assign(files, tokenizerFilesOfCorpus({ corpus, folder: "recipes/micro-tools/tokenizer" }));
  return { files, counts };
}

/** Writes the generated files under `repositoryRoot` (atomically, file by file). */
export async function writeMicroToolsFiles(params: {
  repositoryRoot: string;
  seed: number;
  sizes?: MicroToolsDataSizes;
}): Promise<GeneratedFiles> {
  const generated = generateMicroToolsFiles({
    seed: params.seed,
    ...(params.sizes === undefined ? {} : { sizes: params.sizes }),
  });
  await writeGeneratedFiles({ repositoryRoot: params.repositoryRoot, files: generated.files });
  return generated;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const repositoryRoot = fileURLToPath(new URL("../../..", import.meta.url));
  const { counts } = await writeMicroToolsFiles({ repositoryRoot, seed: microToolsDataSeed });
  process.stdout.write(
    `${JSON.stringify({ written: "datasets/micro-tools, recipes/micro-tools/tokenizer", counts })}\n`,
  );
}
