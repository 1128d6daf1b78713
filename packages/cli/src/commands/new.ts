import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
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
        files: ["dist", "!dist/**/*.test.*", "recipe.lock.json", "README.md", "CHANGELOG.md"],
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
    "README.md": `# ${packageName}\n\nDescribe the recipe: base model, stages, data, evals and where the expected numbers come from.\n\n\`\`\`sh\nposttrain plan recipes/${name}\nposttrain lock recipes/${name}\nposttrain run recipes/${name}\n\`\`\`\n`,
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
    config: { vocab_size: 512, hidden_size: 64, intermediate_size: 192, num_hidden_layers: 2, num_attention_heads: 4, tie_word_embeddings: true },
    seed: 1,
  },
  tokenizer: { source: { kind: "local", directory: "../micro/tokenizer" }, chatTemplate: "tulu", addBos: false },
  verifiers: ["gsm8k"],
  stages: [
    {
      name: "sft",
      type: "sft",
      data: { train: [{ kind: "local", directory: "../../datasets/micro", config: "sft", split: "train" }], maxLength: 128 },
      hyperparameters: {
        seed: 1,
        batch: { devices: 1, perDeviceBatchSize: 8, gradientAccumulationSteps: 1 },
        reduction: "sum",
        duration: { steps: 10 },
        learningRate: { peak: 1e-3, schedule: "linear", warmup: { ratio: 0.1 } },
        adamW: { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0 },
        maxGradientNorm: 1,
        checkpointEverySteps: 10,
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
        dataset: { kind: "local", directory: "../../datasets/micro", config: "rlvr", split: "test" },
        rowFormat: "rlvr",
        prompt: { style: "chat" },
        generation: { temperature: 0, maxNewTokens: 64, stop: [] },
        scoring: { kind: "verifier", verifier: "gsm8k" },
        primaryMetric: "accuracy",
      },
    ],
    limit: 20,
  },
  expected: [],
});

export default recipe;
`,
  };
}

export function register(program: Command): void {
  const create = program.command("new").description("scaffold new things");
  create
    .command("recipe")
    .description(
      "scaffold a recipe package recipes/<name> (@posttrain-recipes/<name>) with a first changeset",
    )
    .argument("<name>", "lowercase letters, digits and dashes")
    .option("--root <directory>", "the repository root", ".")
    .option("--json", "print the written files as JSON")
    .action(async (name: string, options: { root: string; json?: boolean }) => {
      if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
        throw new UsageError(`recipe name "${name}": use lowercase letters, digits and dashes`);
      const root = resolve(options.root);
      const directory = join(root, "recipes", name);
      if (existsSync(directory)) throw new UsageError(`${directory} already exists`);
      const files = scaffoldFiles({ name });
      const changeset = join(root, ".changeset", `new-recipe-${name}.md`);
      const written: string[] = [];
      for (const [path, content] of Object.entries(files)) {
        const target = join(directory, path);
        await mkdir(join(target, ".."), { recursive: true });
        await writeFile(target, content, { flag: "wx" });
        written.push(target);
      }
      await mkdir(join(root, ".changeset"), { recursive: true });
      await writeFile(changeset, `---\n"@posttrain-recipes/${name}": minor\n---\n\nNew recipe: ${name}.\n`, {
        flag: "wx",
      });
      written.push(changeset);
      output({
        json: options.json,
        value: { directory, files: written },
        human: () =>
          [
            `created ${directory}`,
            ...written.map((path) => `  ${path}`),
            "next: add it to the root tsconfig.json references, run pnpm install, edit src/recipe.ts, then `posttrain lock recipes/" +
              `${name}\``,
          ].join("\n"),
      });
    });
}
