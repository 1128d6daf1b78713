// Commands in the docs that scripts/docs-smoke.test.ts does not run, each with why. The test
// still checks each one (a `posttrain` line's commands and flags, an npm script's name, a
// file's existence), and fails when an entry is no longer in any doc.
export type SkipReason =
  /** Needs the Hugging Face Hub (unreachable offline and in CI). */
  | "hub"
  /** Needs a GPU, a GPU inference server or a GPU cluster (Slurm, Ray, vLLM, SGLang). */
  | "gpu"
  /** Minutes of CPU, or the whole suite; another test or CI runs it. */
  | "expensive"
  /** Changes the checkout or the installed tree (install, build, release, relink). */
  | "changes-checkout"
  /** Needs a package registry holding a published release. */
  | "registry"
  /** Starts a server that runs until stopped (or needs one running). */
  | "server";

export interface SkippedCommand {
  /** The command exactly as the docs write it (on one line, comments removed). */
  command: string;
  reason: SkipReason;
  why: string;
}

export const skippedCommands: readonly SkippedCommand[] = [
  {
    command: "npm start",
    reason: "expensive",
    why: "the main job: installs, builds and trains the micro recipe for about 3 minutes (recipes/micro's tests run its smoke variant)",
  },
  {
    command: "npm test",
    reason: "expensive",
    why: "the whole test suite, this test included",
  },
  {
    command: "posttrain run recipes/micro",
    reason: "expensive",
    why: "the full micro run, about 3 minutes on 2 cores (what `npm start` runs)",
  },
  {
    command: "posttrain run recipes/micro --seeds 5",
    reason: "expensive",
    why: "five full micro runs, about 15 minutes on 2 cores (how the micro expected table was recorded)",
  },
  {
    command: "posttrain run recipes/micro --smoke",
    reason: "expensive",
    why: "about 25 s; recipes/micro's own tests run the smoke variant",
  },
  {
    command:
      "npx posttrain reproduce @posttrain-recipes/micro@$(node -p 'require(\"./recipes/micro/package.json\").version') --smoke",
    reason: "expensive",
    why: "a smoke run, about 27 s; scripts/publish-flow.test.ts runs `reproduce --smoke` of the installed package",
  },
  {
    command: "posttrain run recipes/micro-tools",
    reason: "expensive",
    why: "the full micro-tools run (tools arm: 2,500 SFT steps, 60 RLVR steps with the calculator, evals), 4 min 18 s alone on 2 cores; recipes/micro-tools' tests run its smoke variant",
  },
  {
    command: "posttrain run recipes/micro-tools --variant no-tools",
    reason: "expensive",
    why: "the full micro-tools run of the no-tools arm, about 4 minutes on 2 cores",
  },
  {
    command: "posttrain run recipes/micro-tools --seeds 5",
    reason: "expensive",
    why: "five full micro-tools runs, about 22 minutes alone on 2 cores (how the micro-tools expected table was recorded)",
  },
  {
    command: "posttrain run recipes/micro-tools --variant no-tools --seeds 5",
    reason: "expensive",
    why: "five full runs of the no-tools arm, about 20 minutes alone on 2 cores",
  },
  {
    command:
      "node recipes/micro-tools/dist/compare-arms.js --tools TOOLS_SEEDS_RUN --no-tools NO_TOOLS_SEEDS_RUN",
    reason: "expensive",
    why: "needs the two five-seed runs above; recipes/micro-tools' compare-arms test runs it on recorded summaries",
  },
  {
    command: "posttrain run recipes/micro-tools --smoke",
    reason: "expensive",
    why: "about 25 s; recipes/micro-tools' determinism test runs the smoke variant twice",
  },
  {
    command:
      "node scripts/pnpm.mjs --filter @posttrain-recipes/micro-tools build && node scripts/pnpm.mjs --filter @posttrain-recipes/micro-tools generate",
    reason: "changes-checkout",
    why: "rewrites the shipped micro-tools datasets and tokenizer; recipes/micro-tools' generate test checks they are what the generator produces",
  },
  {
    command: "node scripts/pnpm.mjs bench:engine",
    reason: "expensive",
    why: "a benchmark (minutes, needs PyTorch); results in bench/RESULTS.md",
  },
  {
    command: "npm run bench:engine",
    reason: "expensive",
    why: "a benchmark (minutes, needs PyTorch); results in bench/RESULTS.md",
  },
  {
    command: "npm run bench:peak",
    reason: "expensive",
    why: "a benchmark (a minute, needs PyTorch): the machine's GEMM peak; results in bench/RESULTS.md",
  },
  {
    command: "npm run bench:serve",
    reason: "expensive",
    why: "a benchmark (minutes); results in bench/RESULTS.md",
  },
  {
    command: "npm run bench:verifiers",
    reason: "expensive",
    why: "a benchmark (minutes); results in bench/RESULTS.md",
  },
  {
    command: "node bench/dist/serve/attacks.js",
    reason: "expensive",
    why: "a benchmark of the server's admission limits; packages/evals' serve tests check the same rejections",
  },
  {
    command: "node bench/dist/verifiers/main.js --verifiers=math,math_flex,strict_math",
    reason: "expensive",
    why: "a benchmark (minutes); results in bench/RESULTS.md",
  },
  {
    command: "node scripts/pnpm.mjs lint",
    reason: "expensive",
    why: "biome over the whole repository; CI (.ci/run) runs it after `npm test`",
  },
  {
    command: "node scripts/pnpm.mjs typecheck",
    reason: "expensive",
    why: "tsc -b over every package; CI (.ci/run) runs it after `npm test`",
  },
  {
    command: "node scripts/setup.mjs",
    reason: "changes-checkout",
    why: "installs and builds (what `npm test` did before this test ran)",
  },
  {
    command: "node scripts/pnpm.mjs install",
    reason: "changes-checkout",
    why: "rewrites node_modules (what `npm test` did before this test ran)",
  },
  {
    command: "node scripts/pnpm.mjs build",
    reason: "changes-checkout",
    why: "rebuilds every dist/ (what `npm test` did before this test ran)",
  },
  {
    command: "node scripts/pnpm.mjs changeset",
    reason: "changes-checkout",
    why: "interactive; writes a changeset into .changeset/",
  },
  {
    command: "node scripts/pnpm.mjs version-packages",
    reason: "changes-checkout",
    why: "bumps versions and rewrites CHANGELOGs and locks; scripts/publish-flow.test.ts runs it in a copy",
  },
  {
    command: "node scripts/pnpm.mjs release",
    reason: "registry",
    why: "publishes to a registry; scripts/publish-flow.test.ts runs it against a local verdaccio",
  },
  {
    command: "node recipes/micro/dist/package-datasets.js link",
    reason: "changes-checkout",
    why: "replaces recipes/micro/datasets; recipes/micro's package-datasets test covers it",
  },
  {
    command:
      "node scripts/pnpm.mjs --filter @posttrain-recipes/micro build && node scripts/pnpm.mjs --filter @posttrain-recipes/micro generate",
    reason: "changes-checkout",
    why: "rewrites the shipped micro datasets; recipes/micro's generate test checks they are what the generator produces",
  },
  {
    command: "npm install @posttrain-recipes/micro @posttrain/cli --ignore-scripts",
    reason: "registry",
    why: "needs a published release; scripts/publish-flow.test.ts does it against a local verdaccio",
  },
  {
    command:
      "npx posttrain reproduce @posttrain-recipes/micro@$(node -p 'require(\"@posttrain-recipes/micro/package.json\").version') --smoke",
    reason: "registry",
    why: "runs in a folder where the release was installed; scripts/publish-flow.test.ts does it against a local verdaccio",
  },
  {
    command: "npm install @posttrain/cli --ignore-scripts",
    reason: "registry",
    why: "needs a published release; scripts/publish-flow.test.ts installs the CLI from a local verdaccio",
  },
  {
    command: "npm install --ignore-scripts",
    reason: "registry",
    why: "part of the publish flow's description; scripts/publish-flow.test.ts runs it",
  },
  {
    command: "posttrain lock recipes/tulu3-8b",
    reason: "hub",
    why: "resolves every `main` on the Hub",
  },
  {
    command: "posttrain lock @posttrain-recipes/tulu3-8b",
    reason: "hub",
    why: "resolves every `main` on the Hub",
  },
  {
    command:
      "posttrain export recipes/tulu3-8b --engine open-instruct --out tulu3-bundle --partition gpu --time 48:00:00",
    reason: "hub",
    why: "materialises the pinned data, which needs the recipe's lock (from the Hub); packages/export's tests write bundles from fixtures",
  },
  {
    command:
      "posttrain push output/rlvr --repo me/tulu3-8b-repro --recipe recipes/tulu3-8b --stage rlvr --results evals/",
    reason: "hub",
    why: "uploads to the Hub",
  },
  {
    command: "posttrain run @posttrain-recipes/tulu3-8b",
    reason: "gpu",
    why: "Tulu 3 8B at full scale (64 GPUs for SFT)",
  },
  {
    command: "posttrain reproduce recipes/tulu3-8b --results evals/",
    reason: "gpu",
    why: "compares the eval results of a GPU run made elsewhere",
  },
  {
    command: "cd tulu3-bundle && bash setup.sh",
    reason: "gpu",
    why: "sets up open-instruct on a GPU cluster (clones from GitHub)",
  },
  {
    command: "export OPEN_INSTRUCT_DIR=$PWD/open-instruct HF_TOKEN=...",
    reason: "gpu",
    why: "a GPU cluster's shell set-up",
  },
  {
    command: "sbatch slurm/sft.sbatch",
    reason: "gpu",
    why: "Slurm on a GPU cluster",
  },
  {
    command: "export RAY_ADDRESS=http://head:8265",
    reason: "gpu",
    why: "a Ray cluster's address",
  },
  {
    command: "posttrain jobs status tulu3-rlvr",
    reason: "gpu",
    why: "a Ray cluster (packages/cli's jobs tests use a fake Ray API)",
  },
  {
    command: "posttrain jobs logs tulu3-rlvr --follow",
    reason: "gpu",
    why: "a Ray cluster (packages/cli's jobs tests use a fake Ray API)",
  },
  {
    command: "posttrain jobs stop tulu3-rlvr",
    reason: "gpu",
    why: "a Ray cluster (packages/cli's jobs tests use a fake Ray API)",
  },
  {
    command: "posttrain jobs list",
    reason: "gpu",
    why: "a Ray cluster (packages/cli's jobs tests use a fake Ray API)",
  },
  {
    command: "vllm serve allenai/Llama-3.1-Tulu-3-8B --port 8000",
    reason: "gpu",
    why: "vLLM on a GPU host",
  },
  {
    command:
      "posttrain eval --suite tulu3_dev --endpoint http://gpu-host:8000 --served-model allenai/Llama-3.1-Tulu-3-8B --output evals/rlvr",
    reason: "gpu",
    why: "an 8B model served on a GPU host",
  },
  {
    command: "python -m sglang.launch_server --model-path /shared/policy-init --port 30000",
    reason: "gpu",
    why: "SGLang on a GPU host",
  },
  {
    command: "VLLM_SERVER_DEV_MODE=1 vllm serve /shared/policy --port 8000",
    reason: "gpu",
    why: "vLLM on a GPU host",
  },
  {
    command:
      "posttrain train rlvr --config rlvr.json --generation-server sglang --generation-url http://gpu-host:30000",
    reason: "gpu",
    why: "rollouts from a generation server on a GPU host (packages/cli's train-remote test runs it against `posttrain serve`)",
  },
  {
    command:
      "posttrain train rlvr --config rlvr.json --generation-server vllm --generation-url http://gpu-host:8000 --generation-weights-directory /shared/policy",
    reason: "gpu",
    why: "rollouts from vLLM on a GPU host (packages/cli's train-remote test runs it against `posttrain serve`)",
  },
  {
    command:
      "posttrain serve --model /shared/policy-init --port 30000 --enable-weight-updates --weight-updates-root /shared",
    reason: "server",
    why: "a server that runs until stopped, on a cluster's shared folder (packages/cli's train-remote test starts it)",
  },
  {
    command: "export POSTTRAIN_WEIGHT_UPDATE_TOKEN=$(openssl rand -hex 24)",
    reason: "server",
    why: "the token for the server started next",
  },
  {
    command:
      "posttrain serve --model runs/init/model --port 30000 --enable-weight-updates --weight-updates-root runs",
    reason: "server",
    why: "a server that runs until stopped, for the trainer started next (packages/cli's train-remote test does both)",
  },
  {
    command:
      "posttrain train rlvr --config rlvr.json --generation-server sglang --generation-url http://127.0.0.1:30000",
    reason: "server",
    why: "needs the server above running (packages/cli's train-remote test does both)",
  },
];
