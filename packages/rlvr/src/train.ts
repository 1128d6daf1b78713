import type { GenerationBackend, RunContext } from "@posttrain/core";
import {
  createEmbeddedGenerationBackend,
  DecoderModel,
  type PretrainedModel as EngineModel,
  type GenerationTokenizer,
  learningRateAt,
  parseHuggingFaceConfig,
} from "@posttrain/engine";
import type { ConversationGenerator, ToolRolloutMetrics } from "@posttrain/tools";
import {
  checkStageInputs,
  DataOrder,
  engineSchedule,
  huggingFaceConfig,
  type ModelSource,
  openRunCheckpoints,
  recordResolvedConfig,
  runTrainingLoop,
  TrainError,
  type TrainingRunResult,
} from "@posttrain/training";
import { Config, type ConfigInput } from "./config.js";
import { type OverOptimizationCheck, OverOptimizationMonitor } from "./monitor.js";
import { optimize } from "./optimize.js";
import { PolicyTrainer } from "./policy-trainer.js";
import { type RlvrData, validateRlvrRows } from "./prompts.js";
import { createRemoteConversationGenerator } from "./remote-generation/conversations.js";
import { createRemoteBackendFromConfig, type GenerationEndpoint } from "./remote-generation/from-config.js";
import { canSyncWeights } from "./remote-generation/weight-sync.js";
import { type RolloutCompletion, rollout } from "./rollout.js";
import { score, verifyResponses } from "./score.js";
import { type StepMetrics, stepMetrics } from "./step-metrics.js";
import {
  createEmbeddedConversationGenerators,
  createToolUse,
  promptsMentionTools,
  type ToolUse,
  toolRollout,
} from "./tool-rollout.js";

export interface TrainParams {
  config: ConfigInput;
  /** The initial policy; its weights as loaded are also the frozen KL reference. */
  model: ModelSource;
  data: RlvrData;
  context: RunContext;
  /** Decodes completions for the verifiers and supplies EOS ids to generation. */
  tokenizer: GenerationTokenizer;
  /**
   * The rollout backend over the live policy (`policy.parameters` is updated in place after
   * every optimizer step). Default: the engine's embedded backend, or the remote one when
   * `config.generation.backend` is `"remote"`. A backend with the weight-sync capability
   * (`canSyncWeights`) gets the policy pushed before the first rollout and after every
   * `generation.syncEverySteps`-th step (every step for a custom backend), before a monitor
   * check and at the end; each push is a `weight-sync` event.
   */
  createBackend?: (params: {
    policy: EngineModel;
    tokenizer: GenerationTokenizer;
    threads: number;
  }) => GenerationBackend;
  /** URL and API key of a remote generation server (flags; they override config and environment). */
  generationEndpoint?: GenerationEndpoint;
  /**
   * With `config.tools`: the multi-turn generator of one step's rollouts (its conversation `id`
   * = group × samplesPerPrompt + sample). Default: the engine's `ConversationDecoder` over the
   * live policy (KV cache kept across turns), seeded like single-turn sampling; with a remote
   * `generation` backend, `createRemoteConversationGenerator` over it.
   */
  createConversationGenerator?: (params: {
    policy: EngineModel;
    tokenizer: GenerationTokenizer;
    threads: number;
    seed: number;
    temperature: number;
    samplesPerPrompt: number;
  }) => Promise<ConversationGenerator>;
}

/** What `train` returns (@posttrain/training's {@link TrainingRunResult} with this stage's metrics). */
export type TrainResult = TrainingRunResult<{
  lastStep: StepMetrics | null;
  checks: OverOptimizationCheck[];
}>;

/** Runs (or resumes) the RLVR stage in `context.directory`. */
export async function train(params: TrainParams): Promise<TrainResult> {
  const { context } = params;
  const inputs = await checkStageInputs({
    stage: "rlvr",
    schema: Config,
    config: params.config,
    model: params.model,
    data: params.data,
    validateRows: validateRlvrRows,
    heldOutField: (config) => (config.monitor === null ? null : "monitor"),
  });
  const { config, model: loaded, evaluationRows } = inputs;
  const effectiveBatch = inputs.effectiveBatchSize;
  const rolloutSize = config.rollouts.promptsPerStep * config.rollouts.samplesPerPrompt;
  const order = new DataOrder({
    random: context.random.stream("prompts"),
    rowCount: params.data.train.length,
    perDeviceBatchSize: config.rollouts.promptsPerStep,
    gradientAccumulationSteps: 1,
  });
  const schedule = engineSchedule({ learningRate: config.learningRate, totalSteps: config.steps });
  const configKey = await recordResolvedConfig({
    context,
    resolved: {
      stage: "rlvr",
      config,
      model: { config: loaded.config, parameterHash: loaded.hash },
      data: { trainRows: params.data.train.length, evaluationRows: evaluationRows.length },
      effectiveBatchSize: effectiveBatch,
      rolloutSize,
      nominalOptimizerStepsPerRollout: config.epochs * Math.ceil(rolloutSize / effectiveBatch),
    },
  });
  context.events.write({
    type: "effective-batch",
    devices: config.batch.devices,
    perDeviceBatchSize: config.batch.perDeviceBatchSize,
    gradientAccumulationSteps: config.batch.gradientAccumulationSteps,
    effectiveBatchSize: effectiveBatch,
    rolloutSize,
  });
  context.log(
    `rlvr: ${config.rollouts.promptsPerStep} prompts × ${config.rollouts.samplesPerPrompt} samples per step, effective batch ${effectiveBatch} completions, ${config.steps} steps`,
  );

  // The decoder is a DecoderModel with the same parameter layout for Llama configs.
  const decoderConfig = parseHuggingFaceConfig(huggingFaceConfig(loaded.config));
  const decoder = new DecoderModel(decoderConfig);
  const trainer = await PolicyTrainer.create({
    model: decoder,
    kl: config.kl,
    clip: config.clip,
    lossChunks: config.lossChunks,
    threads: config.threads,
    adamW: config.adamW,
    initialParameters: loaded.parameters,
  });
  if (trainer.layout.fingerprint() !== loaded.layout.fingerprint())
    throw new TrainError({
      code: "train_model_invalid",
      message: "the decoder's parameter layout differs from the model's",
    });
  const policy: EngineModel = {
    model: decoder,
    config: decoderConfig,
    layout: trainer.layout,
    parameters: trainer.parameters,
    generationConfig: null,
    directory: null,
    storedDtype: null,
  };
  const generation = config.generation ?? { backend: "embedded" as const };
  const createBackend =
    params.createBackend ??
    ((options: { policy: EngineModel; tokenizer: GenerationTokenizer; threads: number }) =>
      generation.backend === "remote"
        ? createRemoteBackendFromConfig({
            generation,
            ...(params.generationEndpoint === undefined ? {} : { endpoint: params.generationEndpoint }),
            runDirectory: context.directory,
            tokenizer: options.tokenizer,
            protectedDirectories: params.model.kind === "directory" ? [params.model.directory] : [],
          })
        : createEmbeddedGenerationBackend({
            model: options.policy,
            tokenizer: options.tokenizer,
            threads: options.threads,
          }));
  const backend: GenerationBackend = createBackend({
    policy,
    tokenizer: params.tokenizer,
    threads: config.threads,
  });
  const syncEverySteps = generation.backend === "remote" ? generation.syncEverySteps : 1;
  const toolUse: ToolUse | null =
    config.tools === null ? null : createToolUse({ config: config.tools, tokenizer: params.tokenizer });
  let conversationGenerator:
    | ((
        seed: number,
        options?: { temperature: number; samplesPerPrompt: number },
      ) => Promise<ConversationGenerator>)
    | null = null;
  if (toolUse !== null) {
    // Embedded: the engine's ConversationDecoder (KV cache kept across turns); remote: each turn
    // resends the conversation's token ids to the server (its prefix cache reuses them).
    const embedded =
      params.createConversationGenerator !== undefined
        ? null
        : generation.backend === "remote"
          ? async (options: { seed: number; temperature: number }) =>
              createRemoteConversationGenerator({ backend, tokenizer: params.tokenizer, ...options })
          : createEmbeddedConversationGenerators({
              policy,
              tokenizer: params.tokenizer,
              threads: config.threads,
            });
    conversationGenerator = (seed, sampling) => {
      const options = {
        seed,
        temperature: sampling?.temperature ?? config.rollouts.temperature,
        samplesPerPrompt: sampling?.samplesPerPrompt ?? config.rollouts.samplesPerPrompt,
      };
      return params.createConversationGenerator === undefined
        ? embedded!(options)
        : params.createConversationGenerator({
            policy,
            tokenizer: params.tokenizer,
            threads: config.threads,
            ...options,
          });
    };
    // The check decodes prompts: the first 1000 rows are enough to catch a dataset without them.
    const checked = params.data.train.slice(0, 1000);
    const unaware = checked.filter(
      (row) =>
        !promptsMentionTools({
          toolUse,
          promptText: params.tokenizer.decode([...row.promptIds], { skipSpecialTokens: false }),
        }),
    ).length;
    context.log(
      `rlvr: tools ${config.tools!.allow.join(", ")} (${config.tools!.format}), at most ${config.tools!.maxToolCalls} calls per rollout`,
    );
    if (unaware > 0) {
      const message = `${unaware} of ${checked.length === params.data.train.length ? "" : "the first "}${checked.length} training prompts do not mention the tools (${
        config.tools!.format === "tags"
          ? Object.keys(toolUse.callNames)
              .map((name) => `<${name}>`)
              .join(", ")
          : [...toolUse.registry.keys()].join(", ")
      }): put tagFormatInstructions (or the template's tool definitions) into the prompts when the data is prepared`;
      context.events.write({ type: "warning", step: 0, message });
      context.log(`rlvr: warning: ${message}`);
    }
  }
  const eosTokenIds = [...new Set([...params.tokenizer.eosTokenIds, ...decoderConfig.eosTokenIds])];
  /** Pushes the current policy to a backend that generates elsewhere (no-op for the embedded one). */
  const syncWeights = async () => {
    if (!canSyncWeights(backend)) return;
    const report = await backend.syncWeights({
      weights: { config: loaded.config, layout: trainer.layout, parameters: trainer.parameters },
      step: trainer.step,
    });
    context.events.write({ type: "weight-sync", ...report });
  };
  const referenceParameters = loaded.parameters;

  const monitor = new OverOptimizationMonitor({ klBound: config.monitor?.klBound ?? null });
  const checkpoints = await openRunCheckpoints({
    context,
    stage: "rlvr",
    trainer: trainer.asCheckpointTarget(),
    configKey,
    onRestore: (checkpoint) => monitor.restore(checkpoint.state.extra?.["monitor"]),
    extra: () => ({ monitor: monitor.state() }),
  });

  /** Per-item held-out scores (the monitor tests a drop on the same items). */
  const heldOutScores = async (): Promise<number[]> => {
    // With tools, the held-out answers use them too (greedy, one conversation per prompt).
    if (toolUse !== null && conversationGenerator !== null) {
      const { completions } = await toolRollout({
        generator: await conversationGenerator(0, { temperature: 0, samplesPerPrompt: 1 }),
        tokenizer: params.tokenizer,
        eosTokenIds,
        toolUse,
        prompts: evaluationRows,
        samplesPerPrompt: 1,
        maxNewTokens: config.rollouts.maxNewTokens,
      });
      return verifyResponses({
        items: completions.map((completion) => ({
          response: completion.text,
          row: completion.row,
          tokenCount: completion.completionMask.reduce((total, value) => total + value, 0),
        })),
        workers: config.verifierWorkers,
        timeoutMilliseconds: config.verifierTimeoutMilliseconds,
      });
    }
    const completions = await backend.generate({
      requests: evaluationRows.map((row) => ({
        prompt: { kind: "tokens" as const, tokenIds: [...row.promptIds] },
        sampling: { temperature: 0, maxNewTokens: config.rollouts.maxNewTokens },
      })),
    });
    const scores = await verifyResponses({
      items: completions.map((samples, index) => ({
        response: samples[0]!.text,
        row: evaluationRows[index]!,
        tokenCount:
          samples[0]!.tokenIds?.length ??
          params.tokenizer.encode(samples[0]!.text, { addSpecialTokens: false }).length,
      })),
      workers: config.verifierWorkers,
      timeoutMilliseconds: config.verifierTimeoutMilliseconds,
    });
    return scores;
  };
  const runMonitor = async (kl: number) => {
    if (config.monitor === null) return;
    const check = monitor.check({ step: trainer.step, heldOutScores: await heldOutScores(), kl });
    context.events.write({ type: "over-optimization-check", ...check });
    for (const warning of check.warnings) {
      context.events.write({ type: "warning", step: trainer.step, message: warning });
      context.log(`rlvr: warning: ${warning}`);
    }
  };

  return runTrainingLoop({
    context,
    label: "rlvr",
    trainer,
    model: loaded,
    totalSteps: config.steps,
    checkpoints,
    checkpointEverySteps: config.checkpointEverySteps,
    beforeFirstStep: async () => {
      // The server starts from whatever it was launched with (or, on resume, an older policy).
      await syncWeights();
      if (config.monitor !== null && monitor.checks.length === 0) await runMonitor(0);
    },
    runStep: async ({ step }) => {
      const stepRandom = context.random.stream(`step-${step}`);
      const prompts = order
        .step(step)
        .microBatches.flat()
        .map((index) => params.data.train[index]!);
      const generateStarted = performance.now();
      const seed = stepRandom.stream("sampling").nextUint32();
      let completions: RolloutCompletion[];
      let toolMetrics: ToolRolloutMetrics | undefined;
      if (toolUse === null || conversationGenerator === null)
        completions = await rollout({
          backend,
          prompts,
          samplesPerPrompt: config.rollouts.samplesPerPrompt,
          temperature: config.rollouts.temperature,
          maxNewTokens: config.rollouts.maxNewTokens,
          seed,
        });
      else {
        const result = await toolRollout({
          generator: await conversationGenerator(seed),
          tokenizer: params.tokenizer,
          eosTokenIds,
          toolUse,
          prompts,
          samplesPerPrompt: config.rollouts.samplesPerPrompt,
          maxNewTokens: config.rollouts.maxNewTokens,
        });
        completions = result.completions;
        toolMetrics = result.metrics;
      }
      const rolloutSeconds = (performance.now() - generateStarted) / 1000;
      const toolSeconds = toolMetrics === undefined ? undefined : toolMetrics.toolMilliseconds / 1000;
      const generateSeconds =
        toolSeconds === undefined ? rolloutSeconds : Math.max(0, rolloutSeconds - toolSeconds);
      const verifyStarted = performance.now();
      const { scored, kept, filteredGroups } = await score({ completions, groups: prompts.length, config });
      const verifySeconds = (performance.now() - verifyStarted) / 1000;
      const trainStarted = performance.now();
      const learningRate = learningRateAt({ schedule, step });
      const optimization = await optimize({
        trainer,
        kept,
        referenceParameters,
        config,
        effectiveBatchSize: effectiveBatch,
        learningRate,
        random: stepRandom,
      });
      const trainSeconds = (performance.now() - trainStarted) / 1000;
      const metrics = stepMetrics({
        step: step + 1,
        scored,
        keptCompletions: kept.length,
        filteredGroups,
        optimization,
        learningRate,
        epochs: config.epochs,
        seconds:
          toolSeconds === undefined
            ? { generate: generateSeconds, verify: verifySeconds, train: trainSeconds }
            : { generate: generateSeconds, tools: toolSeconds, verify: verifySeconds, train: trainSeconds },
        ...(toolMetrics === undefined ? {} : { tools: toolMetrics }),
      });
      monitor.recordReward(metrics.rewardMean);
      return {
        metrics,
        progress: {
          reward: metrics.rewardMean,
          accuracy: metrics.accuracy,
          kl: metrics.kl,
          "tok/s": Math.round(metrics.trainTokensPerSecond),
          ...(metrics.toolCallsPerRollout === undefined
            ? {}
            : { "calls/rollout": metrics.toolCallsPerRollout }),
        },
      };
    },
    afterStep: async ({ step }) => {
      const monitorDue = config.monitor !== null && step % config.monitor.everySteps === 0;
      if (step % syncEverySteps === 0 || step === config.steps || monitorDue) await syncWeights();
    },
    heldOut:
      config.monitor === null
        ? null
        : {
            everySteps: config.monitor.everySteps,
            atEnd: false,
            run: async ({ lastStep }) => runMonitor(lastStep?.kl ?? 0),
          },
    close: async () => {
      await backend.close?.();
    },
    metrics: (lastStep) => ({ lastStep, checks: monitor.checks }),
  });
}
