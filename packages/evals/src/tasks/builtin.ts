/**
 * The shipped tasks. Settings follow OLMES at the Tulu 3 era (e0d79fd, 2024-11-19) as listed
 * in ../shared/reference/evals.md. Hub revisions are left at `main`: we could not verify
 * commit SHAs offline, so a run needs `posttrain data lock` (which resolves and pins them)
 * or a local `--data` override; nothing here invents a SHA.
 */
import { defineTask, type TaskSpec } from "../task-spec.js";

/** `gsm8k::tulu`: 8-shot chain of thought, chat, prefix "Answer:", greedy, 512 tokens. */
export const gsm8kTask: TaskSpec = defineTask({
  spec: {
    name: "gsm8k",
    version: "1.0.0+olmes-tulu3",
    description: "GSM8K test (1,319), 8-shot Wei et al. chain of thought, OLMES gsm8k::tulu settings",
    olmes: { task: "gsm8k::tulu", era: "tulu3", taskVersion: "0.1" },
    dataset: { kind: "hub", repo: "openai/gsm8k", revision: "main", config: "main", split: "test" },
    localFileName: "gsm8k-test.jsonl",
    rowFormat: "gsm8k",
    prompt: {
      style: "chat",
      template: "Question: {question}",
      assistantPrefix: "Answer:",
      exemplars: "gsm8k_chain_of_thought",
      shots: 8,
    },
    generation: { temperature: 0, maxNewTokens: 512, stop: ["Question:", "</s>", "<|im_end|>"] },
    scoring: { kind: "gsm8k" },
    primaryMetric: "exact_match",
  },
});

const minervaPrompt = {
  style: "chat" as const,
  template: "Problem:\n{question}\n\nSolution:",
  exemplars: "minerva_math",
  shots: 4,
};

/** `minerva_math::tulu`: the 7 hendrycks_math subjects, 4-shot Minerva, flex scoring, macro average. */
export const minervaMathTask: TaskSpec = defineTask({
  spec: {
    name: "minerva_math",
    version: "1.0.0+olmes-tulu3",
    description:
      "MATH test (5,000, 7 subjects), 4-shot Minerva, exact_match_flex macro-averaged over subjects",
    olmes: { task: "minerva_math::tulu", era: "tulu3", taskVersion: "0" },
    dataset: { kind: "hub", repo: "EleutherAI/hendrycks_math", revision: "main", split: "test" },
    rowFormat: "math",
    prompt: minervaPrompt,
    generation: { temperature: 0, maxNewTokens: 1024, stop: [] },
    scoring: { kind: "minerva_math", macroOverSubjects: true },
    primaryMetric: "exact_match_flex",
  },
});

/** `minerva_math_500::tulu`: MATH-500 with the same prompt and scoring (one task, micro average). */
export const math500Task: TaskSpec = defineTask({
  spec: {
    name: "math500",
    version: "1.0.0+olmes-tulu3",
    description: "MATH-500 (500), 4-shot Minerva, exact_match_flex",
    olmes: { task: "minerva_math_500::tulu", era: "tulu3", taskVersion: "0" },
    dataset: { kind: "hub", repo: "HuggingFaceH4/MATH-500", revision: "main", split: "test" },
    localFileName: "math500-test.jsonl",
    rowFormat: "math",
    prompt: minervaPrompt,
    generation: { temperature: 0, maxNewTokens: 1024, stop: [] },
    scoring: { kind: "minerva_math", macroOverSubjects: false },
    primaryMetric: "exact_match_flex",
  },
});

/** `ifeval::tulu`: Google's 541 prompts, zero-shot, 2,048 tokens, strict and loose. */
export const ifevalTask: TaskSpec = defineTask({
  spec: {
    name: "ifeval",
    version: "1.0.0+olmes-tulu3",
    description: "IFEval (541 prompts), prompt- and instruction-level accuracy, strict and loose",
    olmes: { task: "ifeval::tulu", era: "tulu3", taskVersion: "0.1" },
    dataset: { kind: "hub", repo: "HuggingFaceH4/ifeval", revision: "main", split: "train" },
    localFileName: "ifeval-input_data.jsonl",
    rowFormat: "ifeval",
    prompt: { style: "chat", template: "{question}" },
    generation: { temperature: 0, maxNewTokens: 2048, stop: [] },
    scoring: { kind: "ifeval" },
    primaryMetric: "prompt_level_loose_acc",
  },
});

const humanevalAnswerPrefix = "Here is the completed function:\n\n```python\n";

/**
 * `codex_humaneval::tulu`: the user turn is the function prompt followed by the answer
 * prefix; the assistant prefix repeats the answer prefix followed by the function prompt, so
 * the model continues the body (program = prompt + completion). T = 0.8, top-p 0.95, 20
 * samples, 512 tokens, unbiased pass@1 and pass@10.
 */
export const humanevalTask: TaskSpec = defineTask({
  spec: {
    name: "humaneval",
    version: "1.0.0+olmes-tulu3",
    description: "HumanEval (164), 20 samples at T = 0.8, unbiased pass@1 / pass@10",
    olmes: { task: "codex_humaneval::tulu", era: "tulu3", taskVersion: "0.1" },
    dataset: { kind: "hub", repo: "openai/openai_humaneval", revision: "main", split: "test" },
    localFileName: "humaneval.jsonl.gz",
    rowFormat: "humaneval",
    prompt: {
      style: "chat",
      template: `{question}${humanevalAnswerPrefix}`,
      assistantPrefix: `${humanevalAnswerPrefix}{question}`,
    },
    generation: {
      temperature: 0.8,
      topP: 0.95,
      maxNewTokens: 512,
      stop: ["\nclass", "\nif", "\nprint", "\n#", "\n```", "<|eot_id|>"],
      samples: 20,
    },
    scoring: { kind: "humaneval", passAtK: [1, 10], timeoutSeconds: 3 },
    primaryMetric: "pass_at_10",
  },
});

/**
 * A held-out split of a local dataset (open-instruct RLVR rows: `messages`, `ground_truth`,
 * `dataset`) judged by a registered verifier, e.g. the micro recipe's `micro_gsm`. Greedy by
 * default. `verifier` is one verifier for every row, or `"row"`: each row's own `dataset`
 * column names its verifier (a split mixing verifiers). `onlyVerifiers` keeps just the rows
 * whose `dataset` is one of these names (one task per verifier, so each gets its own score).
 */
export function defineHeldOutTask(params: {
  name: string;
  directory: string;
  config?: string;
  split?: string;
  verifier: string;
  onlyVerifiers?: string[];
  version?: string;
  description?: string;
  maxNewTokens?: number;
  stop?: string[];
  /** Sampled decoding (default greedy, one sample): pass@1 is then the mean over the samples. */
  sampling?: { temperature: number; samples: number };
}): TaskSpec {
  const split = params.split ?? "test";
  const verifierText =
    params.verifier === "row" ? "each row's verifier (dataset column)" : `${params.verifier} verifier`;
  const rowsText = params.onlyVerifiers === undefined ? "" : ` (rows of ${params.onlyVerifiers.join(", ")})`;
  return defineTask({
    spec: {
      name: params.name,
      version: params.version ?? "1.0.0",
      description:
        params.description ??
        `held-out ${split} split of ${params.directory}${params.config === undefined ? "" : ` (${params.config})`}${rowsText}, ${verifierText}`,
      olmes: { task: "none", era: "none" },
      dataset: {
        kind: "local",
        directory: params.directory,
        ...(params.config === undefined ? {} : { config: params.config }),
        split,
      },
      rowFormat: "rlvr",
      ...(params.onlyVerifiers === undefined
        ? {}
        : { rowFilter: { column: "dataset", values: params.onlyVerifiers } }),
      prompt: { style: "chat" },
      generation: {
        temperature: params.sampling?.temperature ?? 0,
        maxNewTokens: params.maxNewTokens ?? 512,
        stop: params.stop ?? [],
        ...(params.sampling === undefined ? {} : { samples: params.sampling.samples }),
      },
      scoring: {
        kind: "verifier",
        verifier: params.verifier === "row" ? { fromColumn: "dataset" } : params.verifier,
      },
      primaryMetric: "accuracy",
    },
  });
}

/**
 * The micro recipe's tasks, as `@posttrain-recipes/micro` 0.4.0 declares them (paths relative
 * to the working directory): its `eval` config (1,021 gsm8k and 312 ifeval held-out rows,
 * disjoint from every train and test split), one task per verifier, greedy; the same gsm8k
 * rows scored as pass@1 from 4 samples at temperature 0.7; and 1,000 held-out preference pairs
 * (`eval_preference`, drawn like `eval`). 3.0.0: the `eval` config (2.0.0 read the 200-row `rlvr` test split) and 64 new tokens,
 * as the recipe.
 */
export const microGsmTask: TaskSpec = defineHeldOutTask({
  name: "micro_gsm",
  directory: "datasets/micro",
  config: "eval",
  verifier: "gsm8k",
  onlyVerifiers: ["gsm8k"],
  version: "3.0.0",
  maxNewTokens: 64,
});
export const microGsmSampledTask: TaskSpec = defineHeldOutTask({
  name: "micro_gsm_sampled",
  directory: "datasets/micro",
  config: "eval",
  verifier: "gsm8k",
  onlyVerifiers: ["gsm8k"],
  version: "1.0.0",
  maxNewTokens: 64,
  sampling: { temperature: 0.7, samples: 4 },
});
export const microIfevalTask: TaskSpec = defineHeldOutTask({
  name: "micro_ifeval",
  directory: "datasets/micro",
  config: "eval",
  verifier: "ifeval",
  onlyVerifiers: ["ifeval"],
  version: "3.0.0",
  maxNewTokens: 64,
});
export const microPreferenceTask: TaskSpec = defineTask({
  spec: {
    name: "micro_preference",
    version: "1.0.0",
    description:
      "held-out preference pairs of datasets/micro (eval_preference config, 1,000 pairs): the chosen reply is more likely than the rejected one",
    olmes: { task: "none", era: "none" },
    dataset: { kind: "local", directory: "datasets/micro", config: "eval_preference", split: "test" },
    rowFormat: "preference",
    prompt: { style: "chat" },
    generation: { temperature: 0, maxNewTokens: 1, stop: [] },
    scoring: { kind: "preference" },
    primaryMetric: "accuracy",
  },
});

export const builtinTasks: readonly TaskSpec[] = [
  gsm8kTask,
  minervaMathTask,
  math500Task,
  ifevalTask,
  humanevalTask,
  microGsmTask,
  microGsmSampledTask,
  microIfevalTask,
  microPreferenceTask,
];
