import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRunContext, Random, readEvents } from "@posttrain/core";
import {
  createEmbeddedGenerationBackend,
  DecoderModel,
  type PretrainedModel,
  parseHuggingFaceConfig,
} from "@posttrain/engine";
import {
  type ConversationGenerator,
  type GeneratedTurn,
  type TurnRequest,
  toolUseConfigSchema,
} from "@posttrain/tools";
import { huggingFaceConfig, loadTrainingModel, promptCompletionBatch } from "@posttrain/training";
import { describe, expect, it } from "vitest";
import { Config } from "./config.js";
import { type PolicyBatch, PolicyTrainer } from "./policy-trainer.js";
import { rollout } from "./rollout.js";
import {
  toolToyModelConfig,
  toolToyRlvrRows,
  toolToyTokenizer,
  toyModelConfig,
  toyRlvrConfig,
  toyRlvrRows,
  toyTokenizer,
} from "./test/toy.js";
import {
  conversationRandom,
  createEmbeddedConversationGenerators,
  createToolUse,
  toolRollout,
} from "./tool-rollout.js";
import { train } from "./train.js";

const tools = toolUseConfigSchema.parse({
  allow: ["calculator"],
  callNames: { c: "calculator" },
  maxToolCalls: 3,
});
const toolUse = createToolUse({ config: tools, tokenizer: toolToyTokenizer });
const instructions = "Call <c>EXPRESSION</c> to compute.";

/**
 * A scripted multi-turn generator over the tool toy tokenizer: conversation `id` says
 * `script(id, prompt)[turn]` at its turn-th turn (a turn not ending in a stop string ends with
 * EOS); it records what was appended before each turn.
 */
function scripted(
  script: (id: number, prompt: string) => string[],
): ConversationGenerator & { appended: Map<number, string[]> } {
  const turnsSeen = new Map<number, number>();
  const appended = new Map<number, string[]>();
  return {
    appended,
    async generateTurns({ requests }: { requests: readonly TurnRequest[] }): Promise<GeneratedTurn[]> {
      return requests.map((request) => {
        const turn = turnsSeen.get(request.id) ?? 0;
        turnsSeen.set(request.id, turn + 1);
        const seen = [
          ...(appended.get(request.id) ?? []),
          toolToyTokenizer.decode([...request.appendTokenIds]),
        ];
        appended.set(request.id, seen);
        const text = script(request.id, seen[0]!)[turn] ?? "";
        const stopped = request.stop.some((stop) => text.endsWith(stop));
        const tokenIds = (
          stopped ? toolToyTokenizer.encode(text) : [...toolToyTokenizer.encode(text), 2]
        ).slice(0, request.maxNewTokens);
        return {
          id: request.id,
          tokenIds,
          modelLogProbs: tokenIds.map(() => -1),
          samplingLogProbs: tokenIds.map(() => -1),
          text,
          finishReason: stopped ? "stop" : "eos",
        };
      });
    },
    release() {},
  };
}

/**
 * Per conversation (id mod 4), for the prompt's `Q<a>*<b>:`: a correct call then the answer; an
 * unclosed call then a wrong answer; the answer without a call; a call the calculator refuses
 * then a wrong answer.
 */
const script = (id: number, prompt: string) => {
  const [, a, b] = /Q(\d+)\*(\d+):/.exec(prompt)!;
  const answer = String(Number(a) * Number(b));
  return [[`<c>${a}*${b}</c>`, `so ${answer}`], [`<c>${a}*`, "7"], [answer], ["<c>2^^</c>", "7"]][id % 4]!;
};

describe("rlvr tool rollouts: completions and masks", () => {
  it("splices tool output into the completion with mask 0, token by token; the verifier text is the final turn", async () => {
    const generator = scripted(script);
    const rows = toolToyRlvrRows({ count: 2, instructions });
    const { completions, metrics } = await toolRollout({
      generator,
      tokenizer: toolToyTokenizer,
      eosTokenIds: [2],
      toolUse,
      prompts: rows,
      samplesPerPrompt: 4,
      maxNewTokens: 64,
    });
    expect(completions).toHaveLength(8);
    const first = completions[0]!;
    const modelTurn = "<c>11*23</c>";
    const toolOutput = "<output>\n253\n</output>\n";
    const final = "so 253";
    expect(toolToyTokenizer.decode(first.completionIds)).toBe(`${modelTurn}${toolOutput}${final}<2>`);
    expect([...first.completionMask]).toEqual([
      ...[...modelTurn].map(() => 1),
      ...[...toolOutput].map(() => 0),
      ...[...`${final}E`].map(() => 1),
    ]);
    // Sampling log-probs of tool tokens are 0 (never trained), the model's are its own.
    expect(first.samplingLogProbs!.filter((_value, index) => first.completionMask[index] === 0)).toEqual(
      [...toolOutput].map(() => 0),
    );
    expect(first.text).toBe(final);
    expect(first).toMatchObject({ group: 0, toolCalls: 1, toolErrors: 0, truncated: false });
    // The second turn appends only the tool output (the conversation's cache holds the rest).
    expect(generator.appended.get(0)).toEqual([toolToyTokenizer.decode([...rows[0]!.promptIds]), toolOutput]);
    // Failures are observations the model reads, not crashes.
    expect(completions[1]).toMatchObject({ toolCalls: 1, toolErrors: 1, text: "7" });
    expect(toolToyTokenizer.decode(completions[1]!.completionIds)).toContain("unclosed <c>");
    expect(completions[2]).toMatchObject({ toolCalls: 0, toolErrors: 0, text: "253" });
    expect([...completions[2]!.completionMask].every((value) => value === 1)).toBe(true);
    expect(completions[3]).toMatchObject({ toolCalls: 1, toolErrors: 1, text: "7" });
    expect(completions[5]).toMatchObject({ group: 1, row: rows[1] });
    expect(metrics).toMatchObject({ rollouts: 8, toolCalls: 6, rolloutsWithToolUse: 6 });
    expect(metrics.toolErrorRate).toBeCloseTo(4 / 6, 12);
  });

  it("a tool-output token's old, reference log-prob and advantage change nothing in the loss or the update", async () => {
    const generator = scripted(script);
    const [row] = toolToyRlvrRows({ count: 1, instructions });
    const { completions } = await toolRollout({
      generator,
      tokenizer: toolToyTokenizer,
      eosTokenIds: [2],
      toolUse,
      prompts: [row!],
      samplesPerPrompt: 1,
      maxNewTokens: 64,
    });
    const completion = completions[0]!;
    const batch = promptCompletionBatch({
      rows: [
        {
          promptIds: row!.promptIds,
          completionIds: completion.completionIds,
          completionMask: completion.completionMask,
        },
      ],
    });
    const offset = row!.promptIds.length - 1;
    // The loss mask is the completion mask shifted onto the target positions, token by token.
    completion.completionMask.forEach((value, index) => {
      expect(batch.lossMask[offset + index]).toBe(value);
    });
    const loaded = await loadTrainingModel({
      source: { kind: "initialize", config: toolToyModelConfig, seed: 5 },
    });
    const config = Config.parse(toyRlvrConfig({ kl: { beta: 0.5, estimator: "k3" } }));
    const run = async (
      edit: (policy: PolicyBatch, position: number) => void,
      positions: readonly number[],
    ) => {
      const trainer = await PolicyTrainer.create({
        model: new DecoderModel(parseHuggingFaceConfig(huggingFaceConfig(loaded.config)), {
          threadInvariantGemms: false,
        }),
        kl: config.kl,
        clip: config.clip,
        lossChunks: 1,
        threads: 1,
        adamW: config.adamW,
        initialParameters: loaded.parameters,
      });
      const oldLogProbs = await trainer.score({ batch });
      const referenceLogProbs = await trainer.score({
        batch,
        parameters: loaded.parameters.map((value) => value * 0.5),
      });
      // Old log-probs away from the current ones, so the ratio and the clip are active.
      const policy: PolicyBatch = {
        ...batch,
        advantages: new Float32Array(oldLogProbs.length).fill(1),
        oldLogProbs: oldLogProbs.map((value) => value + 0.1),
        referenceLogProbs,
      };
      for (const position of positions) edit(policy, position);
      const tokens = batch.lossMask.reduce((a, b) => a + b, 0);
      const { loss } = await trainer.accumulate({ microBatches: [policy], lossScale: 1 / tokens });
      const { gradientNorm } = trainer.update({ learningRate: 1e-2, maxGradientNorm: null });
      return { loss, gradientNorm, parameters: Float32Array.from(trainer.parameters) };
    };
    const perturb = (policy: PolicyBatch, position: number) => {
      policy.oldLogProbs[position] = -7;
      policy.referenceLogProbs[position] = -9;
      policy.advantages[position] = -3;
    };
    const toolPositions = [...completion.completionMask.keys()]
      .filter((index) => completion.completionMask[index] === 0)
      .map((index) => offset + index);
    const modelPositions = [...completion.completionMask.keys()]
      .filter((index) => completion.completionMask[index] === 1)
      .map((index) => offset + index);
    expect(toolPositions.length).toBeGreaterThan(10);
    const base = await run(() => {}, []);
    const toolEdited = await run(perturb, toolPositions);
    const modelEdited = await run(perturb, modelPositions.slice(-3));
    expect(toolEdited.loss).toBe(base.loss);
    expect(toolEdited.gradientNorm).toBe(base.gradientNorm);
    expect(toolEdited.parameters).toEqual(base.parameters);
    // The same edit on model tokens does change the loss and the update (the test can fail).
    expect(modelEdited.loss).not.toBeCloseTo(base.loss, 3);
    expect(modelEdited.parameters).not.toEqual(base.parameters);
  }, 60_000);
});

const directory = (name: string) => mkdtempSync(join(tmpdir(), `rlvr-tools-${name}-`));
const context = (path: string, seed = 1) =>
  createRunContext({ directory: path, seed, streamName: "rlvr", progressMode: "silent" });
const stepEnds = (runDirectory: string) =>
  readEvents({ path: join(runDirectory, "events.jsonl") }).events.filter(
    (event) => event.type === "step-end",
  );

describe("rlvr train with tools", () => {
  it("rewards the final turn minus the call cost, writes the tool metrics, and survives failing calls", async () => {
    const runDirectory = directory("scripted");
    const seeds: number[] = [];
    const result = await train({
      config: toyRlvrConfig({
        steps: 2,
        rollouts: { promptsPerStep: 2, samplesPerPrompt: 4, temperature: 1, maxNewTokens: 32 },
        rewards: { verificationReward: 10, format: null, nonStopPenalty: null, toolCallCost: 0.5 },
        filterZeroVarianceGroups: false,
        tools: {
          allow: ["calculator"],
          callNames: { c: "calculator" },
          maxToolCalls: 3,
          maxTotalTokens: 128,
        },
      }),
      model: { kind: "initialize", config: toolToyModelConfig, seed: 3 },
      // Two rows: the data order gives both prompts every step, in some order.
      data: { train: toolToyRlvrRows({ count: 2, instructions }) },
      context: context(runDirectory),
      tokenizer: toolToyTokenizer,
      createConversationGenerator: async ({ seed }) => {
        seeds.push(seed);
        return scripted(script);
      },
    });
    expect(result.status).toBe("completed");
    expect(seeds).toHaveLength(2);
    expect(seeds[0]).not.toBe(seeds[1]);
    const steps = stepEnds(runDirectory);
    expect(steps).toHaveLength(2);
    for (const step of steps) {
      expect(step["toolCallsPerRollout"]).toBe(0.75);
      expect(step["toolErrorRate"] as number).toBeCloseTo(4 / 6, 12);
      expect(step["toolUseRate"]).toBe(0.75);
      expect(typeof step["toolTimeShare"]).toBe("number");
      // Right: the calls of id mod 4 = 0 (2 of 6 tool-using rollouts) and every call-free one.
      expect(step["accuracyWithTools"]).toBeCloseTo(2 / 6, 12);
      expect(step["accuracyWithoutTools"]).toBe(1);
      // Each call costs 0.5: (2 × (10 − 0.5) + 4 × (0 − 0.5)) / 6; the call-free ones keep 10.
      expect(step["rewardWithTools"]).toBeCloseTo(17 / 6, 12);
      expect(step["rewardWithoutTools"]).toBe(10);
      expect(step["rewardMean"]).toBeCloseTo((17 + 20) / 8, 12);
      expect(Object.keys(step["seconds"] as object)).toEqual(["generate", "tools", "verify", "train"]);
    }
    expect(result.metrics.lastStep?.toolCallsPerRollout).toBe(0.75);
  }, 120_000);

  it("runs the over-optimisation monitor's held-out answers with the tools too (greedy)", async () => {
    const runDirectory = directory("monitor");
    const temperatures: number[] = [];
    await train({
      config: toyRlvrConfig({
        steps: 1,
        rollouts: { promptsPerStep: 2, samplesPerPrompt: 2, temperature: 1, maxNewTokens: 32 },
        monitor: { everySteps: 1, klBound: null },
        tools: { allow: ["calculator"], callNames: { c: "calculator" }, maxTotalTokens: 128 },
      }),
      model: { kind: "initialize", config: toolToyModelConfig, seed: 3 },
      data: {
        train: toolToyRlvrRows({ count: 2, instructions }),
        evaluation: toolToyRlvrRows({ count: 4, instructions }),
      },
      context: context(runDirectory),
      tokenizer: toolToyTokenizer,
      createConversationGenerator: async ({ temperature }) => {
        temperatures.push(temperature);
        return scripted(script);
      },
    });
    const checks = readEvents({ path: join(runDirectory, "events.jsonl") }).events.filter(
      (event) => event.type === "over-optimization-check",
    );
    // One held-out conversation per prompt (ids 0–3): the called-and-answered and the direct answer are right.
    expect(checks.map((event) => event["heldOutAccuracy"])).toEqual([0.5, 0.5]);
    expect(temperatures).toEqual([0, 1, 0]);
  }, 60_000);

  it("warns when the prompts do not mention the tools", async () => {
    const runDirectory = directory("warn");
    await train({
      config: toyRlvrConfig({
        steps: 1,
        rollouts: { promptsPerStep: 2, samplesPerPrompt: 2, temperature: 1, maxNewTokens: 8 },
        tools: { allow: ["calculator"], callNames: { c: "calculator" } },
      }),
      model: { kind: "initialize", config: toolToyModelConfig, seed: 3 },
      data: { train: toolToyRlvrRows({ count: 2 }) },
      context: context(runDirectory),
      tokenizer: toolToyTokenizer,
      createConversationGenerator: async () => scripted(script),
    });
    const warnings = readEvents({ path: join(runDirectory, "events.jsonl") }).events.filter(
      (event) => event.type === "warning",
    );
    expect(warnings.map((event) => event["message"])).toEqual([
      expect.stringMatching(/^2 of 2 training prompts do not mention the tools \(<c>\)/),
    ]);
  }, 60_000);

  it("refuses an unknown tool or a call name for a tool it does not allow, naming the field", async () => {
    const base = {
      model: { kind: "initialize" as const, config: toolToyModelConfig, seed: 3 },
      data: { train: toolToyRlvrRows({ count: 2 }) },
      tokenizer: toolToyTokenizer,
    };
    await expect(
      train({
        ...base,
        config: toyRlvrConfig({ steps: 1, tools: { allow: ["abacus"] } }),
        context: context(directory("unknown")),
      }),
    ).rejects.toThrow(/tools\.allow: unknown tool "abacus"/);
    await expect(
      train({
        ...base,
        config: toyRlvrConfig({ steps: 1, tools: { allow: ["calculator"], callNames: { code: "python" } } }),
        context: context(directory("call-name")),
      }),
    ).rejects.toThrow(/tools\.callNames\.code: "python" is not one of tools\.allow/);
  }, 60_000);

  it("is deterministic on the embedded engine: the same seed gives the same rollouts, rewards and model", async () => {
    const runOnce = async () => {
      const runDirectory = directory("determinism");
      await train({
        config: toyRlvrConfig({
          steps: 2,
          rollouts: { promptsPerStep: 2, samplesPerPrompt: 4, temperature: 1, maxNewTokens: 12 },
          filterZeroVarianceGroups: false,
          tools: {
            allow: ["calculator"],
            callNames: { c: "calculator" },
            maxToolCalls: 2,
            maxTotalTokens: 40,
          },
        }),
        model: { kind: "initialize", config: toolToyModelConfig, seed: 3 },
        data: { train: toolToyRlvrRows({ count: 4, instructions }) },
        context: context(runDirectory),
        tokenizer: toolToyTokenizer,
      });
      return {
        steps: stepEnds(runDirectory).map((event) => [
          event["rewardMean"],
          event["loss"],
          event["kl"],
          event["entropy"],
          event["responseLength"],
          event["toolCallsPerRollout"],
          event["logProbMismatch"],
        ]),
        model: readFileSync(join(runDirectory, "model", "parameters.bin")),
      };
    };
    const [a, b] = [await runOnce(), await runOnce()];
    expect(a.steps).toHaveLength(2);
    expect(b.steps).toEqual(a.steps);
    expect(Buffer.compare(a.model, b.model)).toBe(0);
    // The sampler's log-probs equal the training graph's on the model's own tokens (multi-turn KV cache).
    for (const step of a.steps) expect(step[6] as number).toBeLessThan(1e-4);
  }, 180_000);

  it("samples like single-turn rollouts: a rollout that makes no call is the single-turn rollout, token for token", async () => {
    const loaded = await loadTrainingModel({
      source: { kind: "initialize", config: toyModelConfig, seed: 3 },
    });
    const decoderConfig = parseHuggingFaceConfig(huggingFaceConfig(loaded.config));
    const policy: PretrainedModel = {
      model: new DecoderModel(decoderConfig),
      config: decoderConfig,
      layout: loaded.layout,
      parameters: loaded.parameters,
      generationConfig: null,
      directory: null,
      storedDtype: null,
    };
    // The toy vocabulary has no `<`: the call tag can never be written.
    const noCalls = createToolUse({
      config: toolUseConfigSchema.parse({ allow: ["calculator"], callNames: { q: "calculator" } }),
      tokenizer: toyTokenizer,
    });
    const prompts = toyRlvrRows(3);
    const seed = 1234;
    const single = await rollout({
      backend: createEmbeddedGenerationBackend({ model: policy, tokenizer: toyTokenizer, threads: 1 }),
      prompts,
      samplesPerPrompt: 4,
      temperature: 1,
      maxNewTokens: 6,
      seed,
    });
    const generators = createEmbeddedConversationGenerators({ policy, tokenizer: toyTokenizer, threads: 1 });
    const multi = await toolRollout({
      generator: await generators({ seed, temperature: 1, samplesPerPrompt: 4 }),
      tokenizer: toyTokenizer,
      eosTokenIds: [2],
      toolUse: noCalls,
      prompts,
      samplesPerPrompt: 4,
      maxNewTokens: 6,
    });
    expect(multi.completions.map((completion) => completion.completionIds)).toEqual(
      single.map((completion) => completion.completionIds),
    );
    expect(new Set(single.map((completion) => completion.completionIds.join(","))).size).toBeGreaterThan(4);
    expect(multi.metrics.toolCalls).toBe(0);
    // Conversation id = group × samples + sample.
    expect(conversationRandom({ seed, id: 6, samplesPerPrompt: 4 }).nextUint32()).toBe(
      Random.fromSeed(seed).stream("request 1").stream("sample 2").nextUint32(),
    );
  }, 60_000);
});
