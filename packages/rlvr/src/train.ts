import { type GenerationBackend, parseWithSchema, type RunContext } from "@posttrain/core";
import {
  completeTrainingRun,
  createEmbeddedGenerationBackend,
  DataOrder,
  DecoderModel,
  type LoadedModel as EngineModel,
  effectiveBatchSize,
  engineSchedule,
  type GenerationTokenizer,
  huggingFaceConfig,
  interruptTrainingRun,
  learningRateAt,
  loadTrainingModel,
  type ModelSource,
  openRunCheckpoints,
  parseHuggingFaceConfig,
  recordResolvedConfig,
  TrainError,
  type TrainingRunResult,
} from "@posttrain/engine";
import { verify } from "@posttrain/verifiers";
import { Config, type ConfigInput } from "./config.js";
import { type OverOptimizationCheck, OverOptimizationMonitor } from "./monitor.js";
import { type PolicyBatch, PolicyTrainer } from "./policy-trainer.js";
import { completionBatchOf, type RlvrData, type RlvrRow, validateRlvrRows } from "./prompts.js";
import { createRemoteBackendFromConfig, type GenerationEndpoint } from "./remote-generation/from-config.js";
import { canSyncWeights } from "./remote-generation/weight-sync.js";
import { completionReward, groupAdvantages, klEstimate } from "./rewards.js";

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
}

export interface VerifierStatistics {
  count: number;
  rewardMean: number;
  rewardStd: number;
  accuracy: number;
}

export interface StepMetrics {
  step: number;
  rewardMean: number;
  rewardStd: number;
  /** Share of completions with verifier score 1. */
  accuracy: number;
  perVerifier: Record<string, VerifierStatistics>;
  /** Mean per-token KL estimate (configured estimator) of the rollout policy to the reference. */
  kl: number;
  /** −mean log π of the sampled tokens: a Monte-Carlo estimate of the per-token entropy. */
  entropy: number;
  /**
   * Max |sampling log-prob − training-graph log-prob| over the sampled tokens (temperature 1
   * only, else null): the rollout backend and the training graph must agree.
   */
  logProbMismatch: number | null;
  /** Share of trained tokens where the PPO clip was active. */
  clipFraction: number;
  responseLength: number;
  truncationRate: number;
  filteredGroups: number;
  trainedCompletions: number;
  optimizerSteps: number;
  loss: number;
  gradientNorm: number;
  learningRate: number;
  trainTokensPerSecond: number;
  seconds: { generate: number; verify: number; train: number };
}

/** What `train` returns (the engine's {@link TrainingRunResult} with this stage's metrics). */
export type TrainResult = TrainingRunResult<{
  lastStep: StepMetrics | null;
  checks: OverOptimizationCheck[];
}>;

const mean = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
const std = (values: readonly number[]) => {
  const average = mean(values);
  return Math.sqrt(mean(values.map((value) => (value - average) ** 2)));
};

/**
 * Verifier scores of responses, grouped by verifier name; returns scores in input order.
 * `tokenCount` is the number of generated token ids: the length verifiers (`max_length`,
 * `up_to_max_length`) score it, as open-instruct scores `len(tokenized_prediction)`.
 */
async function verifyResponses(params: {
  items: readonly { response: string; row: RlvrRow; tokenCount: number }[];
  workers: number;
  timeoutMilliseconds: number;
}): Promise<number[]> {
  const scores = new Array<number>(params.items.length).fill(0);
  const byVerifier = new Map<string, number[]>();
  params.items.forEach((item, index) => {
    const name = item.row.dataset[0]!;
    byVerifier.set(name, [...(byVerifier.get(name) ?? []), index]);
  });
  for (const [verifier, indices] of byVerifier) {
    const output = await verify({
      verifier,
      rows: indices.map((index) => ({
        response: params.items[index]!.response,
        ground_truth: params.items[index]!.row.groundTruth[0],
      })),
      responseTokenCounts: indices.map((index) => params.items[index]!.tokenCount),
      workers: params.workers,
      timeoutMilliseconds: params.timeoutMilliseconds,
    });
    output.rows.forEach((row, offset) => {
      scores[indices[offset]!] = row.score;
    });
  }
  return scores;
}

interface Rollout {
  row: RlvrRow;
  group: number;
  completionIds: number[];
  samplingLogProbs: number[] | null;
  text: string;
  truncated: boolean;
  score: number;
  reward: number;
  advantage: number;
}

/** Runs (or resumes) the RLVR stage in `context.directory`. */
export async function train(params: TrainParams): Promise<TrainResult> {
  const { context } = params;
  const config = parseWithSchema({ schema: Config, value: params.config, label: "rlvr config" });
  const effectiveBatch = effectiveBatchSize(config.batch);
  const loaded = await loadTrainingModel({ source: params.model });
  validateRlvrRows({
    rows: params.data.train,
    vocabularySize: loaded.config.vocab_size,
    label: "data.train",
  });
  const evaluationRows = params.data.evaluation ?? [];
  if (config.monitor !== null) {
    if (evaluationRows.length === 0)
      throw new TrainError({
        code: "train_data_invalid",
        message: "monitor is configured but data.evaluation is empty",
      });
    validateRlvrRows({
      rows: evaluationRows,
      vocabularySize: loaded.config.vocab_size,
      label: "data.evaluation",
    });
  }
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

  // The decoder (engine part 2) is a LlamaModel with the same parameter layout for Llama configs.
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
  const backend = createBackend({ policy, tokenizer: params.tokenizer, threads: config.threads });
  const syncEverySteps = generation.backend === "remote" ? generation.syncEverySteps : 1;
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
  const { directory: checkpointDirectory, save } = await openRunCheckpoints({
    context,
    stage: "rlvr",
    trainer: trainer.asCheckpointTarget(),
    configKey,
    onRestore: (checkpoint) => monitor.restore(checkpoint.state.extra?.["monitor"]),
    extra: () => ({ monitor: monitor.state() }),
  });

  /** Per-item held-out scores (the monitor tests a drop on the same items). */
  const heldOutScores = async (): Promise<number[]> => {
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

  const progress = context.progress({ label: "rlvr", total: config.steps, unit: "steps" });
  let lastStep: StepMetrics | null = null;
  try {
    // The server starts from whatever it was launched with (or, on resume, an older policy).
    await syncWeights();
    if (config.monitor !== null && monitor.checks.length === 0) await runMonitor(0);
    while (trainer.step < config.steps) {
      if (context.signal.aborted)
        return interruptTrainingRun({
          context,
          save,
          trainer,
          totalSteps: config.steps,
          checkpointDirectory,
          metrics: { lastStep, checks: monitor.checks },
        });
      const step = trainer.step;
      const stepRandom = context.random.stream(`step-${step}`);
      const prompts = order
        .step(step)
        .microBatches.flat()
        .map((index) => params.data.train[index]!);
      // 1. Rollouts.
      const generateStarted = performance.now();
      const completions = await backend.generate({
        requests: prompts.map((row) => ({
          prompt: { kind: "tokens" as const, tokenIds: [...row.promptIds] },
          samples: config.rollouts.samplesPerPrompt,
          sampling: {
            temperature: config.rollouts.temperature,
            maxNewTokens: config.rollouts.maxNewTokens,
            seed: stepRandom.stream("sampling").nextUint32(),
            logprobs: true,
          },
        })),
      });
      const generateSeconds = (performance.now() - generateStarted) / 1000;
      // 2. Verification and rewards.
      const verifyStarted = performance.now();
      const rollouts: Rollout[] = [];
      completions.forEach((samples, group) => {
        for (const completion of samples) {
          if (completion.tokenIds === null)
            throw new TrainError({
              code: "train_data_invalid",
              message: "the generation backend returned no token ids",
            });
          rollouts.push({
            row: prompts[group]!,
            group,
            completionIds: completion.tokenIds,
            samplingLogProbs: completion.logprobs,
            text: completion.text,
            truncated: completion.finishReason === "length",
            score: 0,
            reward: 0,
            advantage: 0,
          });
        }
      });
      const scores = await verifyResponses({
        items: rollouts.map((rollout) => ({
          response: rollout.text,
          row: rollout.row,
          tokenCount: rollout.completionIds.length,
        })),
        workers: config.verifierWorkers,
        timeoutMilliseconds: config.verifierTimeoutMilliseconds,
      });
      rollouts.forEach((rollout, index) => {
        rollout.score = scores[index]!;
        rollout.reward = completionReward({
          rewards: config.rewards,
          score: rollout.score,
          response: rollout.text,
          truncated: rollout.truncated,
        });
      });
      let filteredGroups = 0;
      const kept: Rollout[] = [];
      for (let group = 0; group < prompts.length; group += 1) {
        const members = rollouts.filter((rollout) => rollout.group === group);
        const advantages = groupAdvantages({
          rewards: members.map((member) => member.reward),
          kind: config.advantages,
        });
        members.forEach((member, index) => {
          member.advantage = advantages.advantages[index]!;
        });
        if (config.filterZeroVarianceGroups && advantages.zeroVariance) {
          filteredGroups += 1;
          continue;
        }
        for (const member of members)
          if (!(config.maskTruncatedCompletions && member.truncated) && member.completionIds.length > 0)
            kept.push(member);
      }
      const verifySeconds = (performance.now() - verifyStarted) / 1000;
      // 3. Old (rollout-policy) and reference log-probs from the training graph's forward pass.
      const trainStarted = performance.now();
      const microSize = config.batch.perDeviceBatchSize;
      const order_ = stepRandom.stream("mini-batches");
      let klSum = 0;
      let logProbSum = 0;
      let trainedTokens = 0;
      let logProbMismatch: number | null = config.rollouts.temperature === 1 ? 0 : null;
      const prepared = new Map<Rollout, PolicyBatch>();
      for (let start = 0; start < kept.length; start += microSize) {
        const members = kept.slice(start, start + microSize);
        for (const member of members) {
          const batch = completionBatchOf([
            { promptIds: member.row.promptIds, completionIds: member.completionIds },
          ]);
          const oldLogProbs = await trainer.score({ batch });
          const referenceLogProbs =
            config.kl.beta > 0
              ? await trainer.score({ batch, parameters: referenceParameters })
              : new Float32Array(oldLogProbs.length);
          const advantages = new Float32Array(oldLogProbs.length).fill(member.advantage);
          if (logProbMismatch !== null && member.samplingLogProbs !== null) {
            const offset = member.row.promptIds.length - 1;
            member.samplingLogProbs.forEach((value, index) => {
              logProbMismatch = Math.max(logProbMismatch!, Math.abs(value - oldLogProbs[offset + index]!));
            });
          }
          batch.lossMask.forEach((value, index) => {
            if (value === 0) return;
            trainedTokens += 1;
            logProbSum += oldLogProbs[index]!;
            klSum += klEstimate({
              estimator: config.kl.estimator,
              logProb: oldLogProbs[index]!,
              referenceLogProb: referenceLogProbs[index]!,
            });
          });
          prepared.set(member, { ...batch, advantages, oldLogProbs, referenceLogProbs });
        }
      }
      // 4. Several optimizer steps per rollout batch.
      const learningRate = learningRateAt({ schedule, step });
      let optimizerSteps = 0;
      let lossSum = 0;
      let gradientNorm = 0;
      let clipped = 0;
      let clipTokens = 0;
      for (let epoch = 0; epoch < config.epochs; epoch += 1) {
        const shuffled = order_
          .stream(`epoch-${epoch}`)
          .permutation(kept.length)
          .map((index) => kept[index]!);
        for (let start = 0; start < shuffled.length; start += effectiveBatch) {
          const chunk = shuffled.slice(start, start + effectiveBatch);
          const batches: PolicyBatch[] = [];
          for (let micro = 0; micro < chunk.length; micro += microSize)
            batches.push(
              mergePolicyBatches(
                chunk.slice(micro, micro + microSize).map((member) => prepared.get(member)!),
              ),
            );
          const tokens = batches.reduce(
            (total, batch) => total + batch.lossMask.reduce((a, b) => a + b, 0),
            0,
          );
          const result = await trainer.accumulate({
            microBatches: batches,
            lossScale: 1 / Math.max(1, tokens),
          });
          batches.forEach((batch, index) => {
            const current = result.logProbs[index]!;
            batch.lossMask.forEach((value, position) => {
              if (value === 0) return;
              clipTokens += 1;
              const ratio = Math.exp(current[position]! - batch.oldLogProbs[position]!);
              const advantage = batch.advantages[position]!;
              if (
                (advantage > 0 && ratio > 1 + config.clip.high) ||
                (advantage < 0 && ratio < 1 - config.clip.low)
              )
                clipped += 1;
            });
          });
          gradientNorm = trainer.update({
            learningRate,
            maxGradientNorm: config.maxGradientNorm,
          }).gradientNorm;
          lossSum += result.loss;
          optimizerSteps += 1;
        }
      }
      trainer.step += 1;
      const trainSeconds = (performance.now() - trainStarted) / 1000;
      // 5. Metrics.
      const rewards = rollouts.map((rollout) => rollout.reward);
      const perVerifier: Record<string, VerifierStatistics> = {};
      for (const name of new Set(rollouts.map((rollout) => rollout.row.dataset[0]!))) {
        const members = rollouts.filter((rollout) => rollout.row.dataset[0] === name);
        perVerifier[name] = {
          count: members.length,
          rewardMean: mean(members.map((member) => member.reward)),
          rewardStd: std(members.map((member) => member.reward)),
          accuracy: mean(members.map((member) => (member.score >= 1 ? 1 : 0))),
        };
      }
      lastStep = {
        step: trainer.step,
        rewardMean: mean(rewards),
        rewardStd: std(rewards),
        accuracy: mean(rollouts.map((rollout) => (rollout.score >= 1 ? 1 : 0))),
        perVerifier,
        kl: trainedTokens === 0 ? 0 : klSum / trainedTokens,
        entropy: trainedTokens === 0 ? 0 : -logProbSum / trainedTokens,
        logProbMismatch,
        clipFraction: clipTokens === 0 ? 0 : clipped / clipTokens,
        responseLength: mean(rollouts.map((rollout) => rollout.completionIds.length)),
        truncationRate: mean(rollouts.map((rollout) => (rollout.truncated ? 1 : 0))),
        filteredGroups,
        trainedCompletions: kept.length,
        optimizerSteps,
        loss: optimizerSteps === 0 ? 0 : lossSum / optimizerSteps,
        gradientNorm,
        learningRate,
        trainTokensPerSecond: (trainedTokens * config.epochs) / Math.max(1e-9, trainSeconds),
        seconds: { generate: generateSeconds, verify: verifySeconds, train: trainSeconds },
      };
      monitor.recordReward(lastStep.rewardMean);
      context.events.write({ type: "step-end", ...lastStep });
      progress.update({
        completed: trainer.step,
        metrics: {
          reward: lastStep.rewardMean,
          accuracy: lastStep.accuracy,
          kl: lastStep.kl,
          "tok/s": Math.round(lastStep.trainTokensPerSecond),
        },
      });
      const monitorDue = config.monitor !== null && trainer.step % config.monitor.everySteps === 0;
      if (trainer.step % syncEverySteps === 0 || trainer.step === config.steps || monitorDue)
        await syncWeights();
      if (monitorDue) await runMonitor(lastStep.kl);
      if (trainer.step % config.checkpointEverySteps === 0) await save();
    }
  } finally {
    progress.stop();
    await backend.close?.();
  }
  await save();
  const metrics = { lastStep, checks: monitor.checks };
  return completeTrainingRun({
    context,
    model: loaded,
    trainer,
    totalSteps: config.steps,
    checkpointDirectory,
    metrics,
  });
}

/** Concatenates single-row policy batches into one micro-batch (right-padded to the longest). */
export function mergePolicyBatches(batches: readonly PolicyBatch[]): PolicyBatch {
  const sequenceLength = Math.max(...batches.map((batch) => batch.sequenceLength));
  const batchSize = batches.reduce((total, batch) => total + batch.batchSize, 0);
  const count = batchSize * sequenceLength;
  const merged: PolicyBatch = {
    batchSize,
    sequenceLength,
    inputIds: new BigInt64Array(count),
    labels: new BigInt64Array(count),
    lossMask: new Float32Array(count),
    positionIds: new BigInt64Array(count),
    segmentIds: new BigInt64Array(count),
    advantages: new Float32Array(count),
    oldLogProbs: new Float32Array(count),
    referenceLogProbs: new Float32Array(count),
  };
  let row = 0;
  for (const batch of batches) {
    for (let source = 0; source < batch.batchSize; source += 1, row += 1) {
      const from = source * batch.sequenceLength;
      const to = row * sequenceLength;
      const length = batch.sequenceLength;
      merged.inputIds.set(batch.inputIds.subarray(from, from + length), to);
      merged.labels.set(batch.labels.subarray(from, from + length), to);
      merged.lossMask.set(batch.lossMask.subarray(from, from + length), to);
      merged.positionIds!.set(batch.positionIds!.subarray(from, from + length), to);
      merged.segmentIds!.set(batch.segmentIds!.subarray(from, from + length), to);
      merged.advantages.set(batch.advantages.subarray(from, from + length), to);
      merged.oldLogProbs.set(batch.oldLogProbs.subarray(from, from + length), to);
      merged.referenceLogProbs.set(batch.referenceLogProbs.subarray(from, from + length), to);
    }
  }
  return merged;
}
