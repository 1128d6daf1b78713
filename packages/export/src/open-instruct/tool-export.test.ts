/**
 * A tool-use RLVR stage (issue 19) exported to grpo_fast.py's tool flags at open-instruct
 * e6c3044 (EnvsConfig): every argv parses against that commit's dataclasses, each setting maps
 * to its flag, and what open-instruct cannot express (the calculator, a per-call cost, the
 * python tool's server URL when missing, an older commit) fails naming the recipe field.
 */
import { PosttrainError } from "@posttrain/core";
import type { LoadedRecipe, Recipe } from "@posttrain/recipe";
import { recipe as olmo2 } from "@posttrain-recipes/olmo2-1b-instruct";
import { describe, expect, it } from "vitest";
import { previewOpenInstructExport } from "./bundle.js";
import { argumentGroups, validateArguments } from "./flag-validation.js";
import type { StageCommandOptions } from "./translate-support.js";

type ToolsInput = Record<string, unknown>;

/** olmo2's rlvr-math stage with `tools` (and no pinned commit: the export picks one). */
function withTools(params: { tools: ToolsInput; toolCallCost?: number }): LoadedRecipe {
  const recipe = {
    ...olmo2,
    referenceImplementation: undefined,
    stages: olmo2.stages.map((stage) =>
      stage.name === "rlvr-math" && stage.type === "rlvr"
        ? {
            ...stage,
            hyperparameters: {
              ...stage.hyperparameters,
              monitor: null,
              // Whole 8-GPU nodes (the published run used 12 learner GPUs on the Ray script).
              batch: {
                devices: 8,
                perDeviceBatchSize: 8,
                gradientAccumulationSteps: 6,
                effectiveBatchSize: 384,
              },
              rewards: { ...stage.hyperparameters.rewards, toolCallCost: params.toolCallCost ?? 0 },
              tools: {
                format: "tags",
                maxToolCalls: 5,
                timeoutMilliseconds: 3000,
                maxOutputCharacters: 4000,
                concurrency: 4,
                ...params.tools,
              },
            },
          }
        : stage,
    ),
  } as unknown as Recipe;
  return {
    recipe,
    packageDirectory: "/nonexistent",
    modulePath: "/nonexistent/recipe.js",
    packageName: "@posttrain-recipes/olmo2-1b-instruct",
    packageVersion: recipe.version,
    variant: null,
  };
}

const endpoint = "http://tool-server:1212/execute";
const options: StageCommandOptions = { toolEndpoints: { python: endpoint } };

const preview = (loaded: LoadedRecipe, extra: { commit?: string; options?: StageCommandOptions } = {}) =>
  previewOpenInstructExport({ loaded, stages: ["rlvr-math"], options: extra.options ?? options, ...extra });

const values = (argv: readonly string[], flag: string) =>
  argumentGroups(argv).find((group) => group.flag === flag)?.values;

/** The export error's fields (or a failure when it did not throw). */
function refusedFields(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(PosttrainError.hasCode(error, "export_unsupported"), String(error)).toBe(true);
    return (error as PosttrainError).details?.fields as string[];
  }
  throw new Error("the export was not refused");
}

describe("open-instruct export of a tool-use RLVR stage", () => {
  it("maps the tag format and its limits to grpo_fast.py's EnvsConfig flags at e6c3044", () => {
    const { commit, commands } = preview(
      withTools({ tools: { allow: ["python"], callNames: { code: "python" }, maxTotalTokens: 4096 } }),
    );
    expect(commit.commit).toBe("e6c3044");
    const [rlvr] = commands;
    expect(rlvr!.script).toBe("open_instruct/grpo_fast.py");
    expect(
      validateArguments({ commit: "e6c3044", script: rlvr!.script, arguments: rlvr!.arguments }),
    ).toEqual([]);
    const argv = rlvr!.arguments;
    expect(values(argv, "--tools")).toEqual(["python"]);
    expect(values(argv, "--tool_call_names")).toEqual(["code"]);
    expect(JSON.parse(values(argv, "--tool_configs")![0]!)).toEqual({ api_endpoint: endpoint, timeout: 3 });
    expect(values(argv, "--tool_parser_type")).toEqual(["legacy"]);
    expect(values(argv, "--pass_tools_to_chat_template")).toEqual(["False"]);
    expect(values(argv, "--max_steps")).toEqual(["5"]);
    expect(values(argv, "--pool_size")).toEqual(["4"]);
    expect(values(argv, "--mask_tool_use")).toEqual(["True"]);
    // The whole response (model turns + tool output) and each turn are bounded separately.
    expect(values(argv, "--response_length")).toEqual(["4096"]);
    const stage = olmo2.stages.find((candidate) => candidate.name === "rlvr-math")!;
    if (stage.type !== "rlvr") throw new Error("rlvr stage");
    expect(values(argv, "--per_turn_max_tokens")).toEqual([
      String(stage.hyperparameters.rollouts.maxNewTokens),
    ]);
    expect(values(argv, "--pack_length")).toEqual([String(stage.data.maxLength + 4096)]);
    // k3 is index 2 of model_utils.estimate_kl at this commit.
    expect(values(argv, "--kl_estimator")).toEqual([stage.hyperparameters.kl.estimator === "k3" ? "2" : "?"]);
    expect(rlvr!.omitted.map((entry) => entry.field)).toContain(
      "stages[3].hyperparameters.tools.maxOutputCharacters",
    );
  });

  it("maps the chat-template format to the vllm_hermes parser with the tools passed to the template", () => {
    const { commands } = preview(
      withTools({ tools: { allow: ["python"], format: "chat_template", timeoutMilliseconds: 2500 } }),
    );
    const argv = commands[0]!.arguments;
    expect(values(argv, "--tool_parser_type")).toEqual(["vllm_hermes"]);
    expect(values(argv, "--pass_tools_to_chat_template")).toEqual(["True"]);
    expect(values(argv, "--tool_call_names")).toEqual(["python"]);
    // Whole seconds only: 2.5 s is written as 3 s, with a note.
    expect(JSON.parse(values(argv, "--tool_configs")![0]!).timeout).toBe(3);
    expect(commands[0]!.omitted.map((entry) => entry.field)).toContain(
      "stages[3].hyperparameters.tools.timeoutMilliseconds",
    );
    expect(values(argv, "--per_turn_max_tokens")).toBeUndefined();
  });

  it("refuses what open-instruct cannot express, naming the field", () => {
    expect(refusedFields(() => preview(withTools({ tools: { allow: ["calculator"] } })))).toContain(
      "stages[3].hyperparameters.tools.allow",
    );
    expect(
      refusedFields(() => preview(withTools({ tools: { allow: ["python"] }, toolCallCost: 0.1 }))),
    ).toContain("stages[3].hyperparameters.rewards.toolCallCost");
    expect(
      refusedFields(() => preview(withTools({ tools: { allow: ["python"] } }), { options: {} })),
    ).toContain("stages[3].hyperparameters.tools.allow");
    // The OLMo 2 era's grpo_fast.py has no EnvsConfig tool flags.
    expect(
      refusedFields(() => preview(withTools({ tools: { allow: ["python"] } }), { commit: "89b4f62" })),
    ).toContain("stages[3].hyperparameters.tools");
  });

  it("leaves recipes without tools where they were (an unpinned export still picks 89b4f62)", () => {
    const loaded = withTools({ tools: { allow: ["python"] } });
    const plain = {
      ...loaded,
      recipe: {
        ...loaded.recipe,
        stages: olmo2.stages.map((stage) =>
          stage.type === "rlvr"
            ? {
                ...stage,
                hyperparameters: {
                  ...stage.hyperparameters,
                  monitor: null,
                  batch: {
                    devices: 8,
                    perDeviceBatchSize: 8,
                    gradientAccumulationSteps: 6,
                    effectiveBatchSize: 384,
                  },
                },
              }
            : stage,
        ),
      },
    };
    expect(preview(plain).commit.commit).toBe("89b4f62");
  });
});
