// bench/train: SFT, DPO and GRPO steps on the ~9M shape of the engine benchmark
// (V8192 D256 L6 H4 F688, untied), 8 sequences × 256 tokens per optimizer step. Reports each
// trainer's tokens/s and its overhead over raw engine steps of the same work (data
// preparation, events, progress and checkpointing are the difference), the one-time DPO
// reference log-prob cost, and GRPO's generate / verify / train split; then GRPO with tools
// (calculator, python): the generate / tools / verify / train split of a tool-use step and the
// tools' share of it. One JSON line at the end.
//
//   pnpm bench:train
//   node dist/train/main.js --steps 8 --checkpoint-every 10
//   node dist/train/main.js --only grpo-tools
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createRunContext, Random, readEvents } from "@posttrain/core";
import * as dpo from "@posttrain/dpo";
import { CausalLmTrainer, DecoderModel, type LlamaConfigInput, parseLlamaConfig } from "@posttrain/engine";
import * as rlvr from "@posttrain/rlvr";
import * as sft from "@posttrain/sft";
import { loadTrainingModel } from "@posttrain/training";
import { machineDescription, peakRssMegabytes, printResultLine } from "../measure.js";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "8" },
    "checkpoint-every": { type: "string", default: "10" },
    threads: { type: "string", default: "2" },
    // Comma list of sections: sft, dpo, grpo, grpo-tools (default all).
    only: { type: "string", default: "sft,dpo,grpo,grpo-tools" },
  },
});
const sections = new Set(values.only.split(",").map((name) => name.trim()));
for (const name of sections)
  if (!["sft", "dpo", "grpo", "grpo-tools"].includes(name))
    throw new Error(`--only: unknown section ${name}`);
const measured = Number(values.steps);
const warmup = 2;
const checkpointEvery = Number(values["checkpoint-every"]);
const threads = Number(values.threads);

const modelConfig: LlamaConfigInput = {
  vocab_size: 8192,
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 6,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
};
const rows = 8;
const sequence = 256;
const random = Random.fromSeed(1).stream("bench-train");
const token = () => 3 + random.nextInt(8189);
const common = {
  seed: 1,
  learningRate: { peak: 1e-4, schedule: "linear" as const, warmup: { steps: 0 } },
  adamW: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  maxGradientNorm: 1,
  checkpointEverySteps: checkpointEvery,
  lossChunks: 4,
  threads,
};
const model = { kind: "initialize" as const, config: modelConfig, seed: 2 };
const directory = () => mkdtempSync(join(tmpdir(), "bench-train-"));
const contextAt = (path: string, stream: string) =>
  createRunContext({
    directory: path,
    seed: 1,
    streamName: stream,
    progressMode: "lines",
    stream: { write: () => true } as never,
  });

/** Mean seconds between consecutive `step-end` events after the warm-up (includes checkpoints). */
function stepIntervals(path: string): number[] {
  const ends = readEvents({ path: join(path, "events.jsonl") })
    .events.filter((event) => event.type === "step-end")
    .map((event) => event.elapsed);
  return ends.slice(warmup).map((time, index) => time - ends[warmup - 1 + index]!);
}
const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * In-run overhead: per measured step, (interval between step-end events − the engine calls'
 * own time in that step) / engine time. Immune to load drift between separate runs, which on a
 * shared machine swamps a comparison of two runs.
 */
function inRunOverheadPercent(
  path: string,
  engineSeconds: (seconds: Record<string, number>) => number,
): number {
  const ends = readEvents({ path: join(path, "events.jsonl") }).events.filter(
    (event) => event.type === "step-end",
  );
  const intervals = stepIntervals(path);
  const engine = ends.slice(warmup).map((event) => engineSeconds(event["seconds"] as Record<string, number>));
  return Number((100 * (mean(intervals) / mean(engine) - 1)).toFixed(2));
}

const tokensPerStep = rows * sequence;

// --- SFT: raw engine steps, then the trainer on the same shape ------------------------------
async function sftFigures() {
  const sftRows: sft.SftRow[] = Array.from({ length: rows * (warmup + measured) }, () => {
    const ids = Int32Array.from({ length: sequence + 1 }, token).subarray(0, sequence);
    return { inputIds: ids, labels: Int32Array.from(ids, (id, index) => (index < 32 ? -100 : id)) };
  });
  const llama = new DecoderModel(parseLlamaConfig(modelConfig), { threadInvariantGemms: false });
  const raw = await CausalLmTrainer.create({
    model: llama,
    seed: 2,
    threads,
    options: {
      schedule: { kind: "constant", peak: 1e-4, totalSteps: 100 },
      reduction: "sum",
      lossChunks: 4,
      maxGradientNorm: 1,
    },
  });
  const rawSeconds: number[] = [];
  for (let step = 0; step < warmup + measured; step += 1) {
    const batch = sft.tokenBatchOf(sftRows.slice(step * rows, (step + 1) * rows));
    const started = performance.now();
    await raw.trainStep({ microBatches: [batch] });
    if (step >= warmup) rawSeconds.push((performance.now() - started) / 1000);
  }
  const rawStep = mean(rawSeconds);
  const sftDirectory = directory();
  await sft.train({
    config: {
      ...common,
      batch: { devices: 1, perDeviceBatchSize: rows, gradientAccumulationSteps: 1 },
      reduction: "sum",
      duration: { steps: warmup + measured },
      evaluation: null,
    },
    model,
    data: { train: sftRows },
    context: contextAt(sftDirectory, "sft"),
  });
  const sftStep = mean(stepIntervals(sftDirectory));
  const sftInRun = inRunOverheadPercent(
    sftDirectory,
    (seconds) => seconds["forwardBackward"]! + seconds["optimizer"]!,
  );
  rmSync(sftDirectory, { recursive: true, force: true });
  return {
    rawEngineTokensPerSecond: Math.round(tokensPerStep / rawStep),
    trainerTokensPerSecond: Math.round(tokensPerStep / sftStep),
    overheadPercent: sftInRun,
    overheadVersusSeparateRawRunPercent: Number((100 * (sftStep / rawStep - 1)).toFixed(1)),
  };
}

// --- DPO: raw PreferenceTrainer steps, then the trainer (4 pairs = 8 sequences of 256) ------
async function dpoFigures() {
  const pairs = rows / 2;
  const preferenceRows: dpo.PreferenceRow[] = Array.from({ length: pairs * (warmup + measured) }, () => ({
    promptIds: Int32Array.from({ length: 64 }, token),
    chosenIds: Int32Array.from({ length: 192 }, token),
    rejectedIds: Int32Array.from({ length: 192 }, token),
  }));
  const lossConfig = { type: "dpo_norm" as const, beta: 5, labelSmoothing: 0, gammaBetaRatio: 0.3 };
  const loaded = await loadTrainingModel({ source: model });
  const rawDpo = await dpo.PreferenceTrainer.create({
    model: loaded.model,
    loss: lossConfig,
    lossChunks: 4,
    threads,
    adamW: common.adamW,
    initialParameters: loaded.parameters,
  });
  const rawDpoSeconds: number[] = [];
  const referenceStarted = performance.now();
  const references = [];
  for (let step = 0; step < warmup + measured; step += 1) {
    const scores = await rawDpo.score({
      batch: dpo.pairBatchOf(preferenceRows.slice(step * pairs, (step + 1) * pairs)),
    });
    references.push({ chosen: scores.chosen, rejected: scores.rejected });
  }
  const referenceSeconds = (performance.now() - referenceStarted) / 1000;
  for (let step = 0; step < warmup + measured; step += 1) {
    const batch = dpo.pairBatchOf(preferenceRows.slice(step * pairs, (step + 1) * pairs));
    const started = performance.now();
    await rawDpo.accumulate({
      microBatches: [batch],
      references: [references[step]!],
      lossScales: [1 / pairs],
    });
    rawDpo.update({ schedule: { kind: "constant", peak: 1e-4, totalSteps: 100 }, maxGradientNorm: 1 });
    if (step >= warmup) rawDpoSeconds.push((performance.now() - started) / 1000);
  }
  const rawDpoStep = mean(rawDpoSeconds);
  const dpoDirectory = directory();
  await dpo.train({
    config: {
      ...common,
      batch: { devices: 1, perDeviceBatchSize: pairs, gradientAccumulationSteps: 1 },
      loss: lossConfig,
      duration: { steps: warmup + measured },
      evaluation: null,
      referenceCacheDirectory: join(dpoDirectory, "reference-cache"),
    },
    model,
    data: { train: preferenceRows },
    context: contextAt(dpoDirectory, "dpo"),
  });
  const dpoStep = mean(stepIntervals(dpoDirectory));
  const dpoInRun = inRunOverheadPercent(
    dpoDirectory,
    (seconds) => seconds["forwardBackward"]! + seconds["optimizer"]!,
  );
  rmSync(dpoDirectory, { recursive: true, force: true });
  return {
    rawEngineTokensPerSecond: Math.round(tokensPerStep / rawDpoStep),
    trainerTokensPerSecond: Math.round(tokensPerStep / dpoStep),
    overheadPercent: dpoInRun,
    overheadVersusSeparateRawRunPercent: Number((100 * (dpoStep / rawDpoStep - 1)).toFixed(1)),
    referenceLogProbsSecondsPerStepOfData: Number((referenceSeconds / (warmup + measured)).toFixed(3)),
  };
}

// --- GRPO: 4 prompts × 4 samples (64-token prompts, up to 64 new tokens), gsm8k rewards -----
async function grpoFigures() {
  const syntheticTokenizer = {
    encode: (text: string) => text.split(" ").filter(Boolean).map(Number),
    decode: (ids: readonly number[]) => ids.map(String).join(" "),
    eosTokenIds: [2],
    applyChatTemplate: () => "",
  };
  const rlvrRows: rlvr.RlvrRow[] = Array.from({ length: 4 * (warmup + measured) }, () => ({
    promptIds: Int32Array.from({ length: 64 }, token),
    groundTruth: ["42"],
    dataset: ["gsm8k"],
  }));
  const rlvrDirectory = directory();
  await rlvr.train({
    config: {
      ...common,
      batch: { devices: 1, perDeviceBatchSize: 8, gradientAccumulationSteps: 2 },
      steps: warmup + measured,
      rollouts: { promptsPerStep: 4, samplesPerPrompt: 4, temperature: 1, maxNewTokens: 64 },
      rewards: { verificationReward: 10, format: null, nonStopPenalty: null },
      advantages: "centered",
      filterZeroVarianceGroups: false,
      maskTruncatedCompletions: false,
      kl: { beta: 0.01, estimator: "k3" },
      clip: { low: 0.2, high: 0.28 },
      epochs: 1,
      monitor: null,
      verifierWorkers: 0,
      verifierTimeoutMilliseconds: 5000,
    },
    model,
    data: { train: rlvrRows },
    context: contextAt(rlvrDirectory, "rlvr"),
    tokenizer: syntheticTokenizer,
  });
  const grpoEvents = readEvents({ path: join(rlvrDirectory, "events.jsonl") })
    .events.filter((event) => event.type === "step-end")
    .slice(warmup);
  const split = (key: "generate" | "verify" | "train") =>
    mean(grpoEvents.map((event) => (event["seconds"] as Record<string, number>)[key]!));
  const grpoStep = mean(stepIntervals(rlvrDirectory));
  const grpoInRun = inRunOverheadPercent(
    rlvrDirectory,
    (seconds) => seconds["generate"]! + seconds["verify"]! + seconds["train"]!,
  );
  const grpoTokens = mean(grpoEvents.map((event) => (event["responseLength"] as number) * 16 + 64 * 16));
  rmSync(rlvrDirectory, { recursive: true, force: true });
  return {
    stepSeconds: Number(grpoStep.toFixed(3)),
    tokensPerSecond: Math.round(grpoTokens / grpoStep),
    split: {
      generate: Number(split("generate").toFixed(3)),
      verify: Number(split("verify").toFixed(4)),
      train: Number(split("train").toFixed(3)),
    },
    overheadPercent: grpoInRun,
  };
}

// --- GRPO with tools: the same step shape, each rollout a multi-turn tool conversation --------
/**
 * A character tokenizer over the 8192-token vocabulary (id = code point + 3): tool calls and
 * their wrapped output are text the driver must parse and tokenize.
 */
const characterTokenizer = {
  encode: (text: string) => [...text].map((character) => Math.min(8191, character.codePointAt(0)! + 3)),
  decode: (ids: readonly number[], options?: { skipSpecialTokens?: boolean }) =>
    ids
      .filter((id) => options?.skipSpecialTokens !== true || id > 2)
      .map((id) => (id < 3 ? "" : String.fromCodePoint(id - 3)))
      .join(""),
  eosTokenIds: [2],
  applyChatTemplate: () => "",
};
type GeneratorFactory = NonNullable<rlvr.TrainParams["createConversationGenerator"]>;

/**
 * A random-weight model does not write tool calls, so each rollout's first turn is a forced
 * call: the call's tokens are appended after the prompt (run through the model on the
 * conversation's KV cache like any appended tokens) and one token is sampled; the driver then
 * parses the call, runs the tool, appends its output and every later turn is sampled
 * (`maxNewTokens` each). So generation, tool calls (in parallel, bounded) and optimisation are
 * all real; only the first turn's text is scripted.
 */
function forcedCallGenerators(call: string): GeneratorFactory {
  let embedded: ReturnType<typeof rlvr.createEmbeddedConversationGenerators> | undefined;
  return async (params) => {
    embedded ??= rlvr.createEmbeddedConversationGenerators({
      policy: params.policy,
      tokenizer: params.tokenizer,
      threads: params.threads,
    });
    const generator = await embedded(params);
    const callIds = characterTokenizer.encode(call);
    const started = new Set<number>();
    return {
      release: (request) => generator.release(request),
      async generateTurns(request) {
        const fresh = request.requests.filter((turn) => !started.has(turn.id));
        for (const turn of fresh) started.add(turn.id);
        const turns = await generator.generateTurns({
          ...request,
          requests: request.requests.map((turn) =>
            started.has(turn.id) && fresh.includes(turn)
              ? { ...turn, appendTokenIds: [...turn.appendTokenIds, ...callIds], maxNewTokens: 1, stop: [] }
              : turn,
          ),
        });
        return turns.map((turn) => {
          if (!fresh.some((first) => first.id === turn.id)) return turn;
          const tokenIds = [...callIds, ...turn.tokenIds];
          return {
            ...turn,
            tokenIds,
            modelLogProbs: [...callIds.map(() => 0), ...turn.modelLogProbs],
            samplingLogProbs: [...callIds.map(() => 0), ...turn.samplingLogProbs],
            text: `${call}${turn.text}`,
            finishReason: "stop" as const,
          };
        });
      },
    };
  };
}

async function grpoToolFigures(params: { tool: "calculator" | "python" }) {
  const call =
    params.tool === "calculator"
      ? "<calculator>123456789*987654321+2^64</calculator>"
      : "<python>print(sum(i*i for i in range(10**5)))</python>";
  const toolRows: rlvr.RlvrRow[] = Array.from({ length: 4 * (warmup + measured) }, () => ({
    promptIds: Int32Array.from({ length: 64 }, token),
    groundTruth: ["42"],
    dataset: ["gsm8k"],
  }));
  const runDirectory = directory();
  await rlvr.train({
    config: {
      ...common,
      batch: { devices: 1, perDeviceBatchSize: 8, gradientAccumulationSteps: 2 },
      steps: warmup + measured,
      rollouts: { promptsPerStep: 4, samplesPerPrompt: 4, temperature: 1, maxNewTokens: 32 },
      rewards: { verificationReward: 10, format: null, nonStopPenalty: null },
      advantages: "centered",
      filterZeroVarianceGroups: false,
      maskTruncatedCompletions: false,
      kl: { beta: 0.01, estimator: "k3" },
      clip: { low: 0.2, high: 0.28 },
      epochs: 1,
      monitor: null,
      verifierWorkers: 0,
      verifierTimeoutMilliseconds: 5000,
      tools: { allow: [params.tool], maxToolCalls: 2, maxTotalTokens: 192, concurrency: 4 },
    },
    model,
    data: { train: toolRows },
    context: contextAt(runDirectory, "rlvr-tools"),
    tokenizer: characterTokenizer,
    createConversationGenerator: forcedCallGenerators(call),
  });
  const events = readEvents({ path: join(runDirectory, "events.jsonl") })
    .events.filter((event) => event.type === "step-end")
    .slice(warmup);
  const seconds = (key: "generate" | "tools" | "verify" | "train") =>
    mean(events.map((event) => (event["seconds"] as Record<string, number>)[key] ?? 0));
  const step = mean(stepIntervals(runDirectory));
  const total = seconds("generate") + seconds("tools") + seconds("verify") + seconds("train");
  rmSync(runDirectory, { recursive: true, force: true });
  return {
    call,
    stepSeconds: Number(step.toFixed(3)),
    split: {
      generate: Number(seconds("generate").toFixed(3)),
      tools: Number(seconds("tools").toFixed(4)),
      verify: Number(seconds("verify").toFixed(4)),
      train: Number(seconds("train").toFixed(3)),
    },
    /** Time in tool calls / (generate + tools + verify + train) of a step. */
    toolShareOfStep: Number((seconds("tools") / total).toFixed(4)),
    toolCallsPerRollout: mean(events.map((event) => event["toolCallsPerRollout"] as number)),
    toolErrorRate: mean(events.map((event) => event["toolErrorRate"] as number)),
    responseLength: mean(events.map((event) => event["responseLength"] as number)),
  };
}

const loadAverage = (await import("node:os")).loadavg()[0]!;
const figures = {
  loadAverage: Number(loadAverage.toFixed(1)),
  benchmark: "train",
  machine: machineDescription(),
  shape: "V8192 D256 L6 H4 F688 untied, 8×256 tokens per step",
  threads,
  measuredSteps: measured,
  checkpointEverySteps: checkpointEvery,
  ...(sections.has("sft") ? { sft: await sftFigures() } : {}),
  ...(sections.has("dpo") ? { dpo: await dpoFigures() } : {}),
  ...(sections.has("grpo") ? { grpo: await grpoFigures() } : {}),
  ...(sections.has("grpo-tools")
    ? {
        grpoTools: {
          calculator: await grpoToolFigures({ tool: "calculator" }),
          python: await grpoToolFigures({ tool: "python" }),
        },
      }
    : {}),
  peakRssMegabytes: peakRssMegabytes(),
};
printResultLine(figures);
