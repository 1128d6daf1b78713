import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { output } from "../command.js";
import { UsageError } from "../usage-error.js";

/** The files of a new recipe package (`recipes/<name>`), with its first changeset. */
export function scaffoldFiles(params: { name: string }): Record<string, string> {
  const { name } = params;
  const packageName = `@posttrain-recipes/${name}`;
  return {
    "package.json": `${JSON.stringify(
      {
        name: packageName,
        version: "0.0.0",
        description: `The ${name} recipe.`,
        license: "Apache-2.0",
        type: "module",
        sideEffects: false,
        exports: {
          ".": {
            "@posttrain/source": "./src/recipe.ts",
            types: "./dist/recipe.d.ts",
            default: "./dist/recipe.js",
          },
          "./package.json": "./package.json",
        },
        // The tokenizer and data live in the package, so publishing ships them.
        files: [
          "dist",
          "!dist/**/*.test.*",
          "!dist/.tsbuildinfo",
          "tokenizer",
          "datasets",
          "recipe.lock.json",
          "recipe.smoke.lock.json",
          "README.md",
          "CHANGELOG.md",
        ],
        scripts: { build: "tsc -b", typecheck: "tsc -b", test: "vitest run" },
        dependencies: { "@posttrain/recipe": "workspace:^" },
        publishConfig: { access: "public" },
      },
      null,
      2,
    )}\n`,
    "tsconfig.json": `${JSON.stringify(
      {
        extends: "../../tsconfig.base.json",
        compilerOptions: { rootDir: "src", outDir: "dist", tsBuildInfoFile: "dist/.tsbuildinfo" },
        include: ["src"],
        references: [{ path: "../../packages/recipe" }],
      },
      null,
      2,
    )}\n`,
    "vitest.config.ts": 'export { default } from "../../vitest.shared.js";\n',
    "README.md": `# ${packageName}

Describe the recipe: base model, stages, data, evals and where the expected numbers come from.

The scaffold starts from the micro recipe's 512-token tokenizer (\`tokenizer/\`) and a copy of
its synthetic data (\`datasets/sft\`, \`datasets/rlvr\`), inside this package so that publishing
ships them. Replace them with your own; paths in \`src/recipe.ts\` are relative to this folder.

The \`smoke\` variant trains a few steps and evaluates a few items: its expected row only checks
that the pipeline runs end to end and produces an accuracy (any value in [0, 1]). Put measured
numbers with honest tolerances in the full recipe's \`expected\` table.

From the repository root:

\`\`\`sh
npx tsc -b recipes/${name}                 # build (after pnpm install)
npx posttrain run recipes/${name} --smoke  # a few steps: expected table: PASS
npx posttrain plan recipes/${name}
npx posttrain lock recipes/${name}
npx posttrain run recipes/${name}
\`\`\`
`,
    "src/recipe.ts": `/** The ${name} recipe (see docs/recipe-format.md for every field). */
import { defineRecipe, packageVersionOf } from "@posttrain/recipe";

export const recipe = defineRecipe({
  name: "${name}",
  // One version: the package.json version (0.0.0 until the first changeset bumps it) is the recipe's.
  version: packageVersionOf({ moduleUrl: import.meta.url }),
  description: "TODO: what this recipe trains and why.",
  seed: 1,
  model: {
    kind: "initialize",
    config: {
      vocab_size: 512,
      hidden_size: 64,
      intermediate_size: 192,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      tie_word_embeddings: true,
    },
    seed: 1,
  },
  // Inside this package (copied from the micro recipe by \`posttrain new recipe\`), so it is published with it.
  tokenizer: { source: { kind: "local", directory: "tokenizer" }, chatTemplate: "tulu", addBos: false },
  verifiers: ["gsm8k"],
  stages: [
    {
      name: "sft",
      type: "sft",
      data: {
        train: [
          { kind: "local", directory: "datasets", config: "sft", split: "train", amount: { rows: 800 } },
        ],
        maxLength: 128,
      },
      hyperparameters: {
        seed: 1,
        batch: { devices: 1, perDeviceBatchSize: 8, gradientAccumulationSteps: 1 },
        reduction: "sum",
        duration: { steps: 100 },
        learningRate: { peak: 1e-3, schedule: "linear", warmup: { ratio: 0.1 } },
        adamW: { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0 },
        maxGradientNorm: 1,
        checkpointEverySteps: 25,
        evaluation: null,
        lossChunks: 1,
        threads: 2,
      },
    },
  ],
  evals: {
    name: "${name.replace(/-/g, "_")}",
    version: "1.0.0",
    tasks: [
      {
        name: "${name.replace(/-/g, "_")}_heldout",
        version: "1.0.0",
        olmes: { task: "none", era: "none" },
        dataset: { kind: "local", directory: "datasets", config: "rlvr", split: "test" },
        rowFormat: "rlvr",
        // The split mixes gsm8k and ifeval rows (its \`dataset\` column names each row's verifier):
        // the gsm8k verifier only sees the rows whose gold answer is a number.
        rowFilter: { column: "dataset", values: ["gsm8k"] },
        prompt: { style: "chat" },
        generation: { temperature: 0, maxNewTokens: 32, stop: [] },
        scoring: { kind: "verifier", verifier: "gsm8k" },
        primaryMetric: "accuracy",
      },
    ],
    limit: 20,
  },
  // Measured numbers with their tolerances go here (docs/recipe-format.md, "expected").
  expected: [],
  variants: {
    smoke: {
      stages: [
        {
          name: "sft",
          data: {
            train: [
              { kind: "local", directory: "datasets", config: "sft", split: "train", amount: { rows: 64 } },
            ],
          },
          hyperparameters: { duration: { $replace: { steps: 3 } }, checkpointEverySteps: 3 },
        },
      ],
      evals: { limit: 4 },
      // A pipeline check, not a quality bar: the smoke run evaluates and reports an accuracy.
      expected: [
        {
          after: "sft",
          task: "${name.replace(/-/g, "_")}_heldout",
          metric: "accuracy",
          value: 0.5,
          tolerance: 0.5,
          source: "smoke pipeline check: any accuracy in [0, 1]; replace with measured numbers",
        },
      ],
    },
  },
});

export default recipe;
`,
  };
}

/** What a scaffold copies from its starter recipe (default: the micro recipe). */
const starterParts = [
  { from: "tokenizer", to: "tokenizer" },
  { from: "datasets/sft", to: "datasets/sft" },
  { from: "datasets/rlvr", to: "datasets/rlvr" },
  { from: "datasets/README.md", to: "datasets/README.md", optional: true },
] as const;

/**
 * Writes recipes/<name> with its tokenizer and data copied from `starter` (links followed),
 * in a temporary folder renamed into place at the end: a failure leaves nothing behind.
 */
export async function scaffoldRecipe(params: {
  root: string;
  name: string;
  starter: string;
}): Promise<string[]> {
  const directory = join(params.root, "recipes", params.name);
  for (const part of starterParts)
    if (!("optional" in part) && !existsSync(join(params.starter, part.from)))
      throw new UsageError(
        `the starter recipe ${params.starter} has no ${part.from}: pass --from <recipe folder> with tokenizer/ and datasets/{sft,rlvr}`,
      );
  await mkdir(join(params.root, "recipes"), { recursive: true });
  const staging = await mkdtemp(join(params.root, "recipes", `.${params.name}-`));
  try {
    for (const [path, content] of Object.entries(scaffoldFiles({ name: params.name }))) {
      await mkdir(dirname(join(staging, path)), { recursive: true });
      await writeFile(join(staging, path), content, { flag: "wx" });
    }
    for (const part of starterParts) {
      if (!existsSync(join(params.starter, part.from))) continue;
      await cp(join(params.starter, part.from), join(staging, part.to), {
        recursive: true,
        dereference: true,
      });
    }
    await rename(staging, directory);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const written: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else written.push(path);
    }
  };
  await walk(directory);
  return written.sort();
}

export function register(program: Command): void {
  const create = program.command("new").description("scaffold new things");
  create
    .command("recipe")
    .description(
      "scaffold a recipe package recipes/<name> (@posttrain-recipes/<name>) with its own tokenizer and data, a smoke variant and a first changeset",
    )
    .argument("<name>", "lowercase letters, digits and dashes")
    .option("--root <directory>", "the repository root", ".")
    .option(
      "--from <recipe>",
      "the recipe folder whose tokenizer/ and datasets/{sft,rlvr} are copied (default: <root>/recipes/micro)",
    )
    .option("--json", "print the written files as JSON")
    .action(async (name: string, options: { root: string; from?: string; json?: boolean }) => {
      if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
        throw new UsageError(`recipe name "${name}": use lowercase letters, digits and dashes`);
      const root = resolve(options.root);
      const directory = join(root, "recipes", name);
      if (existsSync(directory)) throw new UsageError(`${directory} already exists`);
      const changeset = join(root, ".changeset", `new-recipe-${name}.md`);
      if (existsSync(changeset)) throw new UsageError(`${changeset} already exists`);
      const starter = resolve(options.from ?? join(root, "recipes", "micro"));
      const written = await scaffoldRecipe({ root, name, starter });
      await mkdir(join(root, ".changeset"), { recursive: true });
      await writeFile(changeset, `---\n"@posttrain-recipes/${name}": minor\n---\n\nNew recipe: ${name}.\n`, {
        flag: "wx",
      });
      written.push(changeset);
      const relativeDirectory = relative(process.cwd(), directory) || ".";
      output({
        json: options.json,
        value: { directory, files: written },
        human: () =>
          [
            `created ${directory}`,
            ...written.map((path) => `  ${path}`),
            "next:",
            `  1. add { "path": "recipes/${name}" } to the root tsconfig.json references, then run pnpm install (node scripts/pnpm.mjs install)`,
            `  2. build it: npx tsc -b ${relativeDirectory}`,
            // `npx posttrain` (the checkout's root bin): nothing puts a bare `posttrain` on the PATH.
            `  3. try it: npx posttrain run ${relativeDirectory} --smoke   (a few steps; ends with expected table: PASS)`,
            `  4. edit src/recipe.ts (model, data, stages, evals), rebuild, then npx posttrain lock ${relativeDirectory} and npx posttrain run ${relativeDirectory}`,
          ].join("\n"),
      });
    });
}
